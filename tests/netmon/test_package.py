"""The package as the image installs it (`pip install .`, not the editable install the tests run on).

A listed `packages = [...]` shipped the four top-level packages without any subpackage: the editable
install hid it, and the image's `netmon` could not import `netmon.commands`. Here the wheel is built the
way pip builds it, must hold every tracked file of the four packages, and its `netmon` must run from a
directory outside the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGES = ("probes", "collectors", "exporters", "netmon")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from the tracked files alone (as in a fresh checkout, edits included): a `build/` left in
    the working tree by an earlier build would otherwise be packed again and hide what is missing."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True,
                               cwd=ROOT).stdout.splitlines():
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
                   check=True, capture_output=True, cwd=out)
    (built,) = out.glob("sonla_netmon-*.whl")
    return built


def test_the_wheel_ships_every_tracked_file_of_the_packages(wheel: Path) -> None:
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if ".dist-info/" not in n}
    tracked = set(subprocess.run(["git", "ls-files", *PACKAGES], capture_output=True, text=True, check=True,
                                 cwd=ROOT).stdout.split())
    assert len(tracked) > 100
    assert sorted(tracked - shipped) == [] and sorted(shipped - tracked) == []


def test_the_installed_netmon_runs_outside_the_repository(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site), "NETMON_LANG": "vi"}
    where = subprocess.run([sys.executable, "-c", "import netmon.commands.run, netmon.lab.daemon, "
                            "netmon.report, netmon.diagnose.diagnosis as d; print(d.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
    assert where.returncode == 0 and where.stdout.startswith(str(site)), where.stderr
    done = subprocess.run([sys.executable, "-m", "netmon.cli", "validate",
                           str(ROOT / "config" / "communes.yaml")], capture_output=True, text=True, env=env,
                          cwd=tmp_path)
    assert done.returncode == 0 and "hợp lệ — 75 điểm" in done.stdout, done.stderr
