"""The Alertmanager configuration: valid, routes each team, and suppresses what it should on a real
Alertmanager 0.25 (alerts posted to its API, notifications caught by a webhook receiver).

Absence of a notification cannot be awaited: each test first awaits a notification that must come
from a group created at the same moment (same group_wait), then allows one more group_interval.

Alertmanager's inhibitor learns of alerts on its own goroutine, apart from the dispatcher: alerts posted
in one request can race it on a loaded machine (in production Prometheus' `for:` periods order them).
So the inhibiting alert is posted first and its notification awaited, then the alerts it must mute are
posted and awaited as "suppressed" in Alertmanager's API before anything is concluded.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from netmon import alerting
from netmon.inventory import load
from tests.alerts import peers, province
from tests.support import ROOT, require_binary, wait_until

CONFIG = ROOT / "alerts" / "alertmanager.yml"
GROUP_INTERVAL = 2.0


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_binary("amtool"), *args], capture_output=True, text=True)


def test_check_config() -> None:
    result = amtool("check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@pytest.mark.parametrize(("labels", "receiver"), [
    (["team=vnpt", "alertname=SiteUnreachable", "site=chieng-coi", "hub=hub-son-la"], "vnpt-technicians"),
    (["team=vnpt", "alertname=UpsOnBattery"], "vnpt-technicians"),
    (["team=province-office", "alertname=ServiceUnreachable"], "province-office"),
    (["team=cipher", "alertname=SecureChannelDown", "site=chieng-coi", "hub=hub-son-la"], "cipher-unit"),
    (["team=province-office", "alertname=SiteOutageLong", "site=chieng-coi"], "province-office"),
    (["alertname=SomethingUnlabelled"], "province-office"),
])
def test_routes_per_team(labels: list[str], receiver: str) -> None:
    result = amtool("config", "routes", "test", f"--config.file={CONFIG}", f"--verify.receivers={receiver}", *labels)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == receiver


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[peers.Alertmanager, peers.Webhook]]:
    tmp = tmp_path_factory.mktemp("am")
    with peers.webhook_receiver() as hook:
        config = peers.webhook_config(yaml.safe_load(CONFIG.read_text()), hook.url,
                                      group_interval=f"{GROUP_INTERVAL:g}s")
        with peers.alertmanager(tmp, config) as am:
            yield am, hook


def site_alert(alertname: str, site: str, hub: str, kind: str = "commune", **extra: str) -> dict:
    return peers.alert(alertname=alertname, site=site, hub=hub, kind=kind, team="vnpt", severity="critical", **extra)


def post_inhibited(am: peers.Alertmanager, hook: peers.Webhook, source: dict, *muted: dict) -> None:
    """Post ``source``, await its notification, then post ``muted`` and await them suppressed."""
    am.post(source)
    hook.wait_for(10, "firing", **source["labels"])
    am.post(*muted)
    for alert in muted:
        wait_until(lambda a=alert: [x["status"]["state"] for x in am.alerts(**a["labels"])] == ["suppressed"],
                   10, f"{alert['labels']} suppressed")


def settle() -> None:
    """One more group_interval after the awaited notifications: any muted group would have flushed too."""
    time.sleep(GROUP_INTERVAL)


def test_hub_down_is_one_notification(stack: tuple[peers.Alertmanager, peers.Webhook]) -> None:
    am, hook = stack
    post_inhibited(am, hook, site_alert("HubUnreachable", "hub-t1", "hub-t1", kind="hub"),
                   site_alert("SiteUnreachable", "t1-a", "hub-t1"), site_alert("SiteUnreachable", "t1-b", "hub-t1"),
                   site_alert("LinkUnstable", "t1-a", "hub-t1", link="primary"))
    am.post(site_alert("SiteUnreachable", "t1-elsewhere", "hub-t1-other"))
    hook.wait_for(10, "firing", alertname="SiteUnreachable", site="t1-elsewhere")
    suppressed = am.alerts(hub="hub-t1", kind="commune")
    assert len(suppressed) == 3
    assert all(a["status"]["state"] == "suppressed" and a["status"]["inhibitedBy"] for a in suppressed)
    settle()
    assert hook.matching(hub="hub-t1", kind="commune") == []


def test_power_cut_says_power(stack: tuple[peers.Alertmanager, peers.Webhook]) -> None:
    am, hook = stack
    post_inhibited(am, hook, site_alert("SitePowerOutage", "t2-power", "hub-t2"),
                   site_alert("SiteUnreachable", "t2-power", "hub-t2"),
                   site_alert("UpsOnBattery", "t2-power", "hub-t2", check="ups"))
    notification, _ = hook.wait_for(10, "firing", alertname="SitePowerOutage", site="t2-power")
    assert notification.receiver == "vnpt-technicians"
    settle()
    assert [a["labels"]["alertname"] for _, a in hook.matching(site="t2-power")] == ["SitePowerOutage"]


def test_unreachable_site_mutes_its_silent_agent(stack: tuple[peers.Alertmanager, peers.Webhook]) -> None:
    am, hook = stack
    silent = {"agent": "t5-cut", "team": "province-office", "severity": "warning"}
    post_inhibited(am, hook, site_alert("SiteUnreachable", "t5-cut", "hub-t5"),
                   peers.alert(alertname="AgentSilent", site="t5-cut", hub="hub-t5", kind="commune", **silent))
    am.post(peers.alert(alertname="AgentSilent", site="t5-up", hub="hub-t5", kind="commune",
                        **{**silent, "agent": "t5-up"}))
    hook.wait_for(10, "firing", alertname="AgentSilent", site="t5-up")
    settle()
    assert [a["labels"]["alertname"] for _, a in hook.matching(site="t5-cut")] == ["SiteUnreachable"]


def test_secure_channel_goes_to_the_cipher_unit_unless_the_site_is_cut(
        stack: tuple[peers.Alertmanager, peers.Webhook]) -> None:
    am, hook = stack
    channel = {"alertname": "SecureChannelDown", "kind": "commune", "team": "cipher", "severity": "critical"}
    post_inhibited(am, hook, site_alert("SiteUnreachable", "t6-cut", "hub-t6"),
                   peers.alert(site="t6-cut", hub="hub-t6", **channel))
    am.post(peers.alert(site="t6-up", hub="hub-t6", **channel))
    notification, _ = hook.wait_for(10, "firing", alertname="SecureChannelDown", site="t6-up")
    assert notification.receiver == "cipher-unit"
    settle()
    assert [a["labels"]["alertname"] for _, a in hook.matching(site="t6-cut")] == ["SiteUnreachable"]


def test_prober_isolated_silences_sites_not_services(stack: tuple[peers.Alertmanager, peers.Webhook]) -> None:
    am, hook = stack
    post_inhibited(am, hook, peers.alert(alertname="ProberIsolated", site="t3-dc", kind="datacenter", team="vnpt"),
                   site_alert("SiteUnreachable", "t3-a", "hub-t3"),
                   site_alert("HubUnreachable", "hub-t3", "hub-t3", kind="hub"))
    am.post(peers.alert(alertname="ServiceUnreachable", site="t3-dc", kind="datacenter", check="qlvb-https",
                        team="province-office"))
    notification, _ = hook.wait_for(10, "firing", alertname="ServiceUnreachable", site="t3-dc")
    assert notification.receiver == "province-office"
    settle()
    assert hook.matching(hub="hub-t3") == []


def test_maintenance_window_mutes_a_hub_and_its_sites(tmp_path: Path) -> None:
    now = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).replace(tzinfo=None, second=0, microsecond=0)
    window = {"reason": "thay thiết bị trạm", "start": (now - timedelta(hours=1)).isoformat(),
              "end": (now + timedelta(hours=1)).isoformat()}
    inventory = load(province.write(tmp_path / "inventory.yaml", 9, maintenance={"hub-b": [window]}))
    base = yaml.safe_load((ROOT / "alerts" / "alertmanager.base.yml").read_text())
    config = alerting.alertmanager_config(inventory, base)
    with peers.webhook_receiver() as hook, peers.alertmanager(tmp_path, peers.webhook_config(config, hook.url)) as am:
        am.post(site_alert("SiteUnreachable", "muong-bu", "hub-b"),
                site_alert("HubUnreachable", "hub-b", "hub-b", kind="hub"),
                site_alert("SiteUnreachable", "chieng-coi", "hub-a"))
        hook.wait_for(10, "firing", alertname="SiteUnreachable", site="chieng-coi")
        settle()
        assert hook.matching(hub="hub-b") == []


def _resolved(alert: dict) -> dict:
    return {**alert, "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def test_a_child_alert_is_resolved_when_its_hub_resolves_first(tmp_path: Path) -> None:
    """A center that fired before its hub failed gets its resolve when the hub's alert ends first, which is
    what the generated rules guarantee (HubUnreachable is evaluated first and ends as soon as a center
    behind the hub is seen). In the other order Alertmanager drops the resolve: t7-late's is never sent.
    Its own Alertmanager: the module's holds a ProberIsolated that mutes every center."""
    with peers.webhook_receiver() as hook:
        config = peers.webhook_config(yaml.safe_load(CONFIG.read_text()), hook.url,
                                      group_interval=f"{GROUP_INTERVAL:g}s")
        with peers.alertmanager(tmp_path, config) as am:
            _hub_then_child(am, hook)


def _hub_then_child(am: peers.Alertmanager, hook: peers.Webhook) -> None:
    for hub, child in (("hub-t6", "t6-early"), ("hub-t7", "t7-late")):
        am.post(site_alert("SiteUnreachable", child, hub))
        hook.wait_for(10, "firing", alertname="SiteUnreachable", site=child)
        post_inhibited(am, hook, site_alert("HubUnreachable", hub, hub, kind="hub"))
        wait_until(lambda c=child: [a["status"]["state"] for a in am.alerts(site=c)] == ["suppressed"], 10,
                   f"{child} held back by its hub")
    # hub first, then the center (the rules' order)
    am.post(_resolved(site_alert("HubUnreachable", "hub-t6", "hub-t6", kind="hub")))
    hook.wait_for(10, "resolved", alertname="HubUnreachable", site="hub-t6")
    am.post(_resolved(site_alert("SiteUnreachable", "t6-early", "hub-t6")))
    hook.wait_for(10, "resolved", alertname="SiteUnreachable", site="t6-early")
    # the center first while its hub still fires (what the previous rules allowed)
    am.post(_resolved(site_alert("SiteUnreachable", "t7-late", "hub-t7")))
    settle()
    settle()
    am.post(_resolved(site_alert("HubUnreachable", "hub-t7", "hub-t7", kind="hub")))
    hook.wait_for(10, "resolved", alertname="HubUnreachable", site="hub-t7")
    settle()
    assert hook.matching("resolved", alertname="SiteUnreachable", site="t7-late") == []
