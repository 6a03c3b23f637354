"""The inventory loader: the shipped file, and one broken fixture per error kind with its exact message."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from netmon.cli import main
from netmon.inventory import ConfigError, load
from tests.support import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "inventory"
LAB_RANGE = ipaddress.ip_network("198.18.0.0/15")

# broken-<kind>.yaml → every issue it must produce, as "line: path: message".
EXPECTED: dict[str, list[str]] = {
    "alias-bomb": ['8: f: more than 1000000 values (alias bomb?)'],
    "bad-address": ["34: sites[0].links[0].cpe: Value error, '127.0.2.300' is not an IPv4 or IPv6 address"],
    "bad-admin-code": ["42: sites[1].admin_code: String should match pattern '^\\d{5}$'"],
    "bad-duration": ['4: defaults.interval: Value error, expected a duration such as 30s, 500ms or 2m'],
    "secure-check-id": ["33: sites[0].secure_channel: check id 'secure-channel' is this block's own; "
                        "rename the check"],
    # schema, reference and probe-option errors together in one pass: no rounds (issue #15, case 9)
    "every-stage": [
        "24: hubs[0].checks[0].colour: unknown key",
        "28: sites[0].kind: must be one of 'ward' or 'commune', got 'village'",
        "45: sites[1].upstream: unknown hub 'hub-mai-sn' (did you mean 'hub-mai-son'?)",
        "49: sites[1].checks[0].count: Input should be greater than or equal to 1",
        "49: sites[1].checks[0].link: unknown link 'primry' (did you mean 'primary'?)",
    ],
    # errors in defaults and the data center do not stop the rest: every stage, one pass (issue #15)
    "defaults-and-datacenter": [
        "4: defaults.interval: Value error, expected a duration such as 30s, 500ms or 2m",
        "7: defaults.link_types.fiber.loss_degraded: Input should be less than or equal to 1",
        "12: datacenter.address: Value error, 'nope' is not an IPv4 or IPv6 address",
        "15: datacenter.checks[0].service: unknown service 'qlbv' (did you mean 'qlvb'?)",
        "45: sites[1].upstream: unknown hub 'hub-mai-sn' (did you mean 'hub-mai-son'?)",
        "49: sites[1].checks[0].count: Input should be greater than or equal to 1",
    ],
    "impossible-date": ["34: sites[0].links[0].since: Input should be a valid date or datetime, month value is "
                        "outside expected range of 1-12"],
    "bad-kind": ["41: sites[1].kind: must be one of 'ward' or 'commune', got 'village'"],
    "bad-probe-option": ['49: sites[1].checks[0].count: Input should be greater than or equal to 1'],
    "bad-slug": [
        "39: sites[1].slug: Value error, must be lower-case ASCII letters, digits and '-' (e.g. chieng-mung)",
    ],
    "bad-url": ["17: services[0].url: 'ftp//127.0.0.1' is not an http(s) URL with a host"],
    "coordinates-outside-vietnam": [
        '44: sites[1].location: coordinates (48.8566, 2.3522) are outside Vietnam',
    ],
    "deep-nesting": ['2: defaults: nested deeper than 64 levels'],
    "duplicate-check-id": ["38: sites[0].checks[1].id: duplicate check id 'icmp-primary' (first at line 37)"],
    "duplicate-key": ['41: sites[1].name: duplicate key'],
    "duplicate-slug": ["39: sites[1].slug: duplicate slug 'chieng-mung' (first at line 26)"],
    "empty-file": ['1: (top level): file is empty'],
    "link-type-without-thresholds": ["6: defaults.link_types: no thresholds for link type 'vsat'"],
    "merge-key": ["39: sites[1]: YAML merge keys ('<<') are not supported"],
    "missing-field": ['39: sites[1].district: required field missing'],
    "no-primary-link": ["46: sites[1].links: no link has role 'primary'"],
    "non-utf8": ['40: (file): not valid UTF-8 (byte 1455)'],
    "not-a-mapping": ['1: (top level): Input should be a valid dictionary or instance of InventoryFile'],
    "null-value": ['43: sites[1].district: Input should be a valid string'],
    "ratio-out-of-range": [
        '7: defaults.link_types.fiber.loss_degraded: Input should be less than or equal to 1',
    ],
    "tcp-without-port": [
        "38: sites[0].checks[1].target: tcp target '127.0.2.1' has no port: write host:port or set the port option",
    ],
    "timeout-below-probe-minimum": [
        '49: sites[1].checks[0].timeout: timeout 5s is shorter than the 9s this icmp check needs',
    ],
    "timeout-not-below-interval": [
        '38: sites[0].checks[1].timeout: timeout 10s must be less than interval 10s',
    ],
    "unknown-hub": ["45: sites[1].upstream: unknown hub 'hub-mai-sn' (did you mean 'hub-mai-son'?)"],
    "unknown-key": ['29: sites[0].colour: unknown key'],
    "unknown-link": ["38: sites[0].checks[1].link: unknown link 'primry' (did you mean 'primary'?)"],
    "unknown-probe-option": ['38: sites[0].checks[1].retries: unknown key'],
    "unknown-probe": ["49: sites[1].checks[0].probe: unknown probe 'icpm' (did you mean 'icmp'?)"],
    "unknown-service": ["15: datacenter.checks[0].service: unknown service 'qlbv' (did you mean 'qlvb'?)"],
    "unknown-version": ['2: version: must be one of 1, got 2'],
    "wrong-option-type": [
        '49: sites[1].checks[0].count: Input should be a valid integer, unable to parse string as an integer',
    ],
    "wrong-type": ['46: sites[1].links: Input should be a valid list'],
    "yaml-syntax": [
        '51: (yaml): invalid YAML: found unexpected end of stream (while scanning a quoted scalar at line 42)',
    ],
}


def _issues(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(path)
    for issue in info.value.issues:
        assert issue.file == str(path)
    return [f"{i.line}: {i.path}: {i.message}" for i in info.value.issues]


def test_every_broken_fixture_has_an_expectation() -> None:
    kinds = {p.stem.removeprefix("broken-") for p in FIXTURES.glob("broken-*.yaml")}
    assert kinds == set(EXPECTED)
    assert len(kinds) >= 15


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_broken_fixture_gives_exact_message(kind: str) -> None:
    assert _issues(FIXTURES / f"broken-{kind}.yaml") == EXPECTED[kind]


def test_valid_fixture_loads() -> None:
    inventory = load(FIXTURES / "valid.yaml")
    assert inventory.counts() == {"sites": 2, "hubs": 1, "links": 3, "checks": 5, "services": 1}
    keys = {c.key for c in inventory.checks}
    assert "chieng-mung/icmp-primary" in keys and "hub-mai-son/icmp" in keys
    by_key = {c.key: c for c in inventory.checks}
    assert by_key["chieng-mung/icmp-primary"].target == "127.0.2.1"  # the link's CPE
    assert by_key["hub-mai-son/icmp"].target == "127.0.1.1"  # a hub's own address
    assert by_key["trung-tam-du-lieu/qlvb-https"].target == "https://127.0.0.1:8443/"  # the service URL
    assert inventory.thresholds["chieng-mai/icmp-primary"].rtt_degraded == 0.15  # its 4G link's limits


def test_rtt_histogram_is_chosen_per_link_type_or_per_check(tmp_path: Path) -> None:
    """Off by default (20 series a check); ``defaults.rtt_histogram`` turns it on for a link type and a
    check's own ``rtt_histogram`` overrides its link type's choice either way."""
    assert load(FIXTURES / "valid.yaml").histograms == frozenset()
    text = (FIXTURES / "valid.yaml").read_text()
    text = text.replace("  link_types:\n", "  rtt_histogram: [4g]\n  link_types:\n", 1)
    text = text.replace("{id: icmp, probe: icmp}", "{id: icmp, probe: icmp, rtt_histogram: true}", 1)
    text = text.replace("link: primary, count: 3}", "link: primary, count: 3, rtt_histogram: false}", 1)
    path = tmp_path / "histograms.yaml"
    path.write_text(text)
    # chieng-mai's only check is on 4G but opts out; chieng-mung's is on fiber; the hub's opts in
    assert load(path).histograms == {"hub-mai-son/icmp"}
    path.write_text(text.replace("rtt_histogram: [4g]", "rtt_histogram: [fiber]"))
    assert load(path).histograms == {"hub-mai-son/icmp", "chieng-mung/icmp-primary"}


def test_all_errors_reported_at_once(tmp_path: Path) -> None:
    text = (FIXTURES / "valid.yaml").read_text()
    text = text.replace("upstream: hub-mai-son", "upstream: hub-x").replace("cpe: 127.0.2.2", "cpe: nope")
    path = tmp_path / "two.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(path)
    # the schema error and the other site's reference error together; the site with the schema error
    # is checked for references once it parses (its own upstream typo shows then)
    assert [i.path for i in info.value.issues] == ["sites[0].upstream", "sites[1].links[0].cpe"]
    path.write_text(text.replace("cpe: nope", "cpe: 127.0.2.2"))
    with pytest.raises(ConfigError) as info:
        load(path)
    assert [i.path for i in info.value.issues] == ["sites[0].upstream", "sites[1].upstream"]


@pytest.mark.parametrize(("change", "expected"), [
    # the whole data center missing, beside a reference error: the stand-in is never blamed
    (("datacenter:\n  slug: trung-tam-du-lieu\n  name: Trung tâm Dữ liệu tỉnh Sơn La\n  address: 127.0.0.1\n"
      "  location: {lat: 21.3256, lon: 103.9188}\n  checks:\n    - {id: qlvb-https, probe: http, service: qlvb}\n",
      ""), ["2: datacenter: required field missing", "38: sites[1].upstream: unknown hub 'hub-x'"]),
    # a data-center check with a schema error and the next one with a reference error: indices as in the file
    (("    - {id: qlvb-https, probe: http, service: qlvb}\n",
      "    - {id: qlvb-https, probe: http, service: qlvb, colour: red}\n    - {id: canary, probe: icmp, link: nope}\n"),
     ["15: datacenter.checks[0].colour: unknown key", "16: datacenter.checks[1].link: unknown link 'nope'",
      "46: sites[1].upstream: unknown hub 'hub-x'"]),
    # no thresholds at all: the link types' own issue is not repeated for every type
    (("  link_types:\n", "  link_typs:\n"),
     ["6: defaults.link_typs: unknown key", "3: defaults.link_types: required field missing",
      "45: sites[1].upstream: unknown hub 'hub-x'"]),
])
def test_errors_in_defaults_and_datacenter_come_with_the_rest(tmp_path: Path, change: tuple[str, str],
                                                              expected: list[str]) -> None:
    text = (FIXTURES / "valid.yaml").read_text()
    assert change[0] in text
    text = text.replace(change[0], change[1]).replace("upstream: hub-mai-son\n    links:\n      - {id: primary, "
                                                      "type: 4g", "upstream: hub-x\n    links:\n      - {id: "
                                                      "primary, type: 4g")
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(path)
    assert sorted(f"{i.line}: {i.path}: {i.message}" for i in info.value.issues) == sorted(expected)


def test_shipped_inventory_is_valid_and_complete() -> None:
    inventory = load(ROOT / "config" / "communes.yaml")
    counts = inventory.counts()
    assert counts["sites"] == 75 and counts["hubs"] == 12
    sites = inventory.spec.sites
    assert sum(1 for s in sites if s.kind == "ward") == 8
    assert len({s.admin_code for s in sites}) == 75
    names = {s.slug: s.name for s in sites}
    assert names["chieng-mung"] == "Chiềng Mung" and names["chieng-coi"] == "Chiềng Cơi"
    assert {lk.type for s in sites for lk in s.links} == {"fiber", "4g", "microwave", "vsat"}


def test_shipped_inventory_uses_only_lab_or_loopback_addresses() -> None:
    inventory = load(ROOT / "config" / "communes.yaml")
    spec = inventory.spec
    addresses = [spec.datacenter.address, *(h.address for h in spec.hubs),
                 *(lk.cpe for s in spec.sites for lk in s.links)]
    from urllib.parse import urlsplit

    addresses += [urlsplit(s.url).hostname or "" for s in spec.services]
    addresses += [c.target for c in inventory.checks if c.probe in ("icmp", "tcp", "dns")]
    for address in addresses:
        ip = ipaddress.ip_address(address)
        assert ip in LAB_RANGE or ip.is_loopback, address


def test_validate_command_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "config" / "communes.yaml")]) == 0
    assert "75 sites" in capsys.readouterr().out
    assert main(["validate", str(FIXTURES / "broken-unknown-hub.yaml")]) == 1
    err = capsys.readouterr().err
    assert "broken-unknown-hub.yaml:45: sites[1].upstream: unknown hub 'hub-mai-sn'" in err


def test_validate_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 1
    assert "cannot read: No such file or directory" in capsys.readouterr().err


def test_small_configs_are_read_and_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bridge's and the central agents file's own checks locate their issues in the document the
    model loader parsed; both loaders read each file twice before (a file changed in between could be
    validated in one version and located in the other)."""
    from netmon import notify
    from netmon.agent.config import load_agents
    from netmon.inventory import source

    reads: list[str] = []
    real = source._read_bounded

    def counted(path: Path) -> bytes:
        reads.append(str(path))
        return real(path)

    monkeypatch.setattr(source, "_read_bounded", counted)
    secret = tmp_path / "token"
    secret.write_text("x")
    bridge = tmp_path / "bridge.yaml"
    bridge.write_text(f"receivers:\n  vnpt:\n    - {{kind: telegram, to: '-1', token_file: {secret}}}\n")
    assert notify.load_config(bridge).receivers["vnpt"][0].to == "-1"
    agents = tmp_path / "agents.yaml"
    agents.write_text(f"agents:\n  - {{id: to-hieu, site: to-hieu, token_sha256: {'a' * 64}}}\n")
    assert load_agents(agents, {"to-hieu"}).agents[0].id == "to-hieu"
    assert reads == [str(bridge), str(agents)]
