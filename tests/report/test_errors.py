"""The report commands' usage and source errors in the user's language, each naming what to fix (they were
English under ``--lang vi``); lab-free, no traffic beyond a refused loopback port."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exporters.history_schema import connect
from netmon.cli import main
from tests.support import ROOT, free_port


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
        (["report", "--from", "7d", "--history", str(garbage)], f"{garbage}: không phải kho lịch sử đọc được (tệp không phải cơ sở dữ liệu SQLite)"),
        (["report", "--from", "7d", "--source", "prometheus", "--url", url],
         f"không truy vấn được Prometheus tại {url}"),
        # an --out it cannot write was an OSError traceback; these five were English under --lang vi
        (["report", "--from", "7d", "--history", str(empty_store), "--format", "csv", "--out",
          str(tmp_path / "none" / "q1.csv")], f"netmon: không ghi được {tmp_path / 'none' / 'q1.csv'} (không có tệp này)"),
        (["report", "--source", "prometheus"], "--source prometheus cần --url (ví dụ http://127.0.0.1:9090)"),
        (["report", "upgrade", "--history", str(empty_store)], "cách dùng: netmon report upgrade TRUNG-TÂM"),
        (["report", "upgrade", "nowhere", "--history", str(empty_store)], "không có trung tâm 'nowhere'"),
        (["report", "upgrade", "chieng-coi", "--link", "xx", "--history", str(empty_store)],
         "trung tâm chieng-coi không có đường truyền 'xx'"),
        (["report", "--from", "2026-03-02", "--to", "2026-03-01", "--history", str(empty_store)],
         "--from phải trước --to"),
    ):
        code, err = _vi(capsys, monkeypatch, *argv)
        assert code == 1 and said in err and "Traceback" not in err, err


@pytest.mark.parametrize(("lang", "said"), [("vi", "kết nối bị từ chối"), ("en", "Connection refused")])
def test_an_unreachable_prometheus_is_said_in_the_users_language(tmp_path: Path, lang: str, said: str) -> None:
    """httpx's transport error ("[Errno 111] Connection refused") was English under --lang vi, in the
    report and in `netmon agent compare` (both ask Prometheus through `prom.query`); run from elsewhere."""
    url = f"http://127.0.0.1:{free_port()}"
    for argv in (["report", "--from", "7d", "--source", "prometheus", "--url", url,
                  "--config", str(ROOT / "config" / "communes.yaml")],
                 ["agent", "compare", "xa-chieng-an", "--prometheus", url]):
        run = subprocess.run([sys.executable, "-m", "netmon.cli", "--lang", lang, *argv], cwd=tmp_path,
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 1 and said in run.stderr and "Traceback" not in run.stderr, run.stderr
        assert ("refused" in run.stderr) == (lang == "en"), run.stderr


@pytest.mark.parametrize(("value", "lang", "said"), [
    ("2x", "vi", "--ignore-shorter-than: cần một khoảng thời gian, ví dụ 30s, 500ms hoặc 2m"),
    ("80", "vi", "--ignore-shorter-than: '80' cần đơn vị: 80ms hoặc 80s"),
    ("2x", "en", "--ignore-shorter-than: expected a duration such as 30s, 500ms or 2m"),
])
def test_ignore_shorter_than_says_its_parse_error_in_the_users_language(
        tmp_path: Path, empty_store: Path, value: str, lang: str, said: str) -> None:
    """The flag's own name was the only Vietnamese of it; the duration parser's message is the inventory's
    (`wording.say`), as for a duration in the YAML. Run from elsewhere."""
    run = subprocess.run([sys.executable, "-m", "netmon.cli", "--lang", lang, "report", "contract", "--period",
                          "2026", "--ignore-shorter-than", value, "--history", str(empty_store),
                          "--config", str(ROOT / "config" / "communes.yaml")],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and said in run.stderr and "Traceback" not in run.stderr, run.stderr
