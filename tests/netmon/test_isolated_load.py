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


def test_a_childs_models_share_their_fields_sets() -> None:
    """pydantic's per-model fields set was 1.4 KB a check (issue 16): the inventory a child hands
    over holds one set object per distinct set of fields."""
    spec = load_compact(SHIPPED, min_bytes=0).spec
    models = [spec, *spec.sites, *(link for site in spec.sites for link in site.links),
              *(check for site in spec.sites for check in site.checks)]
    contents = {frozenset(m.__pydantic_fields_set__) for m in models}
    assert len({id(m.__pydantic_fields_set__) for m in models}) == len(contents) < len(models) / 10
