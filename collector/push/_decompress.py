"""Bounded decompression of push bodies: snappy block format (remote write) and gzip/deflate (OTLP).

A snappy block starts with the uncompressed length as a uvarint: a body that announces more than the limit is
refused before anything is decompressed. gzip and deflate are inflated in steps of at most the limit, so a
decompression bomb costs at most ``max_bytes`` of memory. A gzip body of several members is read whole (the
limit over all of them), as Go's ``gzip.Reader`` reads it; a truncated stream or bytes after a deflate
stream are a 400 (they used to be dropped, and the request answered as stored: the later members' records
were lost).
"""

from __future__ import annotations

import zlib

import cramjam

from collector.push.errors import PushRefusedError

__all__ = ["gunzip", "snappy_block"]


def _uvarint(data: bytes) -> int:
    value, shift = 0, 0
    for i, byte in enumerate(data[:10]):
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value
        shift += 7
        if i == 9:
            break
    raise PushRefusedError(400, "decompress", "snappy: corrupt length header")


def snappy_block(body: bytes, max_bytes: int) -> bytes:
    """The snappy-decoded ``body``; refused when it would exceed ``max_bytes``."""
    size = _uvarint(body)
    if size > max_bytes:
        raise PushRefusedError(
            413,
            "decompressed_too_large",
            f"snappy body decompresses to {size} bytes, over the limit {max_bytes}",
        )
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:  # cramjam raises its own DecompressionError (not a public class)
        raise PushRefusedError(400, "decompress", f"snappy: {exc}") from exc


def gunzip(body: bytes, encoding: str, max_bytes: int) -> bytes:
    """``body`` inflated per ``Content-Encoding`` (``gzip``, ``deflate`` or identity); at most
    ``max_bytes``."""
    if encoding in ("", "identity"):
        if len(body) > max_bytes:
            raise PushRefusedError(413, "decompressed_too_large", f"body over {max_bytes} bytes")
        return body
    if encoding not in ("gzip", "deflate"):
        raise PushRefusedError(
            415, "content_encoding", f"unsupported Content-Encoding {encoding!r} (use gzip)"
        )
    out = bytearray()
    rest = body
    while True:  # gzip: every member, as Go's gzip.Reader (Prometheus, the OTel collector) reads them
        d = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
        try:
            out += d.decompress(rest, max_bytes + 1 - len(out))  # never 0 (unlimited): len(out) <= max
        except zlib.error as exc:
            raise PushRefusedError(400, "decompress", f"{encoding}: {exc}") from exc
        if len(out) > max_bytes or d.unconsumed_tail:
            raise PushRefusedError(
                413, "decompressed_too_large", f"body decompresses to over {max_bytes} bytes"
            )
        if not d.eof:
            raise PushRefusedError(400, "decompress", f"{encoding}: truncated stream (no end marker)")
        rest = d.unused_data
        if not rest:
            return bytes(out)
        if encoding != "gzip":
            raise PushRefusedError(400, "decompress", f"{encoding}: {len(rest)} bytes after the stream")
