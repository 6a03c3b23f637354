"""Set aside what failed the schema, so the rest of the file can be checked in the same run.

The README promises every error at once, yet whole-file rules (references, probe options, timeouts)
need a file that parsed. So each part the schema rejected is set aside: the outermost list item that
holds the error (a site, a hub, a service, a data-center check) is left out; a mapping entry is
dropped so its default applies (``defaults.interval``) or so the mapping goes without it
(``defaults.link_types.fiber``); a required field of a required section that cannot go (the data
center's address, ``defaults.link_types`` itself) gets a stand-in. The whole-file rules then run on
what is left, and their issues are mapped back to the file's own indices and lines — except the issues
that could be artefacts of what was set aside: any under a set-aside path, any quoting a set-aside
name or stand-in, and timeouts when the default interval or timeout was set aside.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from netmon.inventory.model import InventoryFile
from netmon.inventory.source import ConfigIssue, Document, PathKey, dotted

#: Values that satisfy the schema for a required field that cannot simply be left out. The address is
#: TEST-NET-1 (RFC 5737): documentation only; nothing is ever sent while validating.
_DATACENTER = {"slug": "set-aside-datacenter", "name": "set-aside", "address": "192.0.2.1",
               "location": {"lat": 21.3, "lon": 103.9}}
_STAND_INS: dict[PathKey, Any] = {
    ("version",): 1,
    ("defaults",): {"link_types": {}},
    ("defaults", "link_types"): {},
    ("datacenter",): _DATACENTER,
    **{("datacenter", key): value for key, value in _DATACENTER.items()},
}
#: A set-aside path → the issues computed from it, by the end of their path.
_DERIVED = {("defaults", "interval"): ".timeout", ("defaults", "timeout"): ".timeout"}
#: How many rounds of setting aside before giving up (each round settles at least one error).
_ROUNDS = 50


@dataclass
class SetAside:
    """A sound copy of a file that failed the schema, and how to map issues found in it back."""

    doc: Document
    spec: InventoryFile
    #: List path → indices (in the file) of the items left out.
    items: dict[PathKey, list[int]] = field(default_factory=dict)
    #: Paths of mapping entries left out or replaced by a stand-in.
    paths: list[PathKey] = field(default_factory=list)
    #: Names (slugs, ids, mapping keys) of what was left out: an issue quoting one is about it.
    names: set[str] = field(default_factory=set)
    #: Stand-in values: an issue mentioning one is an artefact.
    stand_ins: set[str] = field(default_factory=set)

    def restore(self, issues: Sequence[ConfigIssue]) -> list[ConfigIssue]:
        """The issues that stand on their own, with the file's indices."""
        kept = []
        for issue in issues:
            path = self._original(issue.path)
            if any(_under(path, dotted(p)) for p in self.paths):
                continue
            if any(f"'{name}'" in issue.message for name in self.names):
                continue
            if any(value in issue.message for value in self.stand_ins):
                continue
            if any(p in self.paths and path.endswith(end) for p, end in _DERIVED.items()):
                continue
            kept.append(dataclasses.replace(issue, path=path))
        return kept

    def _original(self, path: str) -> str:
        for lst, removed in self.items.items():
            match = re.match(rf"^{re.escape(dotted(lst))}\[(\d+)\]", path)
            if match:
                index = _kept(removed)(int(match.group(1)))
                path = f"{dotted(lst)}[{index}]{path[match.end():]}"
        return path


def make_sound(doc: Document, exc: ValidationError) -> SetAside | None:
    """A sound copy of ``doc`` with every part ``exc`` (the schema's errors) names set aside, or None
    when the file is not a mapping or what failed cannot be set aside."""
    if not isinstance(doc.data, dict):
        return None
    data = copy.deepcopy(doc.data)
    aside = SetAside(doc, InventoryFile.model_construct())
    errors = exc.errors()
    for _ in range(_ROUNDS):
        # Every error of a round points into the same state of the data: list items go last to first
        # (an earlier index stays valid), each item once however many errors it holds.
        items = {(loc[:i], int(loc[i])) for err in errors
                 if (i := _first_index(loc := tuple(err["loc"]))) is not None}
        for lst, index in sorted(items, key=lambda item: -item[1]):
            _leave_out(data, lst, index, aside)
        for err in errors:
            loc = tuple(err["loc"])
            if _first_index(loc) is None and not _take(data, loc, err["type"], aside):
                return None
        try:
            aside.spec = InventoryFile.model_validate(data)
            break
        except ValidationError as again:
            errors = again.errors()
    else:
        return None
    aside.doc = Document(doc.file, data, _renumbered(doc.lines, aside.items))
    return aside


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((f"{prefix}.", f"{prefix}["))


def _first_index(loc: PathKey) -> int | None:
    return next((i for i, part in enumerate(loc) if isinstance(part, int)), None)


def _leave_out(data: Any, lst: PathKey, index: int, aside: SetAside) -> None:
    """Leave out the outermost list item holding an error: a site, a hub, a service, a check."""
    container = _get(data, lst)
    if not isinstance(container, list) or index >= len(container):
        return
    removed = aside.items.setdefault(lst, [])
    removed.append(_kept(removed)(index))
    removed.sort()
    entry = container.pop(index)
    if isinstance(entry, dict):
        aside.names |= {str(entry[k]) for k in ("slug", "id") if entry.get(k) is not None}


def _take(data: Any, loc: PathKey, kind: str, aside: SetAside) -> bool:
    """Set aside the mapping entry the error at ``loc`` is in; False when nothing can be."""
    if loc in _STAND_INS:
        parent = _get(data, loc[:-1])
        if not isinstance(parent, dict):
            return False
        parent[loc[-1]] = copy.deepcopy(_STAND_INS[loc])
        aside.paths.append(loc)
        aside.stand_ins |= {v for v in _leaves(_STAND_INS[loc]) if isinstance(v, str)}
        return True
    parent = _get(data, loc[:-1])
    if kind == "missing" or not isinstance(parent, dict) or loc[-1] not in parent:
        # a required field: the mapping that lacks it cannot stand without it
        return len(loc) > 1 and _take(data, loc[:-1], "removed", aside)
    del parent[loc[-1]]
    aside.paths.append(loc)
    aside.names.add(str(loc[-1]))
    return True


def _get(data: Any, path: PathKey) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _kept(removed: list[int]) -> Any:
    """Index in the list after ``removed`` were taken out → index in the file."""
    def original(index: int) -> int:
        for r in removed:
            if r <= index:
                index += 1
        return index
    return original


def _renumbered(lines: dict[PathKey, int], items: dict[PathKey, list[int]]) -> dict[PathKey, int]:
    """The file's line index re-keyed to the shortened lists (lines of left-out items are dropped)."""
    out = {}
    for key, line in lines.items():
        for lst, removed in items.items():
            n = len(lst)
            if len(key) > n and key[:n] == lst and isinstance(index := key[n], int):
                if index in removed:
                    break
                key = (*lst, index - sum(1 for r in removed if r < index), *key[n + 1:])
        else:
            out[key] = line
    return out


def _leaves(value: Any) -> list[Any]:
    return [v for x in value.values() for v in _leaves(x)] if isinstance(value, dict) else [value]
