"""The inventory's unit facts against a maintained public source of Vietnam's divisions.

`vietnam-provinces` (PyPI, built from the General Statistics Office's list after the July 2025 reform)
names Son La's 75 commune-level units with their codes. The shipped inventory took the same facts from
Resolution 1681/NQ-UBTVQH15 and Decision 19/2025/QD-TTg; this test catches drift in either direction:
a renamed unit, a typo in a diacritic, a code that changed, a unit missing or added.
"""

from __future__ import annotations

import json
from importlib.resources import files

from netmon.inventory import load
from tests.support import ROOT

#: Where the reference disagrees with Decision 19/2025/QD-TTg, the decision wins: code → (ours, theirs).
#: Chiềng An ward (merged from Phường Chiềng An, Xã Chiềng Xôm and Xã Chiềng Đen) took 03664, Chiềng
#: Xôm's old code, in the decision's list ("03664 Phường Chiềng An"); vietnam-provinces 2025.10.1 keeps
#: 03667, the old Phường Chiềng An's. Asserted below, so a fixed reference tells us to drop the entry.
KNOWN_REFERENCE_ERRORS = {("03664", "03667"): ("ward", "Chiềng An")}

#: The prefix the reference puts before a unit's proper name, by the inventory's kind.
KIND_PREFIX = {"ward": "Phường", "commune": "Xã"}


def _reference_units() -> dict[str, tuple[str, str]]:
    """admin code (5 digits) → (kind, proper name) of every Son La unit in the reference."""
    nested = json.loads(files("vietnam_provinces").joinpath("data/nested-divisions.json").read_text("utf-8"))
    (son_la,) = [p for p in nested if p["codename"] == "son_la"]
    units = {}
    for ward in son_la["wards"]:
        kind = {"phường": "ward", "xã": "commune"}[ward["division_type"]]
        prefix = KIND_PREFIX[kind] + " "
        assert ward["name"].startswith(prefix), ward
        units[f"{ward['code']:05d}"] = (kind, ward["name"].removeprefix(prefix))
    return units


def test_the_75_units_match_the_reference() -> None:
    reference = _reference_units()
    inventory = load(ROOT / "config" / "communes.yaml")
    ours = {site.admin_code: (site.kind, site.name) for site in inventory.sites}
    assert len(reference) == 75
    for (our_code, their_code), unit in KNOWN_REFERENCE_ERRORS.items():
        assert ours.get(our_code) == unit and reference.pop(their_code) == unit, "drop the fixed entry"
        reference[our_code] = unit
    missing = sorted(set(reference) - set(ours))
    extra = sorted(set(ours) - set(reference))
    differ = {code: (ours[code], reference[code]) for code in set(ours) & set(reference)
              if ours[code] != reference[code]}
    assert (missing, extra, differ) == ([], [], {})
