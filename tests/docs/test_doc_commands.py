"""Every `netmon …` command the README and docs/ show in a shell block is one netmon accepts as written.

Options get renamed and subcommands move; a reader who pastes a line from the docs must not meet a usage
error. This parses each documented command line with netmon's own parser (what runs it is the business of
the tests for that command; docs/cli.md's examples are also re-run on the lab by test_cli_examples.py).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from netmon.cli import build_parser
from tests.support import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_BLOCK = re.compile(r"```(?:sh|bash|shell|console)\n(.*?)```", re.S)
#: A netmon invocation inside a shell line: optional VAR=value prefixes, optional .venv/bin/ path.
_COMMAND = re.compile(r"^(?:[A-Z_]+=\S+\s+)*(?:\S*/)?netmon\s+(.*)$")


def documented() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for block in _BLOCK.findall(doc.read_text(encoding="utf-8")):
            for line in block.splitlines():
                line = line.strip().removeprefix("$ ")
                if " — " in line:  # a heading printed by netmon itself, in a captured output
                    continue
                for part in re.split(r";|&&|\|", line.split(" #")[0]):
                    match = _COMMAND.match(part.strip())
                    if match:
                        found.append((f"{doc.relative_to(ROOT)}: netmon {match.group(1)}", match.group(1)))
    return found


COMMANDS = documented()


def test_the_docs_show_commands() -> None:
    assert len(COMMANDS) > 40


@pytest.mark.parametrize("where,args", COMMANDS, ids=[w for w, _ in COMMANDS])
def test_documented_command_parses(where: str, args: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a for a in shlex.split(args) if not re.fullmatch(r"\[[A-Z_]+\]", a)]  # [PATH]: optional
    try:
        parsed = build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: netmon refuses it: {capsys.readouterr().err.strip()}")
    assert getattr(parsed, "func", None), f"{where}: not a command netmon runs"


def test_a_wrong_option_is_caught(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(shlex.split("report --output-format html"))
    assert "--output-format" in capsys.readouterr().err


def test_every_doc_is_read() -> None:
    assert {Path(w.split(":")[0]).name for w, _ in COMMANDS} >= {"README.md", "lab.md", "cli.md", "runbook.md"}
