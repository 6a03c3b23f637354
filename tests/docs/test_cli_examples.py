"""docs/cli.md's examples are real output: every ``$ netmon …`` block runs on the simulated province.

A fenced block of docs/cli.md whose first line is ``$ netmon …`` is one terminal session on the session
lab (the shipped inventory, ``calm`` scenario, every earlier ``lab set`` undone). Each ``$`` line runs as a
technician types it — the venv's ``netmon`` on PATH, from the repository root, no ``SSL_CERT_FILE`` and no
``NETMON_*`` variables, stdout and stderr together as a terminal shows them — and what it prints must be
what the doc shows.

Only what differs from one run to the next on the same lab is normalised before comparing (`VARIES`):
times (RTTs, connect and request times, uptimes), process ids, the lab's packet counter, the last TTL a
cut link's hub answered for, and the machine's own CPU and memory load (the lab's SNMP agents report the
host's, CPU only after their first minute).
Whitespace is compared as word breaks, since column widths and line wraps follow those figures' widths.
Verdicts, causes, loss figures, limits, names and the commands typed are compared as printed.

Regenerate after changing what a command prints: ``make docs`` (this test with ``NETMON_DOCS_REGEN=1``)
rewrites each block with this run's output, verbatim.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from netmon.lab import control
from tests.support import ROOT

pytestmark = pytest.mark.privileged

DOC = ROOT / "docs" / "cli.md"
#: A fenced block whose first line is a ``$ netmon`` command; group 1 is its body.
EXAMPLE = re.compile(r"^```[a-z]*\n(\$ netmon .*?)^```$", re.MULTILINE | re.DOTALL)
REGENERATE = os.environ.get("NETMON_DOCS_REGEN") == "1"
VARIES = [
    # uptimes (`probes.wording.duration`): 37 s, 12 min 5 s, 1 d 0 h — one to two units as time passes
    (re.compile(r"\b\d+ (?:(?:d|h|min) \d+ (?:h|min|s)|s)\b"), "T"),
    (re.compile(r"(?<!limit )(?<!=)\b\d+(?:\.\d+)?(?= ?(?:ms|s|h|m)\b)"), "T"),  # 84.2 ms, 2s
    (re.compile(r"\bpid \d+"), "pid N"),
    # the last TTL a hub answered "unreachable" for: under load the error for the last TTLs can come back
    # after the trace stopped waiting (20 in one run, 19 in the next, on the same cut link)
    (re.compile(r"(?<=at TTL )\d+"), "N"),
    (re.compile(r"(delay path: )\d+"), r"\1N"),
    (re.compile(r"\(\d+(?= of them while the machine did not run the lab\))"), "(N"),  # ... and the VM's share
    # netmon snmp's CPU and MEMORY: the host's own load, and CPU only once snmpd has sampled it for a minute
    (re.compile(r"\bCPU\s+(?=MEMORY\b)"), ""),
    (re.compile(r"(?<= up)(\s+)\d+%(?:\s+\d+%)?(?=\s|$)"), r"\1L%"),
]


def sessions() -> list[str]:
    return [m.group(1) for m in EXAMPLE.finditer(DOC.read_text(encoding="utf-8"))]


def normalised(session: str) -> str:
    """The transcript with `VARIES` masked in what commands print (never in the commands typed)."""
    lines = []
    for line in session.splitlines():
        if not line.startswith("$ "):
            for pattern, replacement in VARIES:
                line = pattern.sub(replacement, line)
        lines.append(line)
    return " ".join(" ".join(lines).split())


def run(session: str) -> str:
    """The session's commands run in order; the transcript as a terminal would show it."""
    venv = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETMON_") and k != "SSL_CERT_FILE"}
    env["PATH"] = f"{venv}:/usr/sbin:/usr/bin:/sbin:/bin"
    transcript = []
    for line in session.splitlines():
        if not line.startswith("$ "):
            continue
        argv = shlex.split(line[2:])
        done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=120, check=False)
        assert "Traceback" not in done.stdout, done.stdout
        transcript += [line, *done.stdout.rstrip("\n").splitlines()]
    return "\n".join(transcript) + "\n"


def test_the_doc_has_examples_of_every_command() -> None:
    commands = {shlex.split(line[2:])[1] for s in sessions() for line in s.splitlines() if line.startswith("$")}
    assert {"probe", "ping", "trace", "snmp", "lab"} <= commands, commands


@pytest.mark.parametrize("index", range(len(sessions())),
                         ids=[[line for line in s.splitlines() if line.startswith("$ ")][-1][2:] for s in sessions()])
def test_example_is_real_output(fresh_lab: control.Lab, index: int) -> None:
    shown = sessions()[index]
    real = run(shown)
    if REGENERATE:
        text = DOC.read_text(encoding="utf-8")
        DOC.write_text(text.replace(f"\n{shown}```", f"\n{real}```", 1), encoding="utf-8")
        return
    if normalised(real) != normalised(shown):
        diff = "\n".join(difflib.unified_diff(shown.splitlines(), real.splitlines(), "docs/cli.md", "this run",
                                              lineterm=""))
        pytest.fail(f"docs/cli.md's example no longer matches what netmon prints (`make docs` rewrites "
                    f"it from a lab run):\n{diff}")
