"""The committed dashboard JSON: fresh, well-formed for Grafana 11, and only using real series."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from netmon.dashboards import DASHBOARDS, load_all, stale
from netmon.dashboards.builder import DATASOURCE_UIDS, SCHEMA_VERSION
from netmon.dashboards.push import DEFAULT_FOLDER, folder_uid
from tests.dashboards.promql import contract, load_yaml, metric_names, panel_queries, variable_queries
from tests.support import ROOT

BOARDS = load_all(ROOT / "dashboards")
ENGLISH = load_all(ROOT / "dashboards", ("en",))
IDS = [b["uid"] for b in BOARDS]
PROVISIONING = ROOT / "config" / "grafana" / "provisioning"


def test_committed_json_is_what_the_code_builds() -> None:
    assert stale(ROOT / "dashboards") == [], "run `netmon dashboards build` and commit dashboards/"


def test_build_check_command_reports_a_stale_file(tmp_path) -> None:
    run = [sys.executable, "-m", "netmon.cli", "dashboards", "build", "--dir", str(tmp_path)]
    assert subprocess.run(run, cwd=ROOT, capture_output=True).returncode == 0
    (tmp_path / "site.json").write_text("{}")
    checked = subprocess.run([*run, "--check"], cwd=ROOT, capture_output=True, text=True)
    assert checked.returncode == 1
    assert "site.json: stale" in checked.stderr and "overview.json" not in checked.stderr


@pytest.mark.parametrize(("lang", "said"), [
    ("en", "netmon: cannot write {dir} (Not a directory); --dir names another output directory"),
    ("vi", "netmon: không ghi được {dir} (không phải thư mục); --dir chỉ định thư mục ghi khác")])
def test_build_where_it_cannot_write_is_one_line(tmp_path: Path, lang: str, said: str) -> None:
    """Run by a user other than the package's owner, the default dashboards/ cannot be written: that was a
    PermissionError traceback. Root may write anywhere, so here the directory sits under a plain file."""
    (tmp_path / "a-file").write_text("")
    target = tmp_path / "a-file" / "boards"
    done = subprocess.run([sys.executable, "-m", "netmon.cli", "dashboards", "build", "--dir", str(target),
                           "--lang", lang], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr.splitlines()) == (1, "", [said.format(dir=target)])


def test_five_dashboards_in_two_languages_with_unique_uids() -> None:
    assert len(BOARDS) == 2 * len(DASHBOARDS) == 10
    assert len(set(IDS)) == 10
    assert {uid for uid in IDS if uid.endswith("-vi")} == {f"{uid}-vi" for uid in IDS if not uid.endswith("-vi")}


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
def test_schema_and_unique_panel_ids(board: dict) -> None:
    assert board["schemaVersion"] == SCHEMA_VERSION
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), f"{board['title']}: duplicate panel ids"
    for p in board["panels"]:
        pos = p["gridPos"]
        assert pos["x"] + pos["w"] <= 24, f"{board['title']} / {p['title']}: wider than the grid"
        assert p["targets"], f"{board['title']} / {p['title']}: no query"
        assert p["description"], f"{board['title']} / {p['title']}: no description for the operator"


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
def test_datasource_uids_exist_in_provisioning(board: dict) -> None:
    provisioned = {d["uid"] for d in load_yaml(PROVISIONING / "datasources" / "netmon.yaml")["datasources"]}
    assert set(DATASOURCE_UIDS) <= provisioned
    used = {p["datasource"]["uid"] for p in board["panels"]}
    used |= {t["datasource"]["uid"] for p in board["panels"] for t in p["targets"]}
    used |= {v["datasource"]["uid"] for v in board["templating"]["list"] if "datasource" in v}
    assert used <= provisioned, f"{board['title']}: unknown datasource uids {used - provisioned}"


@pytest.mark.parametrize("board", BOARDS, ids=IDS)
def test_every_metric_is_in_the_contract(board: dict) -> None:
    known = contract()
    unknown = [f"{title}: {name}" for title, expr in [*panel_queries(board), *variable_queries(board)]
               for name in sorted(metric_names(expr)) if name not in known]
    assert not unknown, f"{board['title']}: metrics outside the contract:\n" + "\n".join(unknown)


def test_provisioned_folder_is_the_one_push_uses() -> None:
    provider = load_yaml(PROVISIONING / "dashboards" / "netmon.yaml")["providers"][0]
    assert provider["folder"] == DEFAULT_FOLDER
    assert provider["folderUid"] == folder_uid(DEFAULT_FOLDER)


@pytest.mark.parametrize(("expr", "names"), [
    ('sum by (le) (increase(a_bucket{site="$site", x=~"by|on"}[$__rate_interval]))', {"a_bucket"}),
    ("b / on (site, check) group_left () c * on (site) group_left (name) d", {"b", "c", "d"}),
    ('count(netmon:site_state:code == 2 and on (site) e) or vector(0)', {"netmon:site_state:code", "e"}),
    ("histogram_quantile(0.99, f) - time() + 1e3", {"f"}),
])
def test_metric_name_scanner(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


@pytest.mark.parametrize("board", ENGLISH, ids=[b["uid"] for b in ENGLISH])
def test_every_panel_is_documented(board: dict) -> None:
    doc = (ROOT / "docs" / "dashboards.md").read_text(encoding="utf-8")
    assert f"`{board['uid']}`" in doc
    missing = [p["title"] for p in board["panels"] if f"**{p['title']}**" not in doc]
    assert not missing, f"{board['title']}: panels not described in docs/dashboards.md: {missing}"
