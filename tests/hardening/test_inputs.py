"""Inputs that used to give a wrong answer without a word: ambiguous site names, credentials in URLs."""

from __future__ import annotations

import pytest
import yaml

from netmon.diagnose.lookup import AmbiguousPlace, find
from netmon.inventory.model import InventoryFile
from tests.support import ROOT


@pytest.fixture(scope="module")
def twins() -> InventoryFile:
    """The shipped inventory plus a "Mường Bu" next to the real "Mường Bú" (they fold to one key)."""
    raw = yaml.safe_load((ROOT / "config" / "communes.yaml").read_text())
    original = next(s for s in raw["sites"] if s["slug"] == "muong-bu")
    raw["sites"].append({**original, "slug": "muong-bu-2", "name": "Mường Bu", "admin_code": "99999"})
    return InventoryFile.model_validate(raw)


@pytest.mark.parametrize(("query", "slug"), [("Mường Bú", "muong-bu"), ("Mường Bu", "muong-bu-2"),
                                             ("muong-bu-2", "muong-bu-2"), ("muong-bu", "muong-bu")])
def test_an_exact_name_with_diacritics_or_a_slug_wins(twins: InventoryFile, query: str, slug: str) -> None:
    assert find(twins, query).slug == slug


def test_a_folded_name_matching_two_places_is_an_error_listing_both(twins: InventoryFile) -> None:
    with pytest.raises(AmbiguousPlace) as caught:
        find(twins, "muong bu")
    assert caught.value.exit_code == 3
    assert caught.value.choices == ["Mường Bú (muong-bu)", "Mường Bu (muong-bu-2)"]
    assert "Mường Bú (muong-bu); Mường Bu (muong-bu-2)" in str(caught.value)
