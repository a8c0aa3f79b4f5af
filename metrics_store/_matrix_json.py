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

The HTTP API passes an :class:`~metrics_store.promql.arrays.ArrayMatrix` (the same series as numpy arrays:
no Python float per value); orjson spells a float64 array's elements exactly as it spells Python floats.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import orjson

from metrics_store.api_common import format_value
from metrics_store.promql._steps import F64
from metrics_store.promql.arrays import ArrayMatrix
from metrics_store.promql.values import Matrix

__all__ = ["matrix_body", "value_texts"]

_HEAD = b'{"status":"success","data":{"resultType":"matrix","result":['
_TAIL = b"]}}"


def value_texts(values: tuple[float, ...] | F64) -> list[bytes]:
    """Each value as Prometheus spells it (:func:`format_value`), as bytes (``values``: floats, or a
    C-contiguous float64 array)."""
    raw = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
    if b"e" in raw or b"n" in raw:  # an exponent, or null (NaN/±Inf)
        floats = values.tolist() if isinstance(values, np.ndarray) else values
        return [format_value(v).encode() for v in floats]
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


def _series(labels: dict[str, str], values: tuple[float, ...] | F64, prefixes: list[bytes]) -> bytes:
    texts = value_texts(values)
    pieces: list[bytes] = [b""] * (2 * len(texts))
    pieces[0::2] = prefixes
    pieces[1::2] = texts
    end = b'"]]}' if texts else b"]}"
    return b'{"metric":' + orjson.dumps(labels) + b',"values":[' + b"".join(pieces) + end


def _array_series(matrix: ArrayMatrix) -> Iterator[bytes]:
    grid = _prefixes(tuple(matrix.steps.tolist()))
    others: dict[bytes, list[bytes]] = {}
    for s in matrix.series:
        if s.timestamps_ms is matrix.steps:
            prefixes = grid
        else:
            key = s.timestamps_ms.tobytes()
            prefixes = others.get(key) or others.setdefault(key, _prefixes(tuple(s.timestamps_ms.tolist())))
        yield _series(dict(s.labels), s.values, prefixes)


def _tuple_series(matrix: Matrix) -> Iterator[bytes]:
    grids: dict[tuple[int, ...], list[bytes]] = {}
    for s in matrix.series:
        prefixes = grids.get(s.timestamps_ms)
        if prefixes is None:
            prefixes = grids[s.timestamps_ms] = _prefixes(s.timestamps_ms)
        yield _series(dict(s.labels), s.values, prefixes)


def matrix_body(matrix: Matrix | ArrayMatrix) -> bytearray:
    """``{"status":"success","data":{"resultType":"matrix","result":[...]}}`` for ``matrix``.

    Each series is appended to one buffer as soon as it is spelled: the body exists once, never beside a
    list of its parts (a join held both: 2 × ~170 MB for 1,000 series × 5,761 steps). A large buffer grows
    by ``mremap``, without copying."""
    out = bytearray(_HEAD)
    for i, body in enumerate(
        _array_series(matrix) if isinstance(matrix, ArrayMatrix) else _tuple_series(matrix)
    ):
        if i:
            out += b","
        out += body
    out += _TAIL
    return out
