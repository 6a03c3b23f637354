"""The report commands' usage and source errors in the user's language, each naming what to fix (they were
English under ``--lang vi``); lab-free, no traffic beyond a refused loopback port."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.history_schema import connect
from netmon.cli import main
from tests.support import free_port


@pytest.fixture
def empty_store(tmp_path: Path) -> Path:
    path = tmp_path / "history.db"
    connect(path).close()
    return path


def _vi(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, str]:
    monkeypatch.setenv("NETMON_LANG", "vi")  # restored afterwards: main() sets it from --lang
    code = main(["--lang", "vi", *argv])
    return code, capsys.readouterr().err


def test_reclassify_errors_in_vietnamese(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                         empty_store: Path) -> None:
    base = ["report", "reclassify", "--history", str(empty_store)]
    for extra, said in (
        (["42", "--as", "power", "--reason", "mất điện lưới"],
         f"{empty_store}: không có sự cố mã 42 (xem danh sách bằng `netmon report incidents`)"),
        (["42", "--as", "power"], "--reason phải nêu lý do"),
        (["42", "--reason", "x"], "hãy cho --as, hoặc ít nhất --ticket hay --actions"),
        ([], "cách dùng: netmon report reclassify OUTAGE"),
    ):
        code, err = _vi(capsys, monkeypatch, *base[:2], *extra[:1], *base[2:], *extra[1:])
        assert code == 1 and said in err, err


def test_report_errors_in_vietnamese(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                     tmp_path: Path, empty_store: Path) -> None:
    garbage = tmp_path / "not-a-store.db"
    garbage.write_text("hello")
    url = f"http://127.0.0.1:{free_port()}"
    for argv, said in (
        (["report", "--from", "hôm qua"], "không đọc được thời điểm 'hôm qua' (dùng YYYY-MM-DD"),
        (["report", "contract", "--period", "2026-H3"], "--period '2026-H3': dùng một năm (2026)"),
        (["report", "contract", "--period", "2026-H1", "--format", "html", "--history", str(empty_store)],
         "--format html dành cho `netmon report filing`"),
        (["report", "--from", "7d", "--history", str(garbage)], f"{garbage}: không phải kho lịch sử đọc được"),
        (["report", "--from", "7d", "--source", "prometheus", "--url", url],
         f"không truy vấn được Prometheus tại {url}"),
    ):
        code, err = _vi(capsys, monkeypatch, *argv)
        assert code == 1 and said in err and "Traceback" not in err, err
