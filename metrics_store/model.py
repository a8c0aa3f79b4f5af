"""The sample model shared by collector, store, query engine and API.

* A **series** is identified by its label set: a tuple of ``(name, value)`` pairs sorted by name, including
  ``("__name__", metric_name)``. Empty label values are dropped (Prometheus semantics: an empty value is
  the same as an absent label). ``Labels`` is hashable and compared by value, so it is the series key.
* A **sample** is ``(timestamp_ms: int, value: float)``. Timestamps are Unix milliseconds (int64).
* A **staleness marker** is a special NaN (bit pattern ``0x7ff0000000000002``, as in Prometheus) written
  when a target or a series disappears; stores must round-trip it bit-exactly and the query engine treats it
  as "series ended here". An ordinary NaN is a legal sample value and is distinct from the marker.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from metrics_store.regex import Regex, compile_anchored

__all__ = [
    "METRIC_NAME",
    "STALE_NAN",
    "STALE_NAN_BITS",
    "Labels",
    "MatchOp",
    "Matcher",
    "SeriesData",
    "is_stale_nan",
    "labels_from",
    "labels_get",
    "metric_name",
    "stale_mask",
]

METRIC_NAME = "__name__"
Labels = tuple[tuple[str, str], ...]

STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


def is_stale_nan(value: float) -> bool:
    """True if ``value`` is the staleness marker (not just any NaN)."""
    return math.isnan(value) and struct.unpack("<Q", struct.pack("<d", value))[0] == STALE_NAN_BITS


def stale_mask(values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Element-wise :func:`is_stale_nan` for a float64 array."""
    mask: npt.NDArray[np.bool_] = values.view(np.uint64) == np.uint64(STALE_NAN_BITS)
    return mask


def labels_from(mapping: Mapping[str, str] | Iterable[tuple[str, str]]) -> Labels:
    """Build a canonical label set: sorted by name, empty values dropped."""
    items = mapping.items() if isinstance(mapping, Mapping) else mapping
    return tuple(sorted((k, v) for k, v in items if v != ""))


def labels_get(labels: Labels, name: str) -> str:
    """Value of label ``name`` or ``""`` when absent."""
    for k, v in labels:
        if k == name:
            return v
    return ""


def metric_name(labels: Labels) -> str:
    return labels_get(labels, METRIC_NAME)


class MatchOp(StrEnum):
    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


# Module constants: comparing with ``MatchOp.EQ`` would look the member up on every call of a hot loop.
_EQ, _RE, _NRE = MatchOp.EQ, MatchOp.RE, MatchOp.NRE


@dataclass(frozen=True, slots=True)
class Matcher:
    """One label matcher. A missing label matches as the empty string (Prometheus semantics).

    Regex matchers use RE2 (:mod:`metrics_store.regex`), anchored as Prometheus 3 anchors them
    (``^(?s:value)$``), or as 2.42 did (``^(?:value)$``: ``.`` does not match a newline) with
    ``dot_nl=False``; the pattern is compiled when the matcher is built, so a pattern RE2 refuses raises
    :class:`~metrics_store.regex.RegexError` (a ``ValueError``) there, never later while matching.
    """

    name: str
    op: MatchOp
    value: str
    dot_nl: bool = True
    _regex: Regex | None = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.op is _RE or self.op is _NRE:
            object.__setattr__(self, "_regex", compile_anchored(self.value, dot_nl=self.dot_nl))

    def matches(self, value: str) -> bool:
        rx = self._regex
        if rx is None:
            return value == self.value if self.op is _EQ else value != self.value
        hit = rx.matches(value)
        return hit if self.op is _RE else not hit

    def matches_labels(self, labels: Labels) -> bool:
        return self.matches(labels_get(labels, self.name))

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op.value}"{escaped}"'


@dataclass(slots=True)
class SeriesData:
    """Samples of one series in a time range, ascending by timestamp, staleness markers included."""

    labels: Labels
    timestamps_ms: npt.NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    values: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0, dtype=np.float64))
