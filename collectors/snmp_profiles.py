"""SNMP profiles as data: one YAML file per profile in ``collectors/profiles/``.

A profile names the numeric OIDs it needs and how each value becomes a measurement, so adding a
profile is adding a data file and a test, never code. Two shapes exist:

- ``scalars``: single instances (``sysUpTime.0``); fetched with the first request of a poll.
- ``tables``: columns walked together in one multi-column GETBULK loop; a row's index and other
  columns become labels (``ifname``), rows can be filtered (``where``) and folded (``aggregate``,
  ``ratios``) when a table stands for one value (CPU load over all processors).

Only the columns a profile names are walked, never whole subtrees: that is the main lever on poll
cost (pysnmp spends its time decoding varbinds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml

from probes.errors import NetmonError
from probes.schema import STRICT, After

PROFILE_DIR = Path(__file__).with_name("profiles")


def _oid(value: str) -> str:
    parts = value.strip(".").split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{value!r} is not a numeric OID such as 1.3.6.1.2.1.1.3.0")
    return ".".join(parts)


Oid = Annotated[str, After(_oid)]


@dataclasses.dataclass(frozen=True, slots=True)
class Value:
    """How one OID becomes one measurement value.

    ``equals`` turns an enumeration into 1/0 (ifOperStatus up(1) → 1); otherwise the number (or a
    numeric string, as Teltonika's DisplayString RSRP) is multiplied by ``scale`` to reach base units.
    """

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT

    metric: str
    oid: Oid
    scale: float = 1.0
    equals: int | None = None
    #: Folds a table column into one unlabelled value (tables only).
    aggregate: Literal["mean", "sum", "max"] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Where:
    """Keep only the rows whose ``oid`` column equals ``equals`` (an integer or an OID value)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT

    oid: Oid
    equals: str


@dataclasses.dataclass(frozen=True, slots=True)
class Ratio:
    """``sum(numerator × unit) / sum(denominator × unit)`` over the kept rows (memory used / size)."""

    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT

    metric: str
    numerator: Oid
    denominator: Oid
    unit: Oid | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Table:
    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT

    #: label name → column OIDs whose first non-empty value labels each row (ifname → ifName, then
    #: ifDescr); with none, the row index. Rows must stay distinguishable: see `collectors.snmp`.
    labels: dict[str, list[Oid]] = dataclasses.field(default_factory=dict)
    #: Label carrying the row index itself (``line`` for upsInputTable).
    index_label: str | None = None
    where: Where | None = None
    values: list[Value] = dataclasses.field(default_factory=list)
    ratios: list[Ratio] = dataclasses.field(default_factory=list)

    def columns(self) -> tuple[str, ...]:
        """Every column this table needs, in a stable order, without duplicates."""
        wanted = [*(oid for oids in self.labels.values() for oid in oids), *(v.oid for v in self.values)]
        if self.where:
            wanted.append(self.where.oid)
        for r in self.ratios:
            wanted += [r.numerator, r.denominator, *([r.unit] if r.unit else [])]
        return tuple(dict.fromkeys(wanted))


@dataclasses.dataclass(frozen=True, slots=True)
class Profile:
    __pydantic_config__: ClassVar[dict[str, Any]] = STRICT

    name: str
    description: str
    #: Where the OIDs come from (module name and RFC or vendor), so a reader can check them.
    mib: str
    scalars: list[Value] = dataclasses.field(default_factory=list)
    #: label name → scalar OID for the device info metric (sysname → sysName.0).
    info: dict[str, Oid] = dataclasses.field(default_factory=dict)
    tables: list[Table] = dataclasses.field(default_factory=list)

    def scalar_oids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*(v.oid for v in self.scalars), *self.info.values()]))


class ProfileError(NetmonError):
    """A profile file is missing or invalid; the message names the file and the field."""


def available() -> tuple[str, ...]:
    """Names of the shipped profiles (file stems)."""
    return tuple(sorted(p.stem for p in PROFILE_DIR.glob("*.yaml")))


#: Profiles loaded (or adopted) by this process, by name: they are static.
_LOADED: dict[str, Profile] = {}


def load(name: str) -> Profile:
    """The profile called ``name``; raises `ProfileError` naming the problem. Cached: profiles are static."""
    if name in _LOADED:
        return _LOADED[name]
    path = PROFILE_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ProfileError(f"unknown SNMP profile {name!r} (known: {', '.join(available())})")
    from pydantic import TypeAdapter, ValidationError  # on first load only: see `adopt`

    try:
        profile = TypeAdapter(Profile).validate_python(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProfileError(f"{path}: {where}: {first['msg']}") from None
    if profile.name != name:
        raise ProfileError(f"{path}: name {profile.name!r} does not match the file name")
    _LOADED[name] = profile
    return profile


def adopt(profiles: Iterable[Profile]) -> None:
    """Use ``profiles`` as loaded: they were validated by `load` in another process (the edge agent
    resolves its checks in a child), so this one needs no pydantic to poll with them."""
    _LOADED.update((p.name, p) for p in profiles)
