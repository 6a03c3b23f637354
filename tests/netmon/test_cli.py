"""The `netmon` command line itself: usage errors have their own exit code (3; 2 means "down") and the
global options work before or after the subcommand (issue #15, case 10)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from netmon.cli import USAGE_EXIT, build_parser, main
from tests.diagnose.conftest import TEMPLATE
from tests.support import ROOT


@pytest.mark.parametrize("argv", [
    ["--no-such-option"],
    ["probe"],                              # SITE missing
    ["probe", "x", "--count", "0"],         # a bad value
    ["probe", "x", "--lang", "fr"],
    ["lab", "set"],                         # nested subcommand, target missing
    ["no-such-command"],
])
def test_usage_errors_exit_3_not_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == USAGE_EXIT == 3
    assert "usage: netmon" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "lang", "level"), [
    (["--lang", "vi", "probe", "x"], "vi", None),
    (["probe", "x", "--lang", "vi"], "vi", None),
    (["probe", "--lang", "vi", "x", "--log-level", "DEBUG"], "vi", "DEBUG"),
    (["lab", "status", "--lang", "vi"], "vi", None),
    (["--lang", "vi", "--log-level", "INFO", "validate"], "vi", "INFO"),  # not reset by the subcommand
    (["validate"], None, None),
])
def test_global_options_anywhere(argv: list[str], lang: str | None, level: str | None,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NETMON_LOG_LEVEL", raising=False)
    args = build_parser().parse_args(argv)
    assert (args.lang, args.log_level) == (lang, level)


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """`netmon … | head` ends without a BrokenPipeError traceback (issue #15, case 14): a live table
    (`probe --watch`) writes again after the reader has gone."""
    config = tmp_path / "inventory.yaml"
    config.write_text(TEMPLATE.read_text().replace("{qlvb_url}", "http://127.0.0.1:9/")
                      .replace("{tcp_port}", "9"))
    proc = subprocess.Popen([sys.executable, "-m", "netmon.cli", "probe", "chieng-mung", "--check", "cpe-tcp",
                             "--config", str(config), "--watch", "0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()  # like `head -1`: one line, then the reader goes away
    proc.stdout.close()
    code = proc.wait(timeout=30)
    err = proc.stderr.read().decode()
    assert "Traceback" not in err and "BrokenPipeError" not in err, err
    assert code == 128 + signal.SIGPIPE


@pytest.mark.parametrize("command", [["demo"], ["run", "--no-history", "--config",
                                                str(ROOT / "tests" / "fixtures" / "inventory" / "valid.yaml")]])
def test_a_busy_listen_port_is_one_clear_line_before_anything_starts(command: list[str]) -> None:
    """`make demo` with the port taken built the whole lab, printed its guide, then a traceback (case 11)."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        listen = f"127.0.0.1:{busy.getsockname()[1]}"
        done = subprocess.run([sys.executable, "-m", "netmon.cli", *command, "--listen", listen],
                              capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"netmon: cannot listen on {listen}: Address already in use — another netmon" in done.stderr
    assert "simulated province" not in done.stdout  # no lab was built, no guide printed


def test_the_readmes_next_commands_work_from_any_directory(tmp_path: Path) -> None:
    """After `make demo` (netmon in .venv, not on PATH) the guide's commands must work as printed, and
    the default inventory must be found from any directory (issue #15, case 15)."""
    from netmon.commands.demo import guide

    env = {k: v for k, v in os.environ.items() if k != "NETMON_CONFIG"}
    env["PATH"] = "/usr/bin:/bin"  # a fresh shell: no .venv/bin
    shown = [line.split(":", 1)[1].strip() for line in guide(str(ROOT / "config" / "communes.yaml"),
                                                              "province-day", "127.0.0.1:9813").splitlines()
             if "snmp to-hieu" in line or "probe moc-son" in line]
    assert len(shown) == 2
    prefix = shown[1].split(" probe ")[0]
    assert shutil.which(prefix.split()[0], path=env["PATH"]) or Path(prefix.split()[0]).is_file(), prefix
    done = subprocess.run([*prefix.split(), "validate"], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "OK — 75 sites" in done.stdout and str(ROOT / "config" / "communes.yaml") in done.stdout


def test_the_alerts_commands_work_from_any_directory(tmp_path: Path) -> None:
    """`netmon alerts generate --check` read ./alerts/alertmanager.base.yml and ended in a traceback
    outside the repository; it finds the shipped alerts/ as it finds the shipped inventory, and a wrong
    --alerts-dir is a clear error naming the file, in the user's language."""
    env = {k: v for k, v in os.environ.items() if k not in ("NETMON_CONFIG", "NETMON_LANG")}
    netmon = [sys.executable, "-m", "netmon.cli"]
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([*netmon, "alerts", "generate", "--check"], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    for argv, said in (
        (["alerts", "generate", "--check"], "alertmanager.base.yml: cannot read it"),
        (["alerts", "backtest", "--from", "7d"], "recording.rules.yml: cannot read it"),
        (["alerts", "generate", "--check", "--lang", "vi"], "alertmanager.base.yml: không đọc được"),
    ):
        done = subprocess.run([*netmon, *argv, "--alerts-dir", str(tmp_path / "none")], capture_output=True,
                              text=True, cwd=tmp_path, env=env, timeout=60)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert f"{tmp_path / 'none'}/" in done.stderr and said in done.stderr, done.stderr


def test_backtest_names_the_rules_file_it_cannot_read_and_why(tmp_path: Path) -> None:
    """A rules file that exists but cannot be read (here a directory) was said to be missing ("No such
    file or directory"): backtest now opens the files and words the reason as generate does."""
    env = {k: v for k, v in os.environ.items() if k not in ("NETMON_CONFIG", "NETMON_LANG")}
    env["PYTHONPATH"] = str(ROOT)
    alerts = tmp_path / "alerts"
    shutil.copytree(ROOT / "alerts", alerts)
    (alerts / "netmon.rules.yml").unlink()
    (alerts / "netmon.rules.yml").mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for language, said in (("en", "cannot read it (Is a directory)"), ("vi", "không đọc được (đây là thư mục)")):
        done = subprocess.run([sys.executable, "-m", "netmon.cli", "alerts", "backtest", "--from", "7d",
                               "--alerts-dir", str(alerts), "--lang", language], capture_output=True,
                              text=True, cwd=elsewhere, env=env, timeout=60)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert f"{alerts / 'netmon.rules.yml'}: {said}" in done.stderr, done.stderr


def test_run_that_cannot_read_its_inventory_leaves_no_history_store(tmp_path: Path) -> None:
    """`netmon run --config config/communes.yaml` (the README's line) typed outside the repository fails on
    the inventory; it created var/netmon/history.db in the current directory first."""
    env = {k: v for k, v in os.environ.items() if k not in ("NETMON_CONFIG", "NETMON_LANG", "NETMON_DATA_DIR")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "netmon.cli", "run", "--config", "config/communes.yaml",
                           "--listen", "127.0.0.1:0"], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert "config/communes.yaml:0: (file): cannot read: No such file or directory" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_missing_history_store_is_said_in_the_users_language(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "history.db"
    assert main(["report", "--from", "7d", "--history", str(missing), "--lang", "vi"]) == 1
    assert f"không có kho lịch sử tại {missing}" in capsys.readouterr().err


def test_lang_does_not_outlive_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    """`main --lang vi` called in-process (tests, a module-scoped fixture) left NETMON_LANG=vi behind, and
    every netmon started afterwards spoke Vietnamese to a test that expected English."""
    monkeypatch.setenv("NETMON_LANG", "en")
    assert main(["--lang", "vi", "validate", str(ROOT / "config" / "communes.yaml")]) == 0
    assert os.environ["NETMON_LANG"] == "en"
    monkeypatch.delenv("NETMON_LANG")
    assert main(["validate", "--lang", "vi", str(ROOT / "config" / "communes.yaml")]) == 0
    assert "NETMON_LANG" not in os.environ
