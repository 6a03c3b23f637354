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
gauge, counter (read from the device, cumulative) and info measurement. Per-run increments and
histogram observations are not: their running totals would have to be summed across runs in arrival
order, which a backlog delivered behind live results does not keep.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import cramjam
import httpx
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from probes.base import Kind, Result

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


def samples(result: Result, kinds: Mapping[str, Kind]) -> list[tuple[Labels, float]]:
    """The (sorted label set with ``__name__``, value) pairs written for one Result."""
    identity = (("site", result.site), ("check", result.check), ("probe", result.probe),
                ("target", result.target), ("link", result.link))
    rows: list[tuple[Labels, float]] = [
        (tuple(sorted((("__name__", "netmon_probe_success"), *identity))), float(result.success)),
        (tuple(sorted((("__name__", "netmon_probe_duration_seconds"), *identity))), result.duration),
    ]
    for m in result.measurements:
        kind = kinds.get(m.name)
        if kind not in _WRITTEN:
            continue
        name = f"{m.name}_total" if kind is Kind.COUNTER else m.name
        value = 1.0 if kind is Kind.INFO else m.value
        rows.append((tuple(sorted((("__name__", name), *identity, *m.labels))), value))
    return rows


def encode(results: Iterable[Result], kinds: Mapping[str, Kind]) -> bytes:
    """One snappy-compressed ``WriteRequest`` holding every sample of ``results``."""
    series: dict[Labels, list[tuple[int, float]]] = {}
    for result in results:
        ts = round(result.started * 1000)
        for labels, value in samples(result, kinds):
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
