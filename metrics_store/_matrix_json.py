"""The JSON body of a successful range query (``resultType: matrix``), written as bytes in bulk.

Byte for byte what ``orjson.dumps({"status": "success", "data": result_json(matrix)})`` gives, without
building a Python list and string per point (which was half of a 10,000-series query's CPU):

* values: ``orjson`` spells a series' floats in C with the same shortest round-trip digits as ``repr`` and
  Go's ``strconv.FormatFloat(v, 'f', -1, 64)``; the one difference on the fast path, the ``.0`` of whole
  numbers, is cut with one ``bytes.replace``. A series holding NaN/±Inf (orjson: ``null``) or a value that
  orjson writes with an exponent (|v| < 1e-5 or >= 1e16: Go writes all digits) takes the per-value path of
  :func:`~metrics_store.api_common.format_value`;
* timestamps: every distinct timestamp tuple (in a range query most series share the step grid) is spelled
  once, as ready-made ``[t,"`` prefixes that the values are interleaved with.
"""

from __future__ import annotations

import orjson

from metrics_store.api_common import format_value
from metrics_store.promql.values import Matrix, Series

__all__ = ["matrix_body", "value_texts"]

_HEAD = b'{"status":"success","data":{"resultType":"matrix","result":['
_TAIL = b"]}}"


def value_texts(values: tuple[float, ...]) -> list[bytes]:
    """Each value as Prometheus spells it (:func:`format_value`), as bytes."""
    raw = orjson.dumps(values)
    if b"e" in raw or b"n" in raw:  # an exponent, or null (NaN/±Inf)
        return [format_value(v).encode() for v in values]
    if len(values) == 0:
        return []
    return raw[1:-1].replace(b".0,", b",").removesuffix(b".0").split(b",")


def _ts_text(ms: int) -> bytes:
    # orjson's spelling of ``ms // 1000`` (int) or ``ms / 1000`` (float), as result_json gives them.
    return orjson.dumps(ms // 1000 if ms % 1000 == 0 else ms / 1000)


def _prefixes(timestamps_ms: tuple[int, ...]) -> list[bytes]:
    """``[t,"`` for the first point and ``"],[t,"`` for the others."""
    out = [b'"],[' + _ts_text(t) + b',"' for t in timestamps_ms]
    if out:
        out[0] = out[0][3:]
    return out


def _series(s: Series, prefixes: list[bytes]) -> bytes:
    texts = value_texts(s.values)
    pieces: list[bytes] = [b""] * (2 * len(texts))
    pieces[0::2] = prefixes
    pieces[1::2] = texts
    end = b'"]]}' if texts else b"]}"
    return b'{"metric":' + orjson.dumps(dict(s.labels)) + b',"values":[' + b"".join(pieces) + end


def matrix_body(matrix: Matrix) -> bytes:
    """``{"status":"success","data":{"resultType":"matrix","result":[...]}}`` for ``matrix``."""
    grids: dict[tuple[int, ...], list[bytes]] = {}
    # head, series, commas and tail joined once: the body is copied once, not three times (for 10k series
    # of 240 points it is ~70 MB, and the copies set the server's peak memory)
    parts = [_HEAD]
    for s in matrix.series:
        prefixes = grids.get(s.timestamps_ms)
        if prefixes is None:
            prefixes = grids[s.timestamps_ms] = _prefixes(s.timestamps_ms)
        parts += (_series(s, prefixes), b",")
    if len(parts) > 1:
        parts[-1] = _TAIL  # the last comma
    else:
        parts.append(_TAIL)
    return b"".join(parts)
