"""Loading a big inventory in a child process, so the long-running service keeps only the result.

Parsing and validating a national inventory allocates several times what the finished `Inventory`
holds (the YAML node tree with its marks, pydantic's intermediate dicts). Freed, that left the
service's heap full of holes that the allocator cannot hand back: after loading 50,000 checks in
process, `netmon run` held ~14 KB per check before it had run one, twice what the inventory itself
occupies (bench/README.md, Scale). A child loads the file and pickles the `Inventory`; the service
unpickles it into compact memory. The child is a fresh interpreter, not a fork: the service has
threads (HTTP, history writer), and a fork copies their locks in whatever state they are.

Small files load in process: below `MIN_BYTES` the holes are a few MB, less than the child's own
start-up costs in time (about a second of imports).
"""

from __future__ import annotations

import gc
import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path

from pydantic import BaseModel

from netmon.inventory.loader import Inventory, load

#: Regular files at least this big are loaded in a child (~4,000 checks in the bench's inventory).
MIN_BYTES = 1 << 20


def load_compact(path: str | Path, min_bytes: int = MIN_BYTES) -> Inventory:
    """`load` ``path``, in a child process when it is a regular file of ``min_bytes`` or more.

    Raises what `load` raises (`netmon.inventory.ConfigError` with every issue); a child that dies
    without an answer is a `RuntimeError` (its own error output goes where the service's goes).
    """
    try:
        info = os.stat(path)
    except OSError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode) or info.st_size < min_bytes:
        return load(path)  # also every error about the path itself, worded as always
    child = subprocess.run([sys.executable, "-m", __name__, str(path)], stdout=subprocess.PIPE, check=False)
    try:
        with _no_gc():
            ok, value = pickle.loads(child.stdout)
    except Exception:  # no answer: the child died (killed, out of memory) before writing one
        raise RuntimeError(f"loading {path} in a child process failed with exit status {child.returncode} "
                           "and no answer (its error output, if any, is just above)") from None
    if not ok:
        raise value
    assert isinstance(value, Inventory)
    return value


class _no_gc:
    """Cyclic collection paused: creating ~15 objects a check, none of them garbage, set off full
    collections that walked all of them again and again (50,000 checks: unpickling 2.7 s → 0.7 s,
    loading 15 s → 5 s). Restores the previous state, whoever set it."""

    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was:
            gc.enable()


def share_fields_sets(root: BaseModel) -> None:
    """Make the frozen models under ``root`` with the same fields set share one set object.

    pydantic gives every model its own ``__pydantic_fields_set__``: a set of 5-9 names costs 472-728
    bytes, 1.4 KB a check in the bench's inventory (two links, two checks and a location per site)
    for 12 distinct sets (issue 16, RSS per check). Frozen models never add to theirs, a copy gets
    its own (`BaseModel.__copy__`), and pickle keeps the sharing: the service unpickles 12 sets.
    """
    shared: dict[frozenset[str], set[str]] = {}
    stack: list[object] = [root]
    while stack:
        item = stack.pop()
        if isinstance(item, BaseModel):
            if item.model_config.get("frozen"):
                fields = item.__pydantic_fields_set__
                one = shared.setdefault(frozenset(fields), fields)
                object.__setattr__(item, "__pydantic_fields_set__", one)
            stack.extend(item.__dict__.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())


def _main(path: str) -> None:
    gc.disable()  # a short-lived process: see `_no_gc`
    try:
        inventory = load(path)
        share_fields_sets(inventory.spec)
        answer: tuple[bool, object] = (True, inventory)
    except Exception as exc:  # handed to the parent, which raises it
        answer = (False, exc)
    sys.stdout.buffer.write(pickle.dumps(answer, pickle.HIGHEST_PROTOCOL))


if __name__ == "__main__":
    _main(sys.argv[1])
