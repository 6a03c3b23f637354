"""`--lang vi` speaks Vietnamese: a test fails on any English word in the output (issue #15).

A word counts as Vietnamese when it has a Vietnamese letter or tone mark, or when it is a possible
Vietnamese syllable written without marks ("tin", "ban", "trong"). Everything else must be a name, id,
unit or acronym from the inventory or the short list below; code in backticks (a command to paste) is
not prose. English words that happen to be valid syllables ("to", "on", "in") slip through: the check
catches the rest ("down", "link", "loss", "error", "sites", "fiber"...).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from netmon.cli import main
from netmon.inventory import load
from tests.diagnose.conftest import Province, netmon

SYLLABLE = re.compile(r"^(ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?[aeiouy]{1,3}(ch|ng|nh|[cmnpt])?$")
#: Acronyms, units and technical loanwords a Vietnamese technician writes as they are.
KNOWN = {"http", "https", "dns", "tls", "icmp", "cpe", "rtt", "ups", "snmp", "tcp", "ip", "isp", "ms", "s",
         "jitter", "traceroute", "ping", "netmon", "probe", "slug", "url", "ocsp", "tt", "qlvb", "vsat", "4g"}


def foreign_words(output: str, allowed: set[str]) -> list[str]:
    prose = re.sub(r"`[^`]*`", " ", output)
    found = []
    for word in re.findall(r"[^\W_]+", prose):
        lower = word.lower()
        if not word.isascii() or lower.isdigit() or lower in allowed or lower in KNOWN:
            continue
        if SYLLABLE.match(lower):
            continue
        found.append(word)
    return found


def names(path: Path) -> set[str]:
    """Every name, id and address in the inventory, split into words."""
    inventory = load(path)
    spec = inventory.spec
    raw = [spec.datacenter.slug, spec.datacenter.name, *(h.id for h in spec.hubs), *(h.name for h in spec.hubs)]
    for site in spec.sites:
        raw += [site.slug, site.name, site.district or ""]
        raw += [part for link in site.links for part in (link.id, link.isp)]  # types are words, not names
    raw += [part for s in spec.services for part in (s.id, s.name, s.url)]
    raw += [part for c in inventory.checks for part in (c.id, c.target, c.probe)]
    return {w.lower() for text in raw for w in re.findall(r"[^\W_]+", text)}


def test_the_detector_catches_english() -> None:
    assert foreign_words("the fiber link primary (VNPT) down; document system OK", {"primary", "vnpt"}) == [
        "fiber", "link", "down", "document", "system", "OK"]
    assert foreign_words("đường cáp quang primary (VNPT) mất kết nối; trung tâm tin học", {"primary", "vnpt"}) == []


@pytest.mark.parametrize("case", [{}, {"status": 503}, {"tcp_open": False}])
def test_probe_in_vietnamese_has_no_english_word(province: Province, capsys: pytest.CaptureFixture[str],
                                                 case: dict[str, object]) -> None:
    path = province(**case)
    _, out, err = netmon(capsys, "--lang", "vi", "probe", "chieng-mung", "--config", str(path))
    assert foreign_words(out + err, names(path)) == [], out


def test_validate_and_lookup_errors_in_vietnamese(province: Province, capsys: pytest.CaptureFixture[str]) -> None:
    path = province()
    code, out, err = netmon(capsys, "--lang", "vi", "validate", str(path))
    in_path = {w.lower() for w in re.findall(r"[^\W_]+", str(path))}
    assert code == 0 and foreign_words(out, names(path) | in_path) == [], out
    code, out, err = netmon(capsys, "--lang", "vi", "probe", "chieng-mun", "--config", str(path))
    assert code == 3 and foreign_words(err, names(path) | {"mun"}) == [], err


@pytest.mark.parametrize("argv", [["probe", "--lang", "vi"], ["--lang", "vi", "probe", "x", "--count", "0"],
                                  ["probe", "x", "--bogus", "--lang=vi"], ["--lang", "vi", "lab", "set"]])
def test_usage_errors_in_vietnamese(argv: list[str], capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """argparse's own words too; the usage line is syntax (option names and metavars) and stays."""
    monkeypatch.setenv("NETMON_LANG", "en")  # restored after the test: --lang sets it for the process
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    err = capsys.readouterr().err
    assert stopped.value.code == 3 and err.startswith("cách dùng: netmon"), err
    [line] = [line for line in err.splitlines() if ": lỗi: " in line]
    message = line.split(": lỗi: ", 1)[1]
    assert foreign_words(message, {"site", "count", "bogus", "lang", "target", "values", "value"}) == [], line


def _commands() -> list[list[str]]:
    """Every command path of the CLI: [], ["probe"], ["lab", "set"], ..."""
    from netmon.cli import build_parser

    def below(parser: argparse.ArgumentParser, path: list[str]) -> list[list[str]]:
        found = [path]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    found += below(child, [*path, name])
        return found

    return below(build_parser(), [])


def test_every_help_text_has_a_vietnamese_form(monkeypatch: pytest.MonkeyPatch) -> None:
    """A help text added in English only fails here, naming it (netmon/help_vi.py is its home); so does a
    translation whose English text no command uses any more."""
    from netmon import help_vi
    from netmon.cli import _subparsers, build_parser

    monkeypatch.setenv("NETMON_LANG", "en")
    parser = build_parser()
    texts = help_vi.texts([parser, *_subparsers(parser)])
    assert [t for t in texts if t not in help_vi.HELP and t not in help_vi.ARGPARSE] == []
    assert [t for t in help_vi.HELP if t not in texts] == []


def help_prose(text: str) -> str:
    """``--help`` without its syntax: the usage block, option names, metavars, choices, $VARIABLES,
    paths, URLs, code in backticks and quoted words; what is left is prose."""
    text = re.sub(r"^cách dùng: .*?(?:\n\n|\Z)", " ", text, flags=re.DOTALL)
    text = re.sub(r"^ {4}[\w-]+(?= )", " ", text, flags=re.MULTILINE)  # a subcommand's name in the list
    text = re.sub(r"`[^`]*`|'[^']*'|\{[^}]*\}|\$\w+|\S*[/.:]\S*|--?[\w-]+|\b[A-Z][A-Z0-9_=/-]*\b|\b\w+_\w+\b"
                  r"|\b\d+[a-z]+\b", " ", text)
    return text


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c) or "netmon")
def test_help_in_vietnamese_has_no_english_word(command: list[str], capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETMON_LANG", "en")  # restored after the test: --lang sets it for the process
    with pytest.raises(SystemExit) as stopped:
        main(["--lang", "vi", *command, "--help"])
    out = capsys.readouterr().out
    assert stopped.value.code == 0 and out.startswith("cách dùng: netmon"), out
    names = {"grafana", "prometheus", "alertmanager", "telegram", "zalo", "oa", "sms", "editor", "netmon",
             "calm", "storm", "province", "day", "upgrade", "contract", "incidents", "filing", "reclassify",
             "outage", "root", "loopback", "webhook", "receiver", "json", "yaml", "echo", "ci", "uid",
             "socket", "delay", "jitter", "loss", "down", "flap", "status", "latency", "dns", "agent", "remote",
             "write", "web", "config", "exporter", "toolkit", "ctrl", "slug", "lab", "set", "reboot", "ups",
             "sơn", "la", "asia", "ho", "chi", "minh", "promql", "iso", "vnpt", "utc", "tls", "cpe", "snmp",
             "icmp", "ntp", "hub", "site", "device", "cert", "days", "on", "battery", "since", "report",
             "alerts", "target", "path"}  # command, directory and argument names: syntax
    assert foreign_words(help_prose(out), names) == [], out


def test_a_trace_nobody_answered_reads_in_vietnamese() -> None:
    """Seen when another session's firewall rule dropped loopback echoes: the trace's error line was the
    probe's English ("127.0.2.1 not reached within 7 hops (no hop answered)")."""
    from netmon.diagnose.path import PathView
    from netmon.diagnose.render import trace_lines

    view = PathView("primary", "127.0.2.1", (), False, "127.0.2.1 not reached within 7 hops (no hop answered)")
    vi, en = trace_lines(view, "vi", False), trace_lines(view, "en", False)
    assert foreign_words(" ".join(vi), {"primary"}) == [], vi
    assert en[-1].strip() == "127.0.2.1 not reached, no hop answered"
