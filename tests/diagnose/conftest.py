"""A loopback province for `netmon probe`: ICMP to 127.0.x.x, a TCP listener we open or leave closed,
an HTTP server answering 200 or 503, all written into a copy of tests/fixtures/diagnose/loopback.yaml.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from netmon.cli import main
from tests.support import free_port, http_server, tcp_listener

TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "diagnose" / "loopback.yaml"

Province = Callable[..., Path]


@pytest.fixture
def province(tmp_path: Path) -> Iterator[Province]:
    """``province(status=200, tcp_open=True, **replace)`` → an inventory path with live peers."""
    with ExitStack() as stack:

        def build(status: int = 200, tcp_open: bool = True, **replace: str) -> Path:
            url = stack.enter_context(http_server(status))
            port = stack.enter_context(tcp_listener("127.0.2.1")) if tcp_open else free_port()
            text = TEMPLATE.read_text().replace("{qlvb_url}", url).replace("{tcp_port}", str(port))
            for old, new in replace.items():
                assert old in text, old
                text = text.replace(old, new)
            path = tmp_path / f"province-{port}.yaml"
            path.write_text(text)
            return path

        yield build


def netmon(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the real CLI entry point in-process; (exit code, stdout, stderr).

    ``--lang`` sets NETMON_LANG for the process, as it must for a real run: restored afterwards, so one
    test's language does not leak into the next."""
    before = os.environ.get("NETMON_LANG")
    try:
        code = main(list(argv))
    finally:
        if before is None:
            os.environ.pop("NETMON_LANG", None)
        else:
            os.environ["NETMON_LANG"] = before
    out, err = capsys.readouterr()
    return code, out, err


def netmon_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code, out, _ = netmon(capsys, *argv, "--json")
    return code, json.loads(out)
