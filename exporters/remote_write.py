"""Results into any Prometheus remote-write receiver, at their own timestamps.

The wire format is Prometheus's standard one (``prometheus/prompb/remote.proto``: a ``WriteRequest``
of ``TimeSeries``, each sorted labels plus samples in time order), protobuf-encoded and compressed with
snappy's block format, as Prometheus, VictoriaMetrics and Mimir all accept it. The four message types
are declared here from their field numbers with the protobuf runtime's descriptor API, so no generated
code or protoc is needed.

Why remote-write and not /metrics: an edge agent's results arrive late (a backlog after a cut); a
scrape would stamp them with the scrape time. Prometheus needs ``--web.enable-remote-write-receiver``
and ``storage.tsdb.out_of_order_time_window`` covering the longest backlog.

What is written per Result: ``netmon_probe_success`` and ``netmon_probe_duration_seconds``, plus every
gauge, counter (read from the device, cumulative) and info measurement; and, when the Result comes
with its check's running totals (`exporters.totals`, counted by the edge agent in its own order), the
counters and histograms that span runs — ``netmon_probe_failures_total{reason}``, per-run increments
such as ``netmon_icmp_packets_sent_total``, and ``_bucket``/``_count``/``_sum`` — named and labelled
as `netmon run` exports them (`exporters.prometheus`), so the same rules and panels read both.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Mapping

import cramjam
import httpx
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from exporters.prometheus import FAILURES, _le_labels, _sample
from exporters.totals import Totals
from probes.base import Kind, MetricSpec, Result

log = logging.getLogger("netmon.exporter")
#: Series names already logged as not written (once each, not once per result).
_unknown: set[str] = set()

_F = descriptor_pb2.FieldDescriptorProto
_WRITTEN = (Kind.GAUGE, Kind.COUNTER, Kind.INFO)
HEADERS = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
           "X-Prometheus-Remote-Write-Version": "0.1.0", "User-Agent": "netmon"}


def _messages() -> type:
    proto = descriptor_pb2.FileDescriptorProto(name="netmon/prompb_remote.proto", package="prometheus",
                                               syntax="proto3")

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        m = proto.message_type.add(name=name)
        for fname, number, ftype, label, type_name in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name

    message("Label", ("name", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""),
            ("value", 2, _F.TYPE_STRING, _F.LABEL_OPTIONAL, ""))
    message("Sample", ("value", 1, _F.TYPE_DOUBLE, _F.LABEL_OPTIONAL, ""),
            ("timestamp", 2, _F.TYPE_INT64, _F.LABEL_OPTIONAL, ""))
    message("TimeSeries", ("labels", 1, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".prometheus.Label"),
            ("samples", 2, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".prometheus.Sample"))
    message("WriteRequest",
            ("timeseries", 1, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".prometheus.TimeSeries"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.WriteRequest"))


WriteRequest = _messages()
Labels = tuple[tuple[str, str], ...]


def samples(result: Result, specs: Mapping[str, MetricSpec],
            totals: Totals | None = None) -> list[tuple[Labels, float]]:
    """The (sorted label set with ``__name__``, value) pairs written for one Result (and its check's
    running totals after it)."""
    identity = (("site", result.site), ("check", result.check), ("probe", result.probe),
                ("target", result.target), ("link", result.link))
    own: list[tuple[str, Labels, float]] = [
        ("netmon_probe_success", (), float(result.success)),
        ("netmon_probe_duration_seconds", (), result.duration),
    ]
    for m in result.measurements:
        spec = specs.get(m.name)
        if spec is None or spec.kind not in _WRITTEN:
            continue
        own.append((_sample(spec), m.labels, 1.0 if spec.kind is Kind.INFO else m.value))
    if totals:
        own += cumulative(totals, specs)
    return [(tuple(sorted((("__name__", name), *identity, *labels))), value) for name, labels, value in own]


def cumulative(totals: Totals, specs: Mapping[str, MetricSpec]) -> list[tuple[str, Labels, float]]:
    """(sample name, own labels, value) of a check's running totals, as `exporters.prometheus` names
    them. A series whose spec this side does not know (or knows with other buckets: an agent of
    another version) is left out and logged, never written under a wrong name."""
    out: list[tuple[str, Labels, float]] = [
        (f"{FAILURES}_total", (("reason", reason),), n) for reason, n in totals.failures.items()]
    for (name, labels), value in totals.increments.items():
        spec = specs.get(name)
        if spec is None or spec.kind is not Kind.INCREMENT:
            _skip(name, "has no increment spec here")
            continue
        out.append((_sample(spec), labels, value))
    for (name, labels), (counts, total) in totals.histograms.items():
        spec = specs.get(name)
        if spec is None or spec.kind is not Kind.OBSERVATION or len(counts) != len(spec.buckets) + 1:
            _skip(name, "does not match its histogram spec here")
            continue
        for le, count in zip(_le_labels(spec.buckets), itertools.accumulate(counts), strict=True):
            out.append((f"{name}_bucket", (*labels, le), float(count)))
        out += [(f"{name}_count", labels, float(sum(counts))), (f"{name}_sum", labels, total)]
    return out


def _skip(name: str, why: str) -> None:
    if name not in _unknown:
        _unknown.add(name)
        log.warning("running total %s %s (an agent of another version?); not written", name, why)


def encode(results: Iterable[tuple[Result, Totals | None]], specs: Mapping[str, MetricSpec]) -> bytes:
    """One snappy-compressed ``WriteRequest`` holding every sample of ``results`` (each with its
    check's running totals after it, or None)."""
    series: dict[Labels, list[tuple[int, float]]] = {}
    for result, totals in results:
        ts = round(result.started * 1000)
        for labels, value in samples(result, specs, totals):
            series.setdefault(labels, []).append((ts, value))
    request = WriteRequest()
    for labels, points in series.items():
        ts_msg = request.timeseries.add()
        for name, text in labels:
            ts_msg.labels.add(name=name, value=text)
        for ts, value in sorted(points):
            ts_msg.samples.add(value=value, timestamp=ts)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


class RemoteWriteError(Exception):
    """The receiver did not take the write; ``retry`` says whether sending it again can help."""

    def __init__(self, message: str, retry: bool):
        super().__init__(message)
        self.retry = retry


def push(client: httpx.Client, url: str, body: bytes) -> None:
    """POST one encoded request. 5xx and network errors are retryable; 4xx (bad data) are not."""
    try:
        reply = client.post(url, content=body, headers=HEADERS)
    except httpx.HTTPError as exc:
        raise RemoteWriteError(f"remote write to {url} failed: {exc}", retry=True) from None
    if reply.status_code >= 300:
        raise RemoteWriteError(f"remote write to {url}: HTTP {reply.status_code} {reply.text.strip()[:200]}",
                               retry=reply.status_code >= 500 or reply.status_code == 429)
