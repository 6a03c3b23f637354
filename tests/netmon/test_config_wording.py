"""Config errors under ``--lang vi``: every message in Vietnamese, pydantic's own included (issue #15).

The file, line and dotted path stay as they are (they point into the YAML), and so do the values a
message quotes; the prose around them must pass the same English-word detector as `netmon probe`.
"""

from __future__ import annotations

import re

import pytest

from netmon.inventory import ConfigError, load
from netmon.inventory.wording import vietnamese
from tests.diagnose.test_vietnamese import foreign_words
from tests.netmon.test_inventory import EXPECTED, FIXTURES

#: Keys and literals a message names so that the user can find them in the YAML: syntax, not prose.
SYNTAX = {"address", "link", "target", "service", "start", "end", "weekdays", "time", "hours", "method", "get",
          "head", "false", "true", "host", "port", "yaml", "utf", "ascii", "ipv4", "ipv6", "oid", "snmpv3",
          "primary", "byte"}

#: One English message of each form that no broken fixture produces, as the code writes it.
MORE = [
    "give either address or link",
    "give either target or service, not both",
    "needs a target, a service or a link",
    "device id 'ups' is also a check id of this site",
    "2.5s for one request and its retries does not fit the 2s poll deadline",
    "unknown probe 'x' (known: dns, http, icmp)",
    "unknown service 'qlbv'",
    "Value error, '80' needs a unit: 80ms or 80s",
    "Value error, give either start and end (one-off) or weekdays and time (recurring)",
    "Value error, a one-off window needs a start and an end after it",
    'Value error, a recurring window needs weekdays and a time such as "22:00-24:00"',
    'Value error, hours must be a local time range such as "07:00-17:00"',
    "Value error, must be greater than 0",
    "Value error, body_match needs method GET: a HEAD response has no body",
    "Value error, ca_file has no effect with verify_tls: false; drop one of them",
    "http target must be an http:// or https:// URL, not 'ftp://x'",
    "Value error, give exactly one of community_env or community_file",
    "Value error, '1.3.x' is not a numeric OID such as 1.3.6.1.2.1.1.3.0",
    "Value error, empty SNMPv3 passphrase",
    "Value error, not a DNS name: label empty or too long",
    "Input should be greater than 0",
    "Input should be less than 5",
    "Input should be a valid number, unable to parse string as a number",
    "Input should be a valid boolean, unable to interpret input",
    "Input should be a valid datetime, invalid date separator, expected `-`",
    "String should have at least 1 character",
    "List should have at least 1 item after validation, not 0",
    "cannot read: No such file or directory",
    "larger than 33554432 bytes",
    "invalid YAML: mapping values are not allowed here",
]


def prose(message: str) -> str:
    """The message without what it quotes (names, values, patterns), identifiers and durations (30s)."""
    message = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`|\b\d+(?:\.\d+)?(?:ms|s|m|h)\b", " ", message)
    return re.sub(r"\b\w+_\w+\b", " ", message)


def english_left(message: str) -> list[str]:
    return foreign_words(prose(message), SYNTAX)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_every_fixture_error_reads_in_vietnamese(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETMON_LANG", "vi")
    with pytest.raises(ConfigError) as info:
        load(FIXTURES / f"broken-{kind}.yaml")
    for issue in info.value.issues:
        shown = str(issue)
        head = f"{issue.file}:{issue.line}: {issue.path}: "
        assert shown.startswith(head), shown  # where it is stays as it is
        assert english_left(shown[len(head):]) == [], shown


def test_english_stays_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NETMON_LANG", "en")
    with pytest.raises(ConfigError) as info:
        load(FIXTURES / "broken-bad-probe-option.yaml")
    assert str(info.value.issues[0]).endswith("count: Input should be greater than or equal to 1")


@pytest.mark.parametrize("message", MORE)
def test_every_other_message_has_its_vietnamese_form(message: str) -> None:
    said = vietnamese(message)
    assert said != message and english_left(said) == [], said
