"""Parser for OpenMetrics 1.0 text (``application/openmetrics-text``).

Strict ABNF syntax (single spaces, no blank lines, no free comments, ``# EOF`` last), plus the semantic
rules of the spec as the reference Python parser applies them: families are contiguous and their names do not
clash; counters' samples end in ``_total``/``_created``; counter-like values are never NaN or negative;
``info`` values are 1, ``stateset`` values 0 or 1 with the family-name label; histogram buckets carry a
float ``le``, ascend, are cumulative and end with ``+Inf`` equal to ``_count``; summary quantiles lie in
[0, 1]; exemplars only on counter ``_total`` and histogram ``_bucket`` lines (validated, then dropped);
``_created`` lines are kept as samples. Timestamps are seconds and returned in milliseconds.

Validated series keys are cached in the owning parser's ``keys`` dict, so a steady-state line costs a split,
a dict lookup and the per-type checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from collector.exposition._errors import ParseError
from collector.exposition._floats import FloatLabelKeys, NormalisedKeys
from collector.exposition._model import Exposition, FamilyMeta, Sample
from collector.exposition._textscan import ScanError, read_quoted, unescape
from collector.exposition._values import LABEL_NAME_RE, METRIC_NAME_RE, parse_float

__all__ = ["OMParse", "OMSeries"]

OMSeries = tuple[str, tuple[tuple[str, str], ...]]
"""Cached per key: (sample name, labels in input order)."""

_SUFFIXES: dict[str, tuple[str, ...]] = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}
_HIST = frozenset({"histogram", "gaugehistogram"})
_NO_NAN = frozenset({"_total", "_sum", "_count", "_bucket", "_gcount", "_gsum"})
_NON_NEGATIVE = frozenset({"_total", "_sum", "_count", "_bucket", "_gcount"})
_INTEGER = frozenset({"_bucket", "_count", "_gcount"})
_MAX_EXEMPLAR_CHARS = 128


class _OMError(Exception):
    def __init__(self, message: str, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


@dataclass(slots=True)
class _Family:
    name: str
    type: str = "unknown"
    help: str | None = None
    unit: str | None = None
    typed: bool = False
    has_samples: bool = False
    allowed: dict[str, str] = field(default_factory=dict)
    groups: set[tuple[tuple[str, str], ...]] = field(default_factory=set)
    group: tuple[tuple[str, str], ...] | None = None
    # histogram group state: last le, last bucket value, +Inf bucket value, count value
    last_le: float = -math.inf
    last_bucket: float = 0.0
    inf_bucket: float | None = None
    count: float | None = None
    buckets: bool = False

    def set_type(self, kind: str) -> None:
        self.type = kind
        self.allowed = {self.name + s: s for s in _SUFFIXES[kind]}


def _quoted(line: str, i: int, what: str) -> tuple[str, int]:
    try:
        return read_quoted(line, i, what)
    except ScanError as exc:
        raise _OMError(exc.message, exc.column) from None


def _labels(
    line: str, i: int, utf8: bool = False, metric: list[str] | None = None
) -> tuple[tuple[tuple[str, str], ...], int]:
    """Strict ``{name="value",...}`` starting at ``line[i] == "{"``; returns (labels, index after ``}``).
    With ``utf8``, label names may be quoted (``{"label.x"="v"}``); given ``metric`` (an empty list), the
    set may start with the quoted metric name (``{"my.metric",a="v"}``), appended to it."""
    n = len(line)
    i += 1
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    if metric is not None and i < n and line[i] == '"':
        name, i = _quoted(line, i, "metric name")
        metric.append(name)
        if i < n and line[i] == "}":
            return (), i + 1
        if i >= n or line[i] != ",":
            raise _OMError("expected , or } after the quoted metric name", i + 1)
        i += 1  # a label must follow: no trailing comma in OpenMetrics
    elif i < n and line[i] == "}":
        return (), i + 1
    while True:
        if utf8 and i < n and line[i] == '"':
            name, i = _quoted(line, i, "label name")
        else:
            m = LABEL_NAME_RE.match(line, i)
            if m is None:
                raise _OMError("invalid label name", i + 1)
            name = m.group()
            i = m.end()
        if name in seen:
            raise _OMError(f"duplicate label name {name!r}", i + 1)
        if name == "__name__":
            raise _OMError('label name "__name__" is reserved', i + 1)
        seen.add(name)
        if i + 1 >= n or line[i] != "=" or line[i + 1] != '"':
            raise _OMError('expected =" after label name', i + 1)
        try:
            value, i = read_quoted(line, i + 1, "label value")
        except ScanError as exc:
            raise _OMError(exc.message, exc.column) from None
        out.append((name, value))
        if i < n and line[i] == ",":
            i += 1
            continue
        if i < n and line[i] == "}":
            return tuple(out), i + 1
        raise _OMError("expected , or } after label value", i + 1)


def _number(tok: str, column: int, what: str = "value") -> float:
    v = parse_float(tok)
    if v is None:
        raise _OMError(f"invalid {what} {tok!r}", column)
    return v


def _timestamp_ms(tok: str, column: int) -> int:
    v = parse_float(tok)
    if v is None or math.isinf(v) or math.isnan(v) or tok.lower().lstrip("+-").startswith("inf"):
        raise _OMError(f"invalid timestamp {tok!r}", column)
    return round(v * 1000)


class OMParse:
    """One parse of one OpenMetrics body; ``keys`` is the owning parser's validated-key cache.
    ``float_keys`` (Prometheus 3): samples after a histogram or summary TYPE line are emitted under keys
    with ``le`` / ``quantile`` normalised (the last TYPE line counts, as in Prometheus' parser)."""

    def __init__(
        self,
        keys: dict[str, OMSeries],
        max_keys: int,
        utf8_names: bool = False,
        float_keys: FloatLabelKeys | None = None,
    ) -> None:
        self.keys = keys
        self.float_keys = float_keys
        self._normalised: NormalisedKeys | None = None
        self.max_keys = max_keys
        self.utf8_names = utf8_names
        self.samples: list[Sample] = []
        self.families: dict[str, FamilyMeta] = {}
        self.slow_lines = 0
        self._fam: _Family | None = None
        self._claimed: set[str] = set()

    def run(self, text: str) -> Exposition:
        if not text:
            raise ParseError('openmetrics parsing error in line 1: missing "# EOF" at end (column 1)', 1, 1)
        lines = text.split("\n")
        if len(lines) > 1 and lines[-1] == "":
            lines.pop()
        last = len(lines) - 1
        lineno = 0
        try:
            for lineno, line in enumerate(lines, 1):
                if line == "# EOF":
                    if lineno - 1 != last:
                        raise _OMError('content after "# EOF"')
                    break
                if not line:
                    raise _OMError("blank lines are not allowed")
                if line[0] == "#":
                    self._metadata(line)
                else:
                    self._sample_line(line)
            else:
                raise _OMError('missing "# EOF" at end', len(lines[-1]) + 1 if lines else 1)
            self._close()
        except _OMError as exc:
            raise ParseError(
                f"openmetrics parsing error in line {lineno}: {exc.message} (column {exc.column})",
                lineno,
                exc.column,
            ) from None
        return Exposition(self.samples, self.families)

    # -- families -------------------------------------------------------------------------------------------
    def _open(self, name: str) -> _Family:
        self._close()
        if name in self._claimed:
            raise _OMError(f"metric family {name!r} appears twice or clashes with another family")
        fam = _Family(name)
        fam.set_type("unknown")
        self._fam = fam
        return fam

    def _close(self) -> None:
        fam = self._fam
        if fam is None:
            return
        self._end_group(fam)
        for suffix in _SUFFIXES[fam.type]:
            if fam.name + suffix in self._claimed:
                raise _OMError(f"metric family {fam.name!r} clashes with family name {fam.name + suffix!r}")
        self._claimed.update(fam.name + s for s in (*_SUFFIXES[fam.type], ""))
        if fam.unit and fam.type in ("info", "stateset"):
            raise _OMError(f"units are not allowed for {fam.type} family {fam.name!r}")
        if fam.has_samples:
            self.families[fam.name] = FamilyMeta(fam.name, fam.type, fam.help, fam.unit)
        self._fam = None

    def _metadata_name(self, parts: list[str], line: str) -> tuple[str, str, str, str]:
        """(keyword, family name, text after the name, the name as written) of a metadata line; with
        ``utf8_names`` the name may be quoted (``# TYPE "my.metric" counter``)."""
        keyword, name, rest = parts[1], parts[2], parts[3]
        if self.utf8_names and name.startswith('"'):
            start = len(keyword) + 3
            name, end = _quoted(line, start, "metric name")
            if line[end : end + 1] != " ":
                raise _OMError("expected a space after the quoted metric name", end + 1)
            return keyword, name, line[end + 1 :], line[start:end]
        if METRIC_NAME_RE.fullmatch(name) is None:
            raise _OMError(f"invalid metric name {name!r}", len(keyword) + 4)
        return keyword, name, rest, name

    def _metadata(self, line: str) -> None:
        parts = line.split(" ", 3)
        if len(parts) < 4 or parts[0] != "#" or parts[1] not in ("HELP", "TYPE", "UNIT"):
            raise _OMError("expected '# HELP|TYPE|UNIT <name> <text>' (free comments are not allowed)")
        keyword, name, rest, written = self._metadata_name(parts, line)
        fam = self._fam
        if fam is None or fam.name != name:
            fam = self._open(name)
        elif fam.has_samples:
            raise _OMError(f"metadata for {name!r} after its samples")
        column = len(keyword) + len(written) + 5
        if keyword == "HELP":
            if fam.help is not None:
                raise _OMError(f"second HELP for {name!r}")
            try:
                fam.help = unescape(rest, column)
            except ScanError as exc:
                raise _OMError(exc.message, exc.column) from None
        elif keyword == "TYPE":
            if fam.typed:
                raise _OMError(f"second TYPE for {name!r}")
            if rest not in _SUFFIXES:
                raise _OMError(f"unknown metric type {rest!r}", column)
            fam.set_type(rest)
            fam.typed = True
            if self.float_keys is not None:
                self._normalised = self.float_keys.for_type(rest)
            if fam.unit and rest in ("info", "stateset"):
                raise _OMError(f"units are not allowed for {rest} family {name!r}")
        else:
            if fam.unit is not None:
                raise _OMError(f"second UNIT for {name!r}")
            if rest and not name.endswith("_" + rest):
                raise _OMError(f"family name {name!r} must end in the unit '_{rest}'", column)
            fam.unit = rest

    # -- samples --------------------------------------------------------------------------------------------
    def _sample_line(self, line: str) -> None:
        keys = self.keys
        sp = line.find(" ")
        key = line[:sp] if sp > 0 else line
        series = keys.get(key)
        if series is None:
            key = line.partition("} ")[0] + "}"
            series = keys.get(key)
        rest = line[len(key) + 1 :] if series is not None and line[len(key) : len(key) + 1] == " " else None
        if series is None or rest is None or "#" in rest:
            self._slow(line)
            return
        tok, _, ts_tok = rest.partition(" ")
        value = _number(tok, len(key) + 2)
        ts = _timestamp_ms(ts_tok, len(key) + len(tok) + 3) if ts_tok else None
        self._check(key, series[0], series[1], value, ts=ts, exemplar=False, vcol=len(key) + 2)

    def _slow(self, line: str) -> None:
        self.slow_lines += 1
        n = len(line)
        labels: tuple[tuple[str, str], ...] = ()
        if self.utf8_names and line.startswith("{"):  # `{"my.metric",...}`: the name inside the braces
            named: list[str] = []
            labels, i = _labels(line, 0, True, named)
            if not named:
                raise _OMError("invalid metric name")
            metric = named[0]
        else:
            m = METRIC_NAME_RE.match(line)
            if m is None:
                raise _OMError("invalid metric name")
            metric, i = m.group(), m.end()
            if i < n and line[i] == "{":
                labels, i = _labels(line, i, self.utf8_names)
        key = line[:i]
        if i >= n or line[i] != " ":
            raise _OMError("expected a single space before the value", i + 1)
        vstart = i + 1
        end = line.find(" ", vstart)
        end = n if end < 0 else end
        value = _number(line[vstart:end], vstart + 1)
        ts = None
        exemplar = False
        i = end
        if i < n and line[i + 1 : i + 2] != "#":
            tstart = i + 1
            i = line.find(" ", tstart)
            i = n if i < 0 else i
            ts = _timestamp_ms(line[tstart:i], tstart + 1)
        if i < n:
            self._exemplar(line, i)
            exemplar = True
        if len(self.keys) >= self.max_keys:
            self.keys.clear()
        self.keys[key] = (metric, labels)
        self._check(key, metric, labels, value, ts=ts, exemplar=exemplar, vcol=vstart + 1)

    @staticmethod
    def _exemplar(line: str, i: int) -> None:
        if line[i : i + 4] != " # {":
            raise _OMError("expected ' # {' to start an exemplar", i + 1)
        labels, i = _labels(line, i + 3)
        if sum(len(k) + len(v) for k, v in labels) > _MAX_EXEMPLAR_CHARS:
            raise _OMError(f"exemplar labels longer than {_MAX_EXEMPLAR_CHARS} characters", i)
        parts = line[i:].split(" ")
        if len(parts) not in (2, 3) or parts[0] != "":
            raise _OMError("expected ' <value> [<timestamp>]' after exemplar labels", i + 1)
        _number(parts[1], i + 2, "exemplar value")
        if len(parts) == 3:
            _timestamp_ms(parts[2], i + len(parts[1]) + 3)

    def _check(
        self,
        key: str,
        name: str,
        labels: tuple[tuple[str, str], ...],
        value: float,
        *,
        ts: int | None,
        exemplar: bool,
        vcol: int,
    ) -> None:
        fam = self._fam
        if fam is None or name not in fam.allowed:
            if fam is not None and name == fam.name and fam.typed:
                wanted = " or ".join(name + s for s in _SUFFIXES[fam.type])
                raise _OMError(f"{fam.type} {name!r} samples must be named {wanted}")
            fam = self._open(name)
        suffix = fam.allowed[name]
        kind = fam.type
        fam.has_samples = True
        if math.isnan(value) and suffix in _NO_NAN:
            raise _OMError(f"{name} must not be NaN", vcol)
        if value < 0 and suffix in _NON_NEGATIVE:
            raise _OMError(f"{name} must not be negative", vcol)
        if (
            suffix in _INTEGER
            and kind in _HIST | {"summary"}
            and not value.is_integer()
            and not math.isnan(value)
        ):
            raise _OMError(f"{name} must be an integer", vcol)
        if exemplar and not (
            (kind in _HIST and suffix == "_bucket") or (kind == "counter" and suffix == "_total")
        ):
            raise _OMError("exemplars are only allowed on counter _total and histogram _bucket samples")
        drop = self._type_rules(fam, suffix, labels, value, vcol)
        group = tuple(kv for kv in labels if kv[0] != drop) if drop else labels
        if kind != "info" and group != fam.group:
            if group in fam.groups:
                raise _OMError("samples of one label group must be contiguous (invalid metric grouping)")
            self._end_group(fam)
            fam.groups.add(group)
            fam.group = group
        if kind in _HIST:
            self._histogram(fam, suffix, labels, value)
        normalised = self._normalised
        if normalised is not None:
            key = normalised.keys.get(key) or normalised(key)
        self.samples.append((key, value, ts))

    @staticmethod
    def _type_rules(
        fam: _Family, suffix: str, labels: tuple[tuple[str, str], ...], value: float, vcol: int
    ) -> str:
        """Check what the family's type demands of a sample; returns the label that is not part of its label
        group (the stateset's name, a summary's ``quantile``, a histogram bucket's ``le``) or ""."""
        kind = fam.type
        if kind == "stateset":
            if not any(k == fam.name for k, _ in labels):
                raise _OMError(f"stateset sample needs the label {fam.name!r}")
            if value not in (0.0, 1.0):
                raise _OMError("stateset values must be 0 or 1", vcol)
            return fam.name
        if kind == "info" and value != 1.0:
            raise _OMError("info values must be 1", vcol)
        if kind == "summary" and suffix == "":
            q = parse_float(dict(labels).get("quantile", "x"))
            if q is None or not 0.0 <= q <= 1.0:
                raise _OMError("summary quantile label must be a float in [0, 1]")
            if value < 0:
                raise _OMError("quantile values must not be negative", vcol)
            return "quantile"
        if kind in _HIST and suffix == "_bucket":
            return "le"
        return ""

    @staticmethod
    def _histogram(fam: _Family, suffix: str, labels: tuple[tuple[str, str], ...], value: float) -> None:
        if suffix == "_bucket":
            le = parse_float(dict(labels).get("le", "x"))
            if le is None or math.isnan(le):
                raise _OMError("histogram bucket needs a float le label")
            if le <= fam.last_le:
                raise _OMError("histogram buckets out of order")
            if value < fam.last_bucket:
                raise _OMError("histogram bucket values must be cumulative (non-decreasing)")
            fam.last_le, fam.last_bucket, fam.buckets = le, value, True
            if le == math.inf:
                fam.inf_bucket = value
        elif suffix in ("_count", "_gcount"):
            fam.count = value

    @staticmethod
    def _end_group(fam: _Family) -> None:
        if fam.type in _HIST:
            if fam.buckets and fam.last_le != math.inf:
                raise _OMError(f"histogram {fam.name!r} has no +Inf bucket")
            if fam.count is not None and fam.inf_bucket is not None and fam.count != fam.inf_bucket:
                raise _OMError(f"histogram {fam.name!r}: _count does not match the +Inf bucket")
        fam.last_le, fam.last_bucket, fam.inf_bucket, fam.count, fam.buckets = (
            -math.inf,
            0.0,
            None,
            None,
            False,
        )
