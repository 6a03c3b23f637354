"""Discovers probe and collector modules so that adding one is adding a file, nothing else.

Each module in `probes` and `collectors` registers itself with `probes.base.register` when imported.
"""

from __future__ import annotations

import importlib
import pkgutil

import collectors
import probes

_loaded = False


def load() -> None:
    """Import every module of the probe and collector packages once."""
    global _loaded
    if _loaded:
        return
    for package in (probes, collectors):
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package.__name__}.{info.name}")
    _loaded = True
