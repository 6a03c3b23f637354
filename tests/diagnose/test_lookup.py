"""Finding a site the way a technician types it, against the shipped inventory of 75 units."""

from __future__ import annotations

import pytest
import yaml

from netmon.diagnose.lookup import UnknownPlace, find, fold
from netmon.inventory.model import InventoryFile
from tests.diagnose.conftest import netmon
from tests.support import ROOT


@pytest.fixture(scope="module")
def spec() -> InventoryFile:
    return InventoryFile.model_validate(yaml.safe_load((ROOT / "config" / "communes.yaml").read_text()))


@pytest.mark.parametrize("query", ["chieng-mung", "Chiềng Mung", "chieng mung", "CHIENG MUNG", "04123"])
def test_slug_name_without_diacritics_and_admin_code_all_find_chieng_mung(spec: InventoryFile,
                                                                        query: str) -> None:
    assert find(spec, query).slug == "chieng-mung"


def test_hub_by_id_and_by_name(spec: InventoryFile) -> None:
    assert find(spec, "hub-mai-son").hub is not None
    assert find(spec, "Tram tap trung VNPT Mai Son").slug == "hub-mai-son"


def test_typo_suggests_the_closest_names_first(spec: InventoryFile) -> None:
    with pytest.raises(UnknownPlace) as caught:
        find(spec, "chieng mug")
    assert caught.value.suggestions[0] == "Chiềng Mung (chieng-mung)"
    assert caught.value.exit_code == 3
    assert "did you mean: Chiềng Mung (chieng-mung)" in str(caught.value)


def test_nonsense_gets_no_suggestions(spec: InventoryFile) -> None:
    with pytest.raises(UnknownPlace) as caught:
        find(spec, "zzzzqqqq")
    assert caught.value.suggestions == []


def test_fold_handles_d_with_stroke_and_separators() -> None:
    assert fold("Đông  Phong") == "dong phong"
    assert fold("muong-la_x") == "muong la x"


@pytest.mark.parametrize("command", ["ping", "trace"])
@pytest.mark.parametrize(("language", "said"), [
    ("en", ["no site or hub called 'chieng-ann'; did you mean: Chiềng An (chieng-an)",
            "`netmon probe SITE` runs every check of a site"]),
    ("vi", ["không có điểm hay trạm nào tên 'chieng-ann'; có phải: Chiềng An (chieng-an)",
            "`netmon probe SITE` chạy mọi kiểm tra của một điểm"]),
])
def test_ping_of_a_mistyped_site_suggests_the_closest_and_netmon_probe(
        capsys: pytest.CaptureFixture[str], language: str, said: list[str], command: str) -> None:
    """`netmon ping`/`trace` take a site as `netmon probe` does; a bare word naming no place is a usage error
    with suggestions, never a DNS query (it was one, answered 'cannot resolve the name')."""
    code, out, err = netmon(capsys, command, "chieng-ann", "--config", str(ROOT / "config" / "communes.yaml"),
                            "--lang", language)
    assert code == 3 and out == "", out
    assert all(s in err for s in said), err
