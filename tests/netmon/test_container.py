"""The container as shipped (issue #15, case 13): a read-only root file system and one writable,
declared location — NETMON_DATA_DIR, a volume — for everything netmon writes. No container engine runs
here, so the image's entrypoint (`netmon run` with the compose command) is run directly, as an
unprivileged user in a read-only working directory, the way the container starts it.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.hardening.test_privileges import READABLE_PYTHON
from tests.support import ROOT, free_port, http_get, wait_until

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (ROOT / "Dockerfile").read_text()
#: The image's user with what the image gives it: CAP_NET_RAW (a file capability on the interpreter there,
#: an ambient one here) and nothing else.
AS_IMAGE_USER = ("setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
                 "--inh-caps=-all,+net_raw", "--ambient-caps=+net_raw")


def test_compose_gives_netmon_one_writable_declared_location() -> None:
    service = COMPOSE["services"]["netmon"]
    assert service["read_only"] is True
    data_dir = service["environment"]["NETMON_DATA_DIR"]
    mounts = {v.split(":")[1]: v for v in service["volumes"]}
    assert data_dir in mounts and not mounts[data_dir].endswith(":ro"), mounts
    assert mounts[data_dir].split(":")[0] in COMPOSE["volumes"]  # a named volume: survives upgrades
    assert re.search(rf"^ENV NETMON_DATA_DIR={re.escape(data_dir)}$", DOCKERFILE, re.MULTILINE)
    assert re.search(rf"^VOLUME {re.escape(data_dir)}$", DOCKERFILE, re.MULTILINE)


@pytest.fixture
def container_like() -> Iterator[tuple[Path, Path, Path]]:
    """(read-only working directory, writable data dir owned by nobody, inventory) as in the image."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the entrypoint as an unprivileged user")
    top = Path(tempfile.mkdtemp(prefix="nmt-container-"))
    top.chmod(0o755)
    workdir, data = top / "workdir", top / "data"
    workdir.mkdir(mode=0o555)
    data.mkdir()
    os.chown(data, 65534, 65534)
    inventory = top / "communes.yaml"
    inventory.write_text((ROOT / "tests" / "fixtures" / "inventory" / "valid.yaml").read_text())
    inventory.chmod(0o644)
    yield workdir, data, inventory


def _entrypoint(workdir: Path, inventory: Path, port: int, log: Path, **env: str) -> subprocess.Popen[bytes]:
    command = ["run", "--config", str(inventory), "--listen", f"127.0.0.1:{port}"]  # compose's, on loopback
    with log.open("wb") as out:
        return subprocess.Popen([*READABLE_PYTHON, *AS_IMAGE_USER, str(ROOT / ".venv" / "bin" / "python"), "-m",
                                 "netmon.cli", *command], cwd=workdir, stdout=out, stderr=subprocess.STDOUT,
                                env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "HOME": "/tmp", **env})


def _stop(proc: subprocess.Popen[bytes], log: Path) -> str:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=30)
    return log.read_text()


def test_entrypoint_writes_its_history_to_the_data_dir(container_like: tuple[Path, Path, Path]) -> None:
    workdir, data, inventory = container_like
    port, out = free_port(), inventory.parent / "netmon.log"
    proc = _entrypoint(workdir, inventory, port, out, NETMON_DATA_DIR=str(data))
    try:
        def healthy() -> bool:
            assert proc.poll() is None, out.read_text()
            try:
                return http_get(f"http://127.0.0.1:{port}/-/healthy", timeout=1)[0] == 200
            except OSError:
                return False
        wait_until(healthy, 30, "the entrypoint's /-/healthy")
        wait_until(lambda: (data / "history.db").is_file(), 30, "the history store in NETMON_DATA_DIR")
    finally:
        log = _stop(proc, out)
    assert "Traceback" not in log and "ERROR" not in log, log
    with sqlite3.connect(data / "history.db") as db:
        assert db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] > 0


def test_entrypoint_without_a_writable_location_names_the_path(container_like: tuple[Path, Path, Path]) -> None:
    """The image as it was: no volume, the default relative to a read-only working directory."""
    workdir, _, inventory = container_like
    port, out = free_port(), inventory.parent / "netmon.log"
    proc = _entrypoint(workdir, inventory, port, out)
    try:
        wait_until(lambda: proc.poll() is not None or "cannot open" in out.read_text(), 30,
                   "the history store's error")
    finally:
        log = _stop(proc, out)
    errors = [line for line in log.splitlines() if "ERROR" in line]
    assert errors and "Traceback" not in log, log
    assert f"cannot open {workdir}/var/netmon/history.db" in errors[0], errors  # the absolute path


@pytest.mark.parametrize("command", [("ping", "127.0.0.1", "--count", "1"), ("trace", "127.0.0.1")],
                         ids=["ping", "trace"])
def test_cli_probes_run_as_the_image_user(container_like: tuple[Path, Path, Path], command: tuple[str, ...]) -> None:
    """`netmon ping`/`netmon trace` as the image runs them: its user, CAP_NET_RAW only, a read-only working
    directory without an inventory (the registry finds its plugins anyway; trace's worker process keeps
    the capability, as the image's file capability on the interpreter gives it to every exec)."""
    workdir, _, _ = container_like
    done = subprocess.run([*READABLE_PYTHON, *AS_IMAGE_USER, str(ROOT / ".venv" / "bin" / "python"), "-m",
                           "netmon.cli", *command], cwd=workdir, capture_output=True, text=True, timeout=60,
                          env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "HOME": "/tmp"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "127.0.0.1" in done.stdout, done.stdout + done.stderr
