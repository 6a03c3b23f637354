"""`netmon lab` under ``--lang vi``: every lab error and message in Vietnamese, without root or a lab.

Every ``LabError(...)`` in the code names a key of `netmon.lab.netns.MESSAGES` (walked here, so a new
English-only error fails); every entry has its Vietnamese form, which must pass the same English-word
detector as the config errors. The commands themselves run against the lab daemon's own control path,
served from a temporary state directory (a `Daemon` built from the shipped inventory, never started:
no namespace, no root), so a refusal goes through the same code as on the lab.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import string
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from netmon.cli import main
from netmon.commands import lab as lab_command
from netmon.commands.demo import guide
from netmon.inventory import load
from netmon.lab import netns, scenario
from netmon.lab.daemon import Daemon
from tests.netmon.test_config_wording import english_left
from tests.support import ROOT

#: Names of programs, packages and placeholders the Vietnamese texts quote as they are.
QUOTED = {"lab", "pid", "snmpd", "wireguard", "go", "debian", "iproute2", "nftables", "iptables", "blackhole",
          "ca", "no", "such", "site", "loss", "printer", "hieu", "calm", "province", "day", "storm", "demo", "hub", "reset", "ctrl", "c", "sudo"}


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _raises() -> Iterator[tuple[str, int, ast.expr | None]]:
    """Every ``LabError(...)`` in the project's code: (file, line, its first argument)."""
    for path in sorted((ROOT / "netmon").rglob("*.py")):  # the layers below cannot import it
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name == "LabError":
                    yield str(path.relative_to(ROOT)), node.lineno, node.args[0] if node.args else None


def test_every_lab_error_names_a_worded_message() -> None:
    found = list(_raises())
    assert len(found) >= 15, "the scan is broken"
    bad = [f"{file}:{line}" for file, line, arg in found
           if not (isinstance(arg, ast.Constant) and arg.value in netns.MESSAGES)]
    assert not bad, f"LabError without a key of netns.MESSAGES (English-only text?): {bad}"


@pytest.mark.parametrize("catalog", [netns.MESSAGES, lab_command._TEXT], ids=["errors", "messages"])
def test_every_lab_text_has_its_vietnamese_form(catalog: dict[str, tuple[str, str]]) -> None:
    for key, (english, vietnamese) in catalog.items():
        assert vietnamese != english, key
        assert _placeholders(vietnamese) == _placeholders(english), key
        prose = re.sub(r"\{[^}]*\}", " ", vietnamese)
        assert [w for w in english_left(prose) if w.lower() not in QUOTED] == [], (key, vietnamese)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The lab daemon's control socket, served from a temporary state directory by a `Daemon` that
    never started its servers; ``daemon.pid`` names this process, which is alive."""
    state = tmp_path_factory.mktemp("lab-state")
    served = Daemon(str(ROOT / "config" / "communes.yaml"), str(scenario.resolve_path("calm")), state)
    served.started = time.monotonic() - 725  # up 12 min 5 s
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_unix_server(served._control, path=str(state / "control.sock")))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    (state / "daemon.pid").write_text(f"{os.getpid()}\n")
    yield state
    loop.call_soon_threadsafe(loop.stop)
    thread.join()
    server.close()
    loop.close()
    served.events.close()


def netmon(state: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETMON_")}
    return subprocess.run([sys.executable, "-m", "netmon.cli", *argv], env={**env, "NETMON_LAB_STATE": str(state)},
                          capture_output=True, text=True, timeout=60, check=False)


def shown(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    return (done.stdout + done.stderr).strip()


def foreign(output: str) -> list[str]:
    """English words in ``output``, but for what it quotes: names, paths and the scenario's key=value."""
    output = re.sub(r"\S+=\S*|/\S+", " ", output)
    return [w for line in output.splitlines() for w in english_left(line) if w.lower() not in QUOTED]


def test_lab_commands_speak_vietnamese(daemon: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    refused = netmon(daemon, "--lang", "vi", "lab", "set", "no-such-site", "loss=0.1")
    assert refused.returncode == 1
    assert shown(refused) == "netmon: không có điểm, điểm/đường truyền hay trạm tập trung 'no-such-site'"
    assert main(["--lang", "vi", "lab", "set", "chieng-mung", "loss"]) == 1  # said before any lab is looked for
    assert capsys.readouterr().err == "netmon: cần dạng KHÓA=GIÁ_TRỊ, nhận được 'loss'\n"
    reboot = netmon(daemon, "--lang", "vi", "lab", "reboot", "to-hieu/printer")
    assert reboot.returncode == 1 and foreign(shown(reboot)) == [], shown(reboot)
    nothing = netmon(tmp_path, "--lang", "vi", "lab", "status")  # no daemon.pid: no lab
    assert shown(nothing) == ("netmon: chưa có lab nào chạy: hãy khởi động bằng `netmon lab up` "
                              "(hoặc `netmon demo`)")
    status = netmon(daemon, "--lang", "vi", "lab", "status")
    assert status.returncode == 0, status.stderr
    assert foreign(shown(status)) == [], shown(status)
    assert re.match(r"kịch bản calm, đã chạy 12 phút \d+ giây, tiến trình nền pid \d+$",
                    shown(status).splitlines()[0]), shown(status)  # not "up 725 s"
    # the late releases the machine caused (the VM did not run the holder) are said apart from the lab's
    assert "gói bị thả muộn (quá 3 ms) bởi đường làm trễ: 0 (0 trong số đó khi máy không chạy lab)" in shown(status)
    english = netmon(daemon, "--lang", "en", "lab", "status")
    assert "by the delay path: 0 (0 of them while the machine did not run the lab), worst by 0.0 ms" in shown(english)


@pytest.mark.parametrize("preset", sorted(p.stem for p in scenario.PRESETS.glob("*.yaml")))
def test_the_demo_guide_speaks_vietnamese(preset: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`netmon demo`'s guide: its labels, notes and the preset's own description (``{en, vi}``)."""
    monkeypatch.setenv("NETMON_LANG", "vi")
    shown = guide(str(ROOT / "config" / "communes.yaml"), preset, "127.0.0.1:9813")
    # Prose only: a row's label and note, not the command between them nor a scenario entry's values.
    prose = [re.sub(r":\s.*?(?:\s{3}(\(.*\)))?$", r" \1", line) if line.startswith("  ") else line
             for line in shown.splitlines()]
    assert foreign("\n".join(prose)) == [], shown
    monkeypatch.setenv("NETMON_LANG", "en")
    assert scenario.load(preset, load(ROOT / "config" / "communes.yaml")).describe("en") in guide(
        str(ROOT / "config" / "communes.yaml"), preset, "127.0.0.1:9813")
