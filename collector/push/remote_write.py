"""Prometheus remote write, sans I/O: a request's headers and body in, the series to append (or a refusal)
out.

Versions, chosen by ``Content-Type`` as Prometheus' own receiver does:

* 1.0: ``application/x-protobuf`` (or ``;proto=prometheus.WriteRequest``, or no Content-Type):
  ``prometheus.WriteRequest``, labels as strings;
* 2.0: ``application/x-protobuf;proto=io.prometheus.write.v2.Request``: series label pairs as indexes into the
  request's ``symbols`` table (which starts with ``""``).

The body is snappy block format (``Content-Encoding: snappy``, the only encoding either version defines).
Native histograms are counted and not stored (the store has float samples only: the sender's classic
``_bucket`` series are stored as usual); exemplars and metadata are counted and dropped.

Refusals (:class:`PushRefusedError`): 415 another content type or encoding, 413 over a limit of
:class:`collector.config.PushConfig`, 400 a body that does not decode (snappy, protobuf, an out-of-range
symbol reference, a series without ``__name__`` or over the label limits). Nothing of a refused request is
stored; Prometheus does not retry a 4xx, and retries 5xx.
"""

from __future__ import annotations

from typing import Any, Literal

from google.protobuf.message import DecodeError

from collector.config import PushConfig
from collector.push._decompress import snappy_block
from collector.push._proto import V1_WRITE_REQUEST, V2_REQUEST
from collector.push.errors import PushRefusedError
from collector.push.model import Decoded, PushedSeries, check_labels

__all__ = ["V1_PROTO", "V2_PROTO", "Version", "decode_remote_write", "response_headers", "version_of"]

Version = Literal["1.0", "2.0"]
V1_PROTO, V2_PROTO = "prometheus.WriteRequest", "io.prometheus.write.v2.Request"


def version_of(content_type: str) -> Version:
    """The protocol version a ``Content-Type`` names; 415 for anything else."""
    if not content_type.strip():
        return "1.0"  # Prometheus' receiver: no Content-Type is 1.0
    media, _, params = content_type.partition(";")
    if media.strip().lower() != "application/x-protobuf":
        raise PushRefusedError(415, "content_type", f"unsupported Content-Type {content_type!r}")
    proto = ""
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "proto":
            proto = value.strip().strip('"')
    if proto in ("", V1_PROTO):
        return "1.0"
    if proto == V2_PROTO:
        return "2.0"
    raise PushRefusedError(415, "content_type", f"unsupported remote write message proto={proto!r}")


def _parse(message: Any, data: bytes) -> Any:
    try:
        return message.FromString(data)
    except (DecodeError, ValueError, RecursionError) as exc:
        raise PushRefusedError(400, "protobuf", f"not a valid {message.DESCRIPTOR.full_name}: {exc}") from exc


def _check_counts(series: int, samples: int, cfg: PushConfig) -> None:
    if series > cfg.max_series_per_request:
        raise PushRefusedError(413, "series_limit", f"{series} series (limit {cfg.max_series_per_request})")
    if samples > cfg.max_samples_per_request:
        raise PushRefusedError(
            413, "sample_limit", f"{samples} samples (limit {cfg.max_samples_per_request})"
        )


def _v1(req: Any, cfg: PushConfig) -> Decoded:
    _check_counts(len(req.timeseries), sum(len(ts.samples) for ts in req.timeseries), cfg)
    out = Decoded()
    for ts in req.timeseries:
        labels = {lab.name: lab.value for lab in ts.labels}
        if len(labels) != len(ts.labels):
            raise PushRefusedError(
                400, "duplicate_label", f"a series with a repeated label name: {labels!r:.200}"
            )
        check_labels(labels, cfg)
        out.exemplars += len(ts.exemplars)
        out.histograms += len(ts.histograms)
        out.skip("native_histogram", len(ts.histograms))
        if ts.samples:
            out.series.append(
                PushedSeries(labels, [s.timestamp for s in ts.samples], [s.value for s in ts.samples])
            )
    return out


def _v2_labels(refs: Any, symbols: Any) -> dict[str, str]:
    if len(refs) % 2:
        raise PushRefusedError(400, "labels_refs", "labels_refs of odd length")
    n = len(symbols)
    labels: dict[str, str] = {}
    for i in range(0, len(refs), 2):
        k, v = refs[i], refs[i + 1]
        if k >= n or v >= n:
            raise PushRefusedError(
                400, "labels_refs", f"symbol reference {max(k, v)} out of range ({n} symbols)"
            )
        if symbols[k] in labels:
            raise PushRefusedError(400, "duplicate_label", f"a series with a repeated label {symbols[k]!r}")
        labels[symbols[k]] = symbols[v]
    return labels


def _v2(req: Any, cfg: PushConfig) -> Decoded:
    _check_counts(len(req.timeseries), sum(len(ts.samples) for ts in req.timeseries), cfg)
    out = Decoded()
    symbols = req.symbols
    for ts in req.timeseries:
        labels = _v2_labels(ts.labels_refs, symbols)
        check_labels(labels, cfg)
        out.exemplars += len(ts.exemplars)
        out.histograms += len(ts.histograms)
        out.skip("native_histogram", len(ts.histograms))
        if ts.samples:
            out.series.append(
                PushedSeries(labels, [s.timestamp for s in ts.samples], [s.value for s in ts.samples])
            )
    return out


def decode_remote_write(
    body: bytes, content_type: str, content_encoding: str, cfg: PushConfig
) -> tuple[Version, Decoded]:
    """The version and the decoded series of one remote-write request; :class:`PushRefusedError` otherwise."""
    version = version_of(content_type)
    if content_encoding.strip().lower() not in ("", "snappy"):
        raise PushRefusedError(415, "content_encoding", f"unsupported Content-Encoding {content_encoding!r}")
    data = snappy_block(body, cfg.max_decompressed_bytes)
    if version == "1.0":
        return version, _v1(_parse(V1_WRITE_REQUEST, data), cfg)
    return version, _v2(_parse(V2_REQUEST, data), cfg)


def response_headers(version: Version, decoded: Decoded | None) -> dict[str, str]:
    """The headers of an answer: 2.0's ``X-Prometheus-Remote-Write-*-Written`` counts (what was stored)."""
    if version != "2.0":
        return {}
    return {
        "X-Prometheus-Remote-Write-Samples-Written": str(decoded.samples if decoded else 0),
        "X-Prometheus-Remote-Write-Histograms-Written": "0",
        "X-Prometheus-Remote-Write-Exemplars-Written": "0",
    }
