"""Inputs that used to give a wrong answer without a word: ambiguous site names, credentials in URLs."""

from __future__ import annotations

import base64
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from netmon.diagnose.lookup import AmbiguousPlace, find
from netmon.inventory.model import InventoryFile
from probes import base, http
from probes.base import Check
from tests.hardening.test_hostile import hostile
from tests.netmon.test_service import write_inventory
from tests.support import ROOT


@pytest.fixture(scope="module")
def twins() -> InventoryFile:
    """The shipped inventory plus a "Mường Bu" next to the real "Mường Bú" (they fold to one key)."""
    raw = yaml.safe_load((ROOT / "config" / "communes.yaml").read_text())
    original = next(s for s in raw["sites"] if s["slug"] == "muong-bu")
    raw["sites"].append({**original, "slug": "muong-bu-2", "name": "Mường Bu", "admin_code": "99999"})
    return InventoryFile.model_validate(raw)


@pytest.mark.parametrize(("query", "slug"), [("Mường Bú", "muong-bu"), ("Mường Bu", "muong-bu-2"),
                                             ("muong-bu-2", "muong-bu-2"), ("muong-bu", "muong-bu")])
def test_an_exact_name_with_diacritics_or_a_slug_wins(twins: InventoryFile, query: str, slug: str) -> None:
    assert find(twins, query).slug == slug


def test_a_folded_name_matching_two_places_is_an_error_listing_both(twins: InventoryFile) -> None:
    with pytest.raises(AmbiguousPlace) as caught:
        find(twins, "muong bu")
    assert caught.value.exit_code == 3
    assert caught.value.choices == ["Mường Bú (muong-bu)", "Mường Bu (muong-bu-2)"]
    assert "Mường Bú (muong-bu); Mường Bu (muong-bu-2)" in str(caught.value)


PASSWORD = "s3cret-pw-17-in-url"


def test_credentials_in_an_http_url_are_rejected_at_validation_without_echoing_them(tmp_path: Path) -> None:
    config = write_inventory(tmp_path / "inv.yaml",
                             [f"{{id: web, probe: http, target: 'http://admin:{PASSWORD}@127.0.0.1:8080/'}}"], [])
    done = subprocess.run([sys.executable, "-m", "netmon.cli", "validate", str(config)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert re.search(r"inv\.yaml:\d+: .*checks\[0\]\.target: credentials in the URL", out), out
    assert "basic_auth" in out and "password_file" in out
    assert PASSWORD not in out


async def test_basic_auth_reads_the_password_from_its_file(tmp_path: Path) -> None:
    secret = tmp_path / "web.password"
    secret.write_text(PASSWORD + "\n")
    expected = "Basic " + base64.b64encode(f"netmon:{PASSWORD}".encode()).decode()

    def serve(conn: socket.socket, port: int) -> None:
        request = conn.recv(65536).decode()
        ok = f"authorization: {expected}".lower() in request.lower()
        conn.sendall(b"HTTP/1.1 %s\r\nContent-Length: 0\r\n\r\n" % (b"200 OK" if ok else b"401 Unauthorized"))

    def check(password_file: Path) -> Check:
        options = base.options(http.HttpOptions,
            {"basic_auth": {"username": "netmon", "password_file": str(password_file)}})
        return Check(site="t", id="web", probe="http", target=f"http://127.0.0.1:{port}/", options=options,
                     timeout=3)

    with hostile(serve) as port:
        good = await http.run(check(secret))
        missing = await http.run(check(tmp_path / "nowhere"))
    assert good.success, good.error
    assert PASSWORD not in good.target
    assert not missing.success and missing.reason == "credentials"
