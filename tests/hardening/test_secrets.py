"""No secret used by the test-suite ever shows in /metrics, the log or an error message of `netmon run`.

The run uses every kind of secret the service can hold: SNMP v2c communities and v3 auth/priv keys
(through their environment references, polled against a real snmpd and against agents that fail),
the basic-auth password of the web-config, and — present in its environment like in a real deployment —
the Grafana token and the Alertmanager receiver credentials.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.collectors.agents import COMMUNITY, V3_AUTH, V3_PRIV, free_udp_port, snmpd
from tests.dashboards.test_push import TOKEN as GRAFANA_TOKEN
from tests.hardening.peers import PASSWORD, USER, netmon_secure, web_config
from tests.netmon.test_service import write_inventory
from tests.support import wait_until

RECEIVER_PASSWORD = "am-receiver-pass-5527"  # e.g. an SMTP/webhook credential in Alertmanager's env

DEVICES = """\
    devices:
      - {{id: cpe, kind: cpe, address: 127.0.0.1, port: {good}, profiles: [system, if-mib],
         snmp: {{version: "2c", community_env: NMT_COMMUNITY}}, timeout: 500ms, retries: 0}}
      - {{id: ups, kind: ups, address: 127.0.0.1, port: {dead}, profiles: [system],
         snmp: {{version: "2c", community_env: NMT_COMMUNITY}}, timeout: 300ms, retries: 0}}
      - {{id: lte, kind: lte-router, address: 127.0.0.1, port: {good}, profiles: [system],
         snmp: {{version: "3", user: netmon, auth_protocol: sha, auth_key_env: NMT_AUTH,
                priv_protocol: aes, priv_key_env: NMT_PRIV_WRONG}}, timeout: 500ms, retries: 0}}
      - {{id: router, kind: cpe, address: 127.0.0.1, port: {good}, profiles: [system],
         snmp: {{version: "3", user: netmon, auth_protocol: sha, auth_key_env: NMT_AUTH,
                priv_protocol: aes, priv_key_env: NMT_PRIV}}, timeout: 500ms, retries: 0}}
"""


@pytest.mark.slow
def test_no_secret_in_metrics_logs_or_errors(tmp_path: Path) -> None:
    secrets = {"SNMP community": COMMUNITY, "SNMPv3 auth key": V3_AUTH, "SNMPv3 priv key": V3_PRIV,
               "basic-auth password": PASSWORD, "Grafana token": GRAFANA_TOKEN,
               "receiver password": RECEIVER_PASSWORD}
    env = {"NMT_COMMUNITY": COMMUNITY, "NMT_AUTH": V3_AUTH, "NMT_PRIV": V3_PRIV,
           "NMT_PRIV_WRONG": V3_PRIV[::-1] + "-x", "GRAFANA_TOKEN": GRAFANA_TOKEN,
           "ALERTMANAGER_SMTP_PASSWORD": RECEIVER_PASSWORD, "NETMON_LOG_LEVEL": "DEBUG"}
    secrets["wrong v3 priv key"] = env["NMT_PRIV_WRONG"]
    (tmp_path / "snmpd").mkdir()
    with snmpd(tmp_path / "snmpd") as agent:
        config = write_inventory(tmp_path / "inv.yaml", [], [], interval="2s")
        config.write_text(config.read_text().rstrip() + "\n" + DEVICES.format(good=agent.port, dead=free_udp_port()))
        with netmon_secure(config, tmp_path, web_config(tmp_path), env=env) as netmon:
            def polled() -> dict[str, float] | None:
                up = {labels["check"]: v for labels, v in netmon.samples("netmon_snmp_up")}
                return up if len(up) == 4 else None
            up = wait_until(polled, 30, "all four devices to be polled")
            with netmon.client() as client:
                client.post("/-/reload")
                metrics = client.get("/metrics").text
            with netmon.client(auth=(USER, "wrong")) as client:
                denied = client.get("/metrics").text
        log = netmon.log.read_text()
    assert up == {"cpe": 1.0, "ups": 0.0, "lte": 0.0, "router": 1.0}, "good and failing polls both happened"
    assert "ups" in log or metrics.count('reason="') >= 2  # failures were reported somewhere
    for what, secret in secrets.items():
        for where, text in (("/metrics", metrics), ("log", log), ("401 body", denied)):
            assert secret not in text, f"{what} leaked into {where}"
