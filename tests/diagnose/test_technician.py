"""What a technician meets on the simulated province, checked end to end through `netmon probe`:
equipment health in the verdict (a UPS on battery is a power cut, never "everything OK"), services
trusted through the inventory's own CA file, certificate problems never read as "down", and the
demo's advertised faults visible.

Each test changes the session lab with `lab.set` (undone by `fresh_lab`) and runs the real CLI entry
point against the shipped inventory, devices included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from netmon.lab import control
from probes.linkstats import loss_bounds
from tests.diagnose.conftest import netmon, netmon_json
from tests.diagnose.test_probe import flat
from tests.lab.fixtures import INVENTORY
from tests.support import ROOT

pytestmark = pytest.mark.privileged

POWER_SITE = "moc-son"  # fiber primary, 4G backup, a UPS behind the primary link (province-day's power cut)
Capture = pytest.CaptureFixture[str]
CONFIG = ("--config", str(INVENTORY))


def test_ups_on_battery_is_a_power_cut_not_ok(fresh_lab: control.Lab, capsys: Capture) -> None:
    fresh_lab.set(f"{POWER_SITE}/ups", on_battery=True)
    code, doc = netmon_json(capsys, "probe", POWER_SITE, "--check", "ups", *CONFIG)
    [ups] = [c for c in doc["checks"] if c["id"] == "ups"]
    assert (code, ups["verdict"], ups["cause"]) == (1, "degraded", "on_battery"), doc
    assert ups["figure"] == 38 * 60  # the lab's upsEstimatedMinutesRemaining, in seconds
    assert doc["diagnosis"]["causes"][0] == "on_battery"
    assert doc["diagnosis"]["text"].startswith("mains power lost — ups on battery, 87 % charge, ~38 min left")


def test_ups_on_battery_in_vietnamese_table(fresh_lab: control.Lab, capsys: Capture) -> None:
    fresh_lab.set(f"{POWER_SITE}/ups", on_battery=True)
    code, out, _ = netmon(capsys, "--lang", "vi", "probe", POWER_SITE, "--check", "ups", *CONFIG)
    assert code == 1, out
    assert "CHẠY PIN 87 %, ~38 phút" in out and "suy giảm" in out
    assert "mất điện lưới — ups đang chạy pin, còn 87 %, ~38 phút" in flat(out)


def test_ups_on_mains_stays_ok(fresh_lab: control.Lab, capsys: Capture) -> None:
    code, out, _ = netmon(capsys, "probe", POWER_SITE, "--check", "ups", *CONFIG)
    assert code == 0, out
    assert "mains, battery 100 %" in out


def test_link_dead_while_on_battery_is_the_power_cut_not_a_cable(fresh_lab: control.Lab, capsys: Capture) -> None:
    """The 4G router has no UPS behind it: with mains gone its link dies, and the fiber CPE on the UPS lives."""
    fresh_lab.set(f"{POWER_SITE}/ups", on_battery=True)
    fresh_lab.set(f"{POWER_SITE}/backup", down=True)
    code, doc = netmon_json(capsys, "probe", POWER_SITE, *CONFIG)
    causes = doc["diagnosis"]["causes"]
    assert causes[0] == "on_battery" and "power_cut" in causes, doc["diagnosis"]
    assert "link_down" not in causes and "past_hub" not in causes  # no cable or CPE hunt
    assert "the 4g link backup (Viettel) down during the power cut" in doc["diagnosis"]["text"]
    assert code == 2


def test_lab_services_are_trusted_through_the_inventory_alone(fresh_lab: control.Lab, capsys: Capture) -> None:
    """No SSL_CERT_FILE pointing at the lab CA: the shipped inventory names it as its services' ca_file
    (case 2)."""
    assert os.environ.get("SSL_CERT_FILE") != str(fresh_lab.ca_file)
    code, doc = netmon_json(capsys, "probe", "chieng-mung", *CONFIG)
    services = {c["id"]: c["verdict"] for c in doc["checks"] if c["probe"] == "http"}
    assert {"qlvb-https", "meeting-https", "portal-https", "ocsp-http"} <= set(services), services
    assert set(services.values()) == {"ok"}, doc["diagnosis"]
    assert code == 0


def test_an_untrusted_certificate_is_its_own_verdict_not_down(fresh_lab: control.Lab, capsys: Capture,
                                                               tmp_path: Path) -> None:
    """The document system's trust anchor removed: its certificate is untrusted, the service is not down."""
    text = INVENTORY.read_text(encoding="utf-8")
    anchored = 'url: "https://198.18.0.10/",\n     ca_file: /run/netmon-lab/ca.pem}'
    assert anchored in text
    config = tmp_path / "communes.yaml"
    config.write_text(text.replace(anchored, 'url: "https://198.18.0.10/"}'), encoding="utf-8")
    code, doc = netmon_json(capsys, "probe", "chieng-mung", "--check", "qlvb-https", "--config", str(config))
    [qlvb] = doc["checks"]
    assert (code, qlvb["verdict"], qlvb["cause"]) == (1, "degraded", "cert_untrusted"), qlvb
    assert doc["diagnosis"]["text"] == ("document system degraded (certificate not trusted: certificate: "
                                        "unable to get local issuer certificate)")
    code, out, _ = netmon(capsys, "--lang", "vi", "probe", "chieng-mung", "--check", "qlvb-https",
                          "--config", str(config))
    assert code == 1 and "chứng chỉ không tin cậy" in out and "suy giảm" in out


def test_the_demos_advertised_service_faults_are_visible(fresh_lab: control.Lab, capsys: Capture) -> None:
    """province-day's slow document system and meeting certificate expiring in 6 days (case 6), applied
    to the running lab exactly as the preset writes them."""
    preset = yaml.safe_load((ROOT / "netmon" / "scenarios" / "province-day.yaml").read_text(encoding="utf-8"))
    for service, values in preset["services"].items():
        fresh_lab.set(service, **values)
    code, doc = netmon_json(capsys, "probe", "chieng-mung", *CONFIG)
    found = {c["id"]: (c["verdict"], c["cause"]) for c in doc["checks"] if c["probe"] == "http"}
    assert found["qlvb-https"] == ("degraded", "slow"), doc["diagnosis"]
    assert found["meeting-https"] == ("degraded", "cert_expiring")
    assert code == 1
    assert "online meetings degraded (certificate expires in 6 days)" in doc["diagnosis"]["text"]


LOSS_CASES = [("xim-vang", 0.10), ("xim-vang", 0.08), ("chieng-mung", 0.03)]
#: The test's own confidence that the echoes are consistent with the injected loss, all cases together
#: (Bonferroni). The product states 95 %: one claim in twenty may miss the truth by design (it did once
#: here: 1 of 72 lost at 8 % read "under 7.5 %"); the test checks the claims are right at 95 % and the
#: echoes consistent with the truth at 99.9 %, not that a 95 % interval never misses.
TEST_CONFIDENCE = 1 - 0.001 / len(LOSS_CASES)


@pytest.mark.parametrize(("site", "loss"), LOSS_CASES)
def test_loss_verdicts_claim_only_what_the_echoes_show(fresh_lab: control.Lab, capsys: Capture, site: str,
                                                       loss: float) -> None:
    """Issue #15 case 4: 10 % and 8 % on 4G read "0 % ok", 3 % on fiber "0 % ok" or "20 % — cut cable"
    with 5-echo bursts. Now the burst is sized to the limit and every claim carries its 95 % interval."""
    fresh_lab.set(site, loss=loss)
    _, doc = netmon_json(capsys, "probe", site, "--check", "icmp-primary", *CONFIG)
    [icmp] = doc["checks"]
    value = {m["name"]: m["value"] for m in icmp["measurements"]}
    sent, lost = int(value["netmon_icmp_packets_sent"]), int(value["netmon_icmp_packets_sent"]
                                                             - value["netmon_icmp_packets_received"])
    low, high = icmp["interval"]
    assert sent >= 72 and icmp["confidence"] == 0.95, icmp  # sized: 0 lost of 72 puts 4G under its 5 %
    assert (low, high) == pytest.approx(loss_bounds(sent, lost, 0.95))
    wide_low, wide_high = loss_bounds(sent, lost, TEST_CONFIDENCE)
    assert wide_low <= loss <= wide_high, (sent, lost)  # the echoes are consistent with what was injected
    if icmp["cause"] == "loss":       # "above the limit, 95 % sure"
        assert icmp["verdict"] == "degraded" and icmp["limit"] <= low
    elif icmp["cause"] == "loss_unconfirmed":  # "cannot tell which side of the limit"
        assert low < icmp["limit"] <= high
    else:                             # "ok, loss under <high>, 95 % sure"
        assert icmp["cause"] is None and lost / sent < icmp["limit"], icmp
    assert "% sure" in doc["diagnosis"]["text"]
    assert not (lost > 0 and " 0 %" in doc["diagnosis"]["text"])  # never "0 %" when echoes were lost


#: A 4G site on xim-vang's hub whose link the test gives a fixed delay: the holder's own spread, measured.
STEADY_SITE = "ta-xua"


def test_jitter_of_a_4g_burst_is_measured_not_a_quarter_of_it(fresh_lab: control.Lab) -> None:
    """80 ms of jitter on 4G (limit 40 ms) was never flagged: RFC 3550's running estimate from 0 reaches
    ~25 % of it in a 5-echo burst (~12 ms here). The lab delays each packet by max(0, 45 ms ± U(80 ms)),
    whose mean |ΔRTT| is 46.8 ms (simulated, 20,000 bursts of 72); a 72-echo burst lands in 34-61 ms
    99.8 % of the time, and the verdict follows the measured figure against the 40 ms limit.

    The lab itself adds a spread of its own: the NFQUEUE holder is a Python event loop on a shared
    machine, and under load it reads and releases packets late (one run read 63.7 ms). With each RTT =
    path + drawn delay + the holder's lateness, the burst's mean |ΔRTT| lies within the drawn delays'
    ± the lateness's own mean |Δ| (triangle inequality). That lateness is measured in the same run: a
    burst on the same hub at the same moment, through the same holder at a fixed 45 ms, whose mean
    |ΔRTT| is nothing but the holder's (and the path's) spread."""
    fresh_lab.set("xim-vang", jitter="80ms")
    fresh_lab.set(STEADY_SITE, jitter="0ms")
    bursts = [subprocess.Popen([sys.executable, "-m", "netmon.cli", "probe", site, "--check", "icmp-primary",
                                *CONFIG, "--json"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
              for site in ("xim-vang", STEADY_SITE)]  # started together: their bursts overlap
    doc, steady = (json.loads(p.communicate(timeout=60)[0]) for p in bursts)
    [icmp], [reference] = doc["checks"], steady["checks"]
    jitter, spread = (next(m["value"] for m in c["measurements"] if m["name"] == "netmon_icmp_jitter_seconds")
                      for c in (icmp, reference))
    assert reference["success"] and spread < 0.033, reference  # the lab's own spread must leave a claim to test
    assert 0.033 - spread < jitter < 0.062 + spread, (jitter, spread)
    if jitter >= 0.040:
        assert (icmp["verdict"], icmp["cause"]) == ("degraded", "jitter"), icmp
    else:
        assert icmp["cause"] != "jitter", icmp
