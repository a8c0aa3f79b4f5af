"""Bounded decompression of push bodies: snappy block format (remote write) and gzip/deflate (OTLP).

A snappy block starts with the uncompressed length as a uvarint: a body that announces more than the limit is
refused before anything is decompressed. gzip and deflate are inflated in steps of at most the limit, so a
decompression bomb costs at most ``max_bytes`` of memory.
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
    d = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
    try:
        out = d.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise PushRefusedError(400, "decompress", f"{encoding}: {exc}") from exc
    if len(out) > max_bytes or d.unconsumed_tail:
        raise PushRefusedError(413, "decompressed_too_large", f"body decompresses to over {max_bytes} bytes")
    return out
