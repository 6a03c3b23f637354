"""The secure channel on the simulated province: real WireGuard tunnels, real netmon, Prometheus 2.42 on
the shipped rules, Alertmanager 0.25 on the shipped routes, the history store.

netmon runs the centers behind hub-son-la (each with its encrypted tunnel to the data center) at 2 s
intervals; the alert rules' durations are scaled as in tests/alerts/test_e2e.py (SecureChannelDown's
1 min → 2 s). Two faults, each on real packets:
- one center's encryptor fails (`secure_down`): its line still answers. `netmon probe` must say "line
  up, secure channel down" in both languages, SecureChannelDown must reach the cipher unit's receiver,
  and the history must keep the outage under its own cause, not as a link outage;
- another center's line is cut (its tunnel dies with it): the line's outage only — no SecureChannelDown,
  no secure-channel outage, and `netmon probe` blames the line, not the encryptor.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from netmon import alerting
from netmon.cli import main
from netmon.inventory import load
from netmon.lab import control
from tests.alerts import peers
from tests.alerts.test_e2e import scaled
from tests.support import ROOT, netmon_run, prometheus, wait_until

pytestmark = [pytest.mark.privileged, pytest.mark.slow]

HUB = "hub-son-la"
ENCRYPTOR_FAILS, LINE_CUT = "chieng-an", "chieng-coi"
_ICMP = {"count": 2, "spacing": 0.1, "packet_timeout": 1.0}


def secure_inventory(path: Path) -> Path:
    spec = yaml.safe_load((ROOT / "config" / "communes.yaml").read_text(encoding="utf-8"))
    spec["defaults"]["interval"], spec["defaults"]["timeout"] = "2s", "1.5s"
    for limits in spec["defaults"]["link_types"].values():
        limits["unreachable_after"] = "8s"
    spec["datacenter"]["checks"] = [{"id": "canary-core", "probe": "icmp", "target": "198.18.0.1", **_ICMP}]
    spec["hubs"] = [{**h, "checks": [{"id": "icmp", "probe": "icmp", **_ICMP}]}
                    for h in spec["hubs"] if h["id"] == HUB]
    spec["sites"] = [s for s in spec["sites"] if s["upstream"] == HUB]
    for site in spec["sites"]:
        assert site["secure_channel"], "every shipped center has its secure channel"
        site["checks"] = [{"id": "icmp-primary", "probe": "icmp", "link": "primary", **_ICMP}]
        site.pop("devices", None)
    path.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@dataclass
class Stack:
    lab: control.Lab
    config: Path
    history: Path
    prom: Any
    hook: peers.Webhook

    def outages(self, site: str) -> list[tuple[str, str, bool]]:
        """(link, cause, closed) of the site's recorded outages."""
        with sqlite3.connect(f"file:{self.history}?mode=ro", uri=True) as db:
            rows = db.execute('SELECT link, cause, "end" IS NOT NULL FROM outages WHERE site = ? '
                              "ORDER BY start", (site,)).fetchall()
        return [(link, cause, bool(closed)) for link, cause, closed in rows]


@pytest.fixture(scope="module")
def stack(lab: control.Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("secure")
    config = secure_inventory(tmp / "inventory.yaml")
    rules = tmp / "rules"
    rules.mkdir()
    (rules / "recording.rules.yml").write_text((ROOT / "alerts" / "recording.rules.yml").read_text())
    (rules / "netmon.rules.yml").write_text(scaled((ROOT / "alerts" / "netmon.rules.yml").read_text()))
    (rules / "site-availability.rules.yml").write_text(
        yaml.safe_dump(alerting.availability_rules(load(config), interval=None), allow_unicode=True))
    shipped = yaml.safe_load((ROOT / "alerts" / "alertmanager.yml").read_text())
    history = tmp / "history.db"
    lab.reset()
    try:
        with peers.webhook_receiver() as hook, \
                peers.alertmanager(tmp, peers.webhook_config(shipped, hook.url)) as am, \
                netmon_run(config, tmp, "--history", str(history)) as prober, \
                prometheus(tmp, [prober.url.removeprefix("http://")], rule_files=sorted(rules.glob("*.yml")),
                           alertmanager=am.url.removeprefix("http://")) as prom:
            sites = len(load(config).spec.sites)
            answering = 'netmon_probe_success{check="secure-channel"} == 1'
            wait_until(lambda: len(prom.query(answering)) == sites, 30, "every center's tunnel answering")
            yield Stack(lab, config, history, prom, hook)
    finally:
        lab.reset()


def probe(stack: Stack, site: str, lang: str, capsys: pytest.CaptureFixture[str],
          monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """`netmon probe SITE --json` in-process; the language it sets for the process is undone after the test."""
    monkeypatch.setenv("NETMON_LANG", lang)
    code = main(["probe", site, "--config", str(stack.config), "--json", "--lang", lang])
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert code == 2, doc["diagnosis"]
    return doc["diagnosis"]


def test_encryptor_down_beside_a_live_line(stack: Stack, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    stack.lab.set(ENCRYPTOR_FAILS, secure_down=True)
    en = probe(stack, ENCRYPTOR_FAILS, "en", capsys, monkeypatch)
    assert "secure_down" in en["causes"] and "link_down" not in en["causes"], en
    assert "line up, secure channel down" in en["text"]
    vi = probe(stack, ENCRYPTOR_FAILS, "vi", capsys, monkeypatch)
    assert "đường truyền tốt, kênh bảo mật mất" in vi["text"], vi

    notification, alert = stack.hook.wait_for(60, "firing", alertname="SecureChannelDown",
                                              site=ENCRYPTOR_FAILS)
    assert notification.receiver == "cipher-unit"
    assert alert["labels"]["team"] == "cipher" and "kênh bảo mật mất" in alert["annotations"]["summary_vi"]
    wait_until(lambda: ("secure-channel", "secure_channel", False) in stack.outages(ENCRYPTOR_FAILS), 20,
               "the open secure-channel outage in the history")

    stack.lab.set(ENCRYPTOR_FAILS, secure_down=False)
    stack.hook.wait_for(60, "resolved", alertname="SecureChannelDown", site=ENCRYPTOR_FAILS)
    wait_until(lambda: stack.outages(ENCRYPTOR_FAILS) == [("secure-channel", "secure_channel", True)], 20,
               "the secure-channel outage closed, and no link outage")


def test_a_cut_line_is_the_lines_fault_not_the_encryptors(stack: Stack, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    stack.lab.set(LINE_CUT, down=True)
    vi = probe(stack, LINE_CUT, "vi", capsys, monkeypatch)
    assert "link_down" in vi["causes"] and "secure_down" not in vi["causes"], vi
    assert "kênh bảo mật" not in vi["text"]

    stack.hook.wait_for(60, "firing", alertname="SiteUnreachable", site=LINE_CUT)
    wait_until(lambda: ("primary", "link", False) in stack.outages(LINE_CUT), 20, "the line's open outage")
    # The rule (2 s scaled) would have fired before SiteUnreachable (8 s) if it judged a dead line.
    assert stack.prom.query(f'ALERTS{{alertname="SecureChannelDown", site="{LINE_CUT}"}}') == []
    stack.lab.set(LINE_CUT, down=False)
    wait_until(lambda: stack.outages(LINE_CUT) == [("primary", "link", True)], 30,
               "the line's outage closed; no secure-channel outage for it")
    assert stack.hook.matching(alertname="SecureChannelDown", site=LINE_CUT) == []
