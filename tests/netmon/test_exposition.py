"""/metrics as a scraper sees it: gzip when asked, ``name[]`` filtering, on both encoders."""

from __future__ import annotations

import gzip
import urllib.request
from pathlib import Path

from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from netmon.httpserver import WRITE_CHUNKS, batches, gzip_chunks
from tests.netmon.test_service import write_inventory
from tests.support import netmon_run, tcp_listener, wait_until

OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def _get(url: str, **headers: str) -> tuple[dict[str, str], bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as reply:
        return dict(reply.headers.items()), reply.read()


def _series(text: str) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """Sample names and labels, values left out (they move between scrapes)."""
    return {(s.name, tuple(sorted(s.labels.items())))
            for family in text_string_to_metric_families(text) for s in family.samples
            if not s.name.startswith(("process_", "netmon_scheduler", "netmon_event_loop"))}


def test_gzip_when_asked_and_name_filter_on_both_encoders(tmp_path: Path) -> None:
    with tcp_listener() as port:
        config = write_inventory(tmp_path / "inv.yaml", [], [f"{{id: web, probe: tcp, target: '127.0.0.1:{port}'}}"])
        with netmon_run(config, tmp_path) as netmon:
            url = f"{netmon.url}/metrics"
            wait_until(lambda: b'check="web"' in _get(url)[1], 30, "the tcp check's first run")
            plain_headers, plain = _get(url)
            zipped_headers, zipped = _get(url, **{"Accept-Encoding": "gzip"})
            refused_headers, _ = _get(url, **{"Accept-Encoding": "gzip;q=0, identity"})

            only = f"{url}?name[]=netmon_probe_success&name[]=netmon_tcp_connect_seconds"
            _, filtered = _get(only)
            _, filtered_om = _get(only, Accept=OPENMETRICS)

    assert "Content-Encoding" not in plain_headers and "Content-Encoding" not in refused_headers
    assert zipped_headers["Content-Encoding"] == "gzip"
    assert int(zipped_headers["Content-Length"]) == len(zipped) < len(plain)
    assert _series(gzip.decompress(zipped).decode()) == _series(plain.decode())

    names = {name for name, _ in _series(filtered.decode())}
    assert names == {"netmon_probe_success", "netmon_tcp_connect_seconds"}
    om = {s.name for f in openmetrics_families(filtered_om.decode()) for s in f.samples}
    assert om == names


def test_chunks_are_written_and_gzipped_whole_in_batches() -> None:
    """At 50,000 checks /metrics is ~650,000 chunks: they are joined and compressed a batch at a time
    (not a Python step per chunk, which held the GIL against the event loop), none lost or reordered
    across batch edges."""
    chunks = [f"netmon_probe_success{{check=\"c{n}\"}} 1.0\n".encode() for n in range(2 * WRITE_CHUNKS + 7)]
    sent = list(batches(chunks))
    assert len(sent) == 3 and b"".join(sent) == b"".join(chunks)
    assert gzip.decompress(b"".join(gzip_chunks(chunks))) == b"".join(chunks)
