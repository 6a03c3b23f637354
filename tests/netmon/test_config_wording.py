"""Config errors under ``--lang vi``: every message in Vietnamese, pydantic's own included (issue #15).

The file, line and dotted path stay as they are (they point into the YAML), and so do the values a
message quotes; the prose around them must pass the same English-word detector as `netmon probe`.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from netmon.inventory import ConfigError, load
from netmon.inventory.wording import vietnamese
from netmon.lab import scenario
from netmon.lab.control import said
from netmon.lab.daemon import _explain
from netmon.lab.scenario import LinkBehaviour
from tests.diagnose.test_vietnamese import foreign_words
from tests.netmon.test_inventory import EXPECTED, FIXTURES
from tests.support import ROOT

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
    "the default timeout 1s is shorter than the 2.5s an icmp check needs: give the primary link one",
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
    return re.sub(r"\b\w+_\w+\b|\b[A-Z]+/[A-Z]+\b", " ", message)  # and placeholders: SITE/DEVICE


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


def test_scenario_files_and_lab_set_refusals_in_vietnamese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab's own config: a scenario file's errors, and what the daemon refuses in `netmon lab set`
    (the daemon has no user and writes English; the CLI says it in the user's language)."""
    monkeypatch.setenv("NETMON_LANG", "vi")
    inventory = load(ROOT / "config" / "communes.yaml")
    schema = "version: 1\nlinks:\n  chieng-mung: {loss: 1.5}\n  ta-xua: {delay: \"80\"}\nservices:\n  qlvb: {colour: red}\n"
    targets = ("version: 1\nlinks:\n  atlantis: {delay: 5ms}\nservices:\n  qlvb: {slow_from: {atlantis: 1s}}\n"
               "  mail: {status: 500}\ndevices:\n  moc-son/cpe: {on_battery: true}\n  x/y: {reboots: [1s]}\n")
    for name, text, count in (("schema", schema, 3), ("targets", targets, 5)):
        bad = tmp_path / f"{name}.yaml"
        bad.write_text(text)
        with pytest.raises(ConfigError) as caught:
            scenario.load(bad, inventory)
        assert len(caught.value.issues) == count, caught.value
        for issue in caught.value.issues:
            shown = str(issue)
            assert english_left(shown.split(f"{issue.path}: ", 1)[1]) == [], shown
    with pytest.raises(ValidationError) as refused:
        LinkBehaviour.model_validate({"delay": "80", "loss": 2, "colour": 1})
    said_vi = said(_explain("chieng-mung", refused.value))
    assert said_vi.startswith("chieng-mung: delay: "), said_vi
    for part in said_vi.split(": ", 1)[1].split("; "):  # field: message, the field as in the scenario
        assert english_left(part.split(": ", 1)[1]) == [], said_vi
    for refusal in ("unknown device 'x/y' (expected SITE/DEVICE of the inventory)",
                    "moc-son/cpe is a cpe, only a ups runs on battery", "unknown site, site/link or hub 'x'"):
        assert english_left(said(refusal)) == [], said(refusal)
    monkeypatch.setenv("NETMON_LANG", "en")
    assert said(_explain("chieng-mung", refused.value)) == _explain("chieng-mung", refused.value)


#: Broken YAML → (PyYAML's phrase, as `netmon validate` shows it under en; its Vietnamese form).
YAML_SYNTAX = [
    ("sites:\n\t- a\n", "found character '\\t' that cannot start any token", "ký tự '\\t' không được đứng đầu"),
    ("a:\n  b: 1\n c: 2\n", "expected <block end>, but found '<block mapping start>' (while parsing a block "
     "mapping at line 1)", "thụt lề sai trước '<block mapping start>' (khi đọc một ánh xạ ở dòng 1)"),
    ("a: [1, 2\n", "expected ',' or ']', but got '<stream end>' (while parsing a flow sequence at line 1)",
     "thiếu ',' hoặc ']' trước cuối tệp (khi đọc một danh sách trong [] ở dòng 1)"),
    ("a: *x\n", "found undefined alias 'x'", "bí danh 'x' chưa được định nghĩa"),
    ("a: b\n%YAML 1.1\n", "expected '<document start>', but found '<stream end>'",
     "cần '---' (đầu tài liệu) trước cuối tệp"),
    ('a: "\\q"\n', "found unknown escape character 'q' (while scanning a double-quoted scalar at line 1)",
     "ký tự thoát 'q' không hợp lệ (khi đọc một chuỗi trong dấu nháy ở dòng 1)"),
    ("a: {b: 1,, }\n", "expected the node content, but found ','", "thiếu giá trị trước ','"),
    ("version: 1\na: !!foo x\n", "broken.yaml:2: (yaml): invalid YAML value: could not determine a constructor for the tag 'tag:yaml.org,2002:foo'",
     "broken.yaml:2: (yaml): giá trị YAML không hợp lệ: không hỗ trợ thẻ 'tag:yaml.org,2002:foo'"),
]


@pytest.mark.parametrize(("text", "english", "vi"), YAML_SYNTAX)
def test_pyyamls_own_phrase_reads_in_vietnamese(text: str, english: str, vi: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The file:line:field frame was Vietnamese, PyYAML's explanation after it English (and a constructor's
    error carried PyYAML's own 'in "<unicode string>", line 1' instead of its line)."""
    bad = tmp_path / "broken.yaml"
    bad.write_text(text)
    for lang, phrase in (("en", english), ("vi", vi)):
        monkeypatch.setenv("NETMON_LANG", lang)
        with pytest.raises(ConfigError) as info:
            load(bad)
        (issue,) = info.value.issues
        shown = str(issue)
        assert phrase in shown and "<unicode string>" not in shown, shown
    assert english_left(shown.split(": ", 2)[2]) == [], shown


def test_an_unknown_pyyaml_phrase_is_introduced_in_vietnamese(tmp_path: Path) -> None:
    """`netmon validate` from elsewhere: a phrase without its Vietnamese form stays as PyYAML wrote it,
    inside the Vietnamese sentence."""
    bad = tmp_path / "broken.yaml"
    bad.write_text("a: b\n--- !x\n...\n--- &a [*a\n")
    run = subprocess.run([sys.executable, "-m", "netmon.cli", "--lang", "vi", "validate", str(bad)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and f"{bad}:" in run.stderr + run.stdout, run
    assert "YAML không hợp lệ: but found another document (" in run.stderr + run.stdout, run
