"""The HTTP side of `netmon run` under ordinary-but-unplanned use: HEAD requests, a busy port."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
from pathlib import Path

from tests.netmon.test_service import write_inventory
from tests.support import netmon_run


def test_head_answers_like_get_without_a_body(tmp_path: Path) -> None:
    config = write_inventory(tmp_path / "inv.yaml", [], [])
    with netmon_run(config, tmp_path, "--no-history") as netmon:
        host, port = netmon.url.removeprefix("http://").split(":")
        for path in ("/metrics", "/-/healthy"):
            conn = http.client.HTTPConnection(host, int(port), timeout=5)
            conn.request("GET", path)
            got = conn.getresponse()
            body = got.read()
            conn.request("HEAD", path)  # same connection: a body after HEAD would corrupt the next reply
            head = conn.getresponse()
            assert (head.status, head.read()) == (200, b""), path
            assert head.getheader("Content-Type") == got.getheader("Content-Type")
            assert int(head.getheader("Content-Length") or -1) > 0 and len(body) > 0
            conn.request("GET", "/-/healthy")
            assert conn.getresponse().read().startswith(b"OK")
            conn.close()


def test_a_busy_port_is_one_line_naming_the_address(tmp_path: Path) -> None:
    config = write_inventory(tmp_path / "inv.yaml", [], [])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        for lang, words in (("en", "Address already in use — another netmon"),
                            ("vi", "không mở được cổng " + address + ": địa chỉ đang được dùng — có thể")):
            done = subprocess.run([sys.executable, "-m", "netmon.cli", "--lang", lang, "run", "--config",
                                   str(config), "--no-history", "--listen", address],
                                  cwd=tmp_path, capture_output=True, text=True, timeout=60)
            assert done.returncode == 1
            lines = done.stderr.strip().splitlines()
            assert lines[-1].startswith("netmon: ") and address in lines[-1] and words in lines[-1], done.stderr
            assert "Traceback" not in done.stderr
