"""`netmon probe` on the simulated province: real packets over impaired links, real hubs going down.

Each test changes the session lab with `lab.set` (undone by `fresh_lab`) and runs the real CLI entry
point against the shipped inventory, so verdicts, traces and the diagnosis are checked end to end.
"""

from __future__ import annotations

import pytest

from netmon.inventory import load
from netmon.lab import control
from tests.diagnose.conftest import netmon, netmon_json
from tests.diagnose.test_probe import flat
from tests.lab.fixtures import INVENTORY, without_devices

pytestmark = pytest.mark.privileged

SPEC = load(INVENTORY).spec
SPEC_CHECKS = [c for c in load(INVENTORY).checks if c.probe != "snmp"]  # the tests' inventory has no devices
SITE = "chieng-mung"  # fiber, VNPT, behind hub-mai-son
HUB = next(h for h in SPEC.hubs if h.id == next(s for s in SPEC.sites if s.slug == SITE).upstream)
Capture = pytest.CaptureFixture[str]
Config = tuple[str, str]


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """``--config`` with the shipped inventory minus its SNMP devices: these tests are about links and hubs."""
    path = tmp_path_factory.mktemp("inventory") / "communes.yaml"
    path.write_text(without_devices(INVENTORY.read_text(encoding="utf-8")), encoding="utf-8")
    return ("--config", str(path))


def _probe(capsys: Capture, config: Config, *argv: str) -> tuple[int, dict]:
    return netmon_json(capsys, "probe", *argv, *config)


def test_healthy_site_is_ok(fresh_lab: control.Lab, capsys: Capture, config: Config) -> None:
    """A slow reading under CPU load is the lab's fault only if its delay path counted a late packet: the
    failure message shows that count before and after the probe (`netmon.lab.holder`)."""
    before = fresh_lab.status()["delay_path"]
    code, out, _ = netmon(capsys, "probe", "Chiềng Mung", *config)
    out += f"\nlab delay path before: {before}\nlab delay path after: {fresh_lab.status()['delay_path']}"
    assert code == 0, out
    rows = [line for line in out.splitlines() if line.split()[:1] in (["datacenter"], ["hub"], ["site"])]
    on_path = [c for c in SPEC_CHECKS if c.site in (SPEC.datacenter.slug, HUB.id, SITE)]
    assert len(rows) == len(on_path) and all(line.endswith(" ok") for line in rows), out
    services = len([c for c in on_path if c.site == SPEC.datacenter.slug and c.probe != "icmp"])
    # 100 echoes (the most one sized burst sends), none lost: the loss is under 3.6 % with 95 % confidence
    assert (f"the fiber link primary (VNPT) OK (loss under 3.6 %, 95 % sure); secure channel OK; "
            f"document system and {services - 1} other services OK") in flat(out)


def test_twenty_percent_loss_is_degraded_and_named(fresh_lab: control.Lab, capsys: Capture, config: Config) -> None:
    fresh_lab.set(SITE, loss=0.2)
    # 50 echoes: the chance that 20 % loss shows no lost echo at all is 0.8^50, about 1e-5.
    code, doc = _probe(capsys, config, SITE, "--count", "50")
    icmp = next(c for c in doc["checks"] if c["id"] == "icmp-primary")
    assert (code, doc["verdict"]) == (1, "degraded"), (doc["diagnosis"], icmp["measurements"])
    assert (icmp["verdict"], icmp["cause"]) == ("degraded", "loss")
    assert 0.06 <= icmp["figure"] <= 0.36  # binomial 99.9 % interval of 20 % at n=50
    assert doc["diagnosis"]["causes"][0] == "loss"
    assert "% loss on the fiber link primary (VNPT) — fiber damage" in doc["diagnosis"]["text"]
    assert doc["traces"] == []  # the link is up: nothing to trace


def test_link_down_traces_to_its_hub(fresh_lab: control.Lab, capsys: Capture, config: Config) -> None:
    fresh_lab.set(SITE, down=True)
    code, doc = _probe(capsys, config, SITE)
    assert code == 2
    # the encrypted tunnel rides the cut line: down with it, and not blamed (no "secure channel down")
    assert {c["id"]: c["verdict"] for c in doc["checks"] if c["role"] == "site"} == {
        "icmp-primary": "down", "cpe-https": "down", "secure-channel": "down"}
    assert "secure_down" not in doc["diagnosis"]["causes"]
    assert all(c["verdict"] == "ok" for c in doc["checks"] if c["role"] != "site")
    [trace] = doc["traces"]
    assert not trace["reached"] and trace["stops_at"] == HUB.name
    named = [(h["address"], h["name"]) for h in trace["hops"]]
    assert named == [("198.18.0.1", f"{SPEC.datacenter.name} (gateway)"), (HUB.address, HUB.name)]
    assert doc["diagnosis"]["causes"][:3] == ["link_down", "trace_stops", "past_hub"]
    assert f"trace stops at {HUB.name}; hub answers: last mile or CPE" in doc["diagnosis"]["text"]


def test_link_down_human_output_names_every_hop(fresh_lab: control.Lab, capsys: Capture, config: Config) -> None:
    fresh_lab.set(SITE, down=True)
    code, out, _ = netmon(capsys, "probe", SITE, "--check", "icmp-primary", *config)
    assert code == 2
    assert f"198.18.0.1       {SPEC.datacenter.name} (gateway)" in out
    assert f"{HUB.address}       {HUB.name}" in out and f"stops at {HUB.name}" in out


def test_hub_down_blames_the_hub(fresh_lab: control.Lab, capsys: Capture, config: Config) -> None:
    fresh_lab.set(HUB.id, down=True)
    code, doc = _probe(capsys, config, SITE)
    assert code == 2
    hub = next(c for c in doc["checks"] if c["role"] == "hub")
    assert hub["verdict"] == "down"
    causes = doc["diagnosis"]["causes"]
    assert causes[0] == "hub_down" and "link_down" not in causes, causes
    assert doc["diagnosis"]["text"].startswith(f"hub {HUB.name} is down — every site behind it is cut off")


def test_slow_fiber_is_up_but_over_its_limit(fresh_lab: control.Lab, capsys: Capture, config: Config) -> None:
    """601 ms with every echo answered: down by the fiber limit (300 ms), but the link is not cut."""
    fresh_lab.set(SITE, delay="600ms", jitter=0)
    code, doc = _probe(capsys, config, SITE, "--check", "icmp-primary")
    assert code == 2
    [icmp] = doc["checks"]
    assert (icmp["verdict"], icmp["cause"]) == ("down", "latency") and icmp["figure"] == pytest.approx(0.6, abs=0.01)
    text = doc["diagnosis"]["text"]
    assert doc["diagnosis"]["causes"] == ["latency_down"] and " down" not in text, text
    assert text.startswith("link up, but RTT 60") and "exceeds the fiber limit of 300 ms" in text


def test_vietnamese_table_has_no_english_words(fresh_lab: control.Lab, capsys: Capture, config: Config,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETMON_LANG", "en")  # --lang sets it for the process; restored after the test
    fresh_lab.set(SITE, down=True)
    code, out, _ = netmon(capsys, "--lang", "vi", "probe", SITE, *config)
    assert code == 2
    assert "mất 0 %" in out and "không tới được" in out, out
    table = out.split("\n\n")[1]
    for word in ("loss", "connect", "unreachable", "timeout", "no route", " ok", "down"):
        assert word not in table, (word, table)
    assert f"dừng tại {HUB.name}" in out and "đoạn cuối hoặc CPE" in flat(out)


def test_primary_down_runs_on_backup(fresh_lab: control.Lab, capsys: Capture, config: Config) -> None:
    site = next(s for s in SPEC.sites if len(s.links) == 2)
    fresh_lab.set(site.slug, down=True)
    code, doc = _probe(capsys, config, site.slug)
    assert code == 2
    causes = doc["diagnosis"]["causes"]
    assert "link_down" in causes and "on_backup" in causes, doc["diagnosis"]
    [trace] = doc["traces"]
    assert trace["link"] == "primary" and not trace["reached"]
