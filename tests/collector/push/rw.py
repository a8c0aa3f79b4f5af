"""Remote-write request bodies for tests, written with the protobuf wire format by hand (field numbers of
prompb/types.proto and io/prometheus/write/v2/types.proto): independent of the receiver's descriptors."""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

import cramjam


def _varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire) + payload


def _bytes(number: int, data: bytes) -> bytes:
    return _field(number, 2, _varint(len(data)) + data)


def _sample(value: float, ts_ms: int) -> bytes:
    return _field(1, 1, struct.pack("<d", value)) + _field(2, 0, _varint(ts_ms))


Series = tuple[Mapping[str, str], Sequence[tuple[int, float]]]


def v1(series: Sequence[Series]) -> bytes:
    """A ``prometheus.WriteRequest`` (uncompressed)."""
    out = b""
    for labels, samples in series:
        ts = b"".join(
            _bytes(1, _bytes(1, k.encode()) + _bytes(2, v.encode())) for k, v in sorted(labels.items())
        )
        ts += b"".join(_bytes(2, _sample(v, t)) for t, v in samples)
        out += _bytes(1, ts)
    return out


def v2(series: Sequence[Series]) -> bytes:
    """An ``io.prometheus.write.v2.Request`` (uncompressed) with its symbols table."""
    symbols: list[str] = [""]
    index: dict[str, int] = {"": 0}

    def ref(s: str) -> int:
        if s not in index:
            index[s] = len(symbols)
            symbols.append(s)
        return index[s]

    body = b""
    for labels, samples in series:
        refs = [r for k, v in sorted(labels.items()) for r in (ref(k), ref(v))]
        ts = _bytes(1, b"".join(_varint(r) for r in refs))  # packed repeated uint32
        ts += b"".join(_bytes(2, _sample(v, t)) for t, v in samples)
        body += _bytes(5, ts)
    return b"".join(_bytes(4, s.encode()) for s in symbols) + body


def snappy(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


V1_HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
V2_HEADERS = {
    "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "2.0.0",
}
