"""The side-by-side verdicts: slower is judged against the path, not against the data center alone."""

from __future__ import annotations

from netmon.agent.compare import Row, View, judge, render


def vsat_center(qlvb_extra: float = 0.0, portal_success: float = 1.0) -> list[Row]:
    # Over VSAT every HTTPS request from the center takes ~1.9 s more than from the data center.
    def http(check: str, dc: float, extra: float, success: float = 1.0) -> Row:
        return Row(check, "http", View(1.0, dc), View(success, dc + 1.9 + extra))
    return [http("qlvb-https", 0.02, qlvb_extra), http("meeting-https", 0.03, 0.05),
            http("portal-https", 0.02, 0.0, portal_success), http("ocsp-http", 0.01, -0.05),
            Row("canary-core", "icmp", View(1.0, 0.81), View(1.0, 1.42)),
            Row("cpe", "snmp", None, View(1.0, 0.01))]


def verdicts(rows: list[Row]) -> dict[str, str]:
    return {r.check: r.verdict for r in judge(rows)}


def test_a_vsat_center_is_not_called_slow_for_its_link() -> None:
    assert verdicts(vsat_center()) == {"qlvb-https": "same", "meeting-https": "same", "portal-https": "same",
                                       "ocsp-http": "same", "canary-core": "same", "cpe": "nodata"}


def test_one_service_slow_only_from_the_center() -> None:
    got = verdicts(vsat_center(qlvb_extra=1.5))
    assert got["qlvb-https"] == "slower"
    assert [c for c, v in got.items() if v == "slower"] == ["qlvb-https"]
    # half a second more is within the path's own spread over VSAT (1.9 s × 1.5)
    assert verdicts(vsat_center(qlvb_extra=0.5))["qlvb-https"] == "same"


def test_fails_only_from_the_center() -> None:
    assert verdicts(vsat_center(portal_success=0.2))["portal-https"] == "fails"


def test_rendered_in_vietnamese() -> None:
    table = render(judge(vsat_center(qlvb_extra=1.5)), "vi")
    assert "từ trung tâm dữ liệu" in table.splitlines()[0]
    qlvb = next(line for line in table.splitlines() if line.startswith("qlvb-https"))
    assert qlvb.endswith("chậm hơn khi đo từ trung tâm xã")
