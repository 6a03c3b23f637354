"""Imports only go down (docs/architecture.md, DESIGN.md "Layers"): probes/ is the ground floor;
collectors/ and exporters/ stand on it side by side and never import each other; netmon/ is on top and
nothing below imports it. Every module's imports are read from its source — at the top, inside functions
and under ``TYPE_CHECKING`` alike — so a lazy import cannot hide a dependency.

The registry's discovery (`probes.base._discover` importing the plugin packages by name) is how probes
and collectors register themselves, not a dependency of the code that runs them; it is not an import
statement and is not read here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import pytest

from tests.support import ROOT

#: Package → the project packages its modules may import.
ALLOWED = {
    "probes": {"probes"},
    "collectors": {"probes", "collectors"},
    "exporters": {"probes", "exporters"},
    "netmon": {"probes", "collectors", "exporters", "netmon"},
}


def imports(source: str) -> Iterator[tuple[int, str]]:
    """(line, module) of every absolute import in ``source``; relative ones stay inside their package."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)


def violations(package: str, source: str) -> list[tuple[int, str]]:
    """The imports of a module of ``package`` that go up or sideways."""
    return [(line, module) for line, module in imports(source)
            if module.split(".")[0] in ALLOWED and module.split(".")[0] not in ALLOWED[package]]


def test_the_check_sees_a_sideways_import() -> None:
    lazy = "from probes.base import Result\n\ndef f():\n    from collectors import snmp\n    import netmon.cli\n"
    assert violations("exporters", lazy) == [(4, "collectors"), (5, "netmon.cli")]
    assert violations("netmon", lazy) == []


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_only_go_down(package: str) -> None:
    modules = sorted((ROOT / package).rglob("*.py"))
    assert len(modules) >= 5, "the scan is broken"
    wrong = [f"{path.relative_to(ROOT)}:{line}: imports {module}"
             for path in modules for line, module in violations(package, path.read_text(encoding="utf-8"))]
    assert not wrong, f"{package}/ may import only {sorted(ALLOWED[package])}: {wrong}"
