"""Big inventories are loaded in a child process (`netmon.inventory.isolated`): the service must get
exactly what loading in process gives, every configuration error included."""

from __future__ import annotations

import pytest

from netmon.inventory import ConfigError, load
from netmon.inventory.isolated import load_compact
from tests.support import ROOT

SHIPPED = ROOT / "config" / "communes.yaml"
BROKEN = ROOT / "tests" / "fixtures" / "inventory" / "broken-every-stage.yaml"


def test_a_child_loads_the_same_inventory() -> None:
    assert load_compact(SHIPPED, min_bytes=0) == load(SHIPPED)


def test_a_childs_config_errors_are_the_same_every_one() -> None:
    with pytest.raises(ConfigError) as in_process:
        load(BROKEN)
    with pytest.raises(ConfigError) as child:
        load_compact(BROKEN, min_bytes=0)
    assert len(child.value.issues) > 1
    assert child.value.issues == in_process.value.issues
    assert str(child.value) == str(in_process.value)
