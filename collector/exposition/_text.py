"""Parser for the Prometheus text exposition format 0.0.4, with a cached fast path.

Semantics follow the reference Go parser (prometheus/common ``expfmt``), including its error wording. The one
deliberate choice: quoted UTF-8 names are understood, but by default (``utf8_names=False``) they must satisfy
the legacy (classic) name rules, as Prometheus' ``legacy`` validation scheme does.

Speed: a scrape body is split into lines once. Runs of lines between ``#`` comment lines are handled
in bulk with C-level ``map``/``zip`` when every line is ``<key> <value>`` with a key already validated in
this process (the ``keys`` dict, shared across parses); otherwise that run goes line by line, and each unseen
key through the full scanner. The bulk path applies every check the line path does, or hands the run to
the line path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import repeat

from collector.exposition._errors import ParseError
from collector.exposition._floats import FloatLabelKeys, NormalisedKeys
from collector.exposition._model import Exposition, FamilyMeta, Sample
from collector.exposition._textscan import ScanError, read_quoted, scan_series, skip_blanks, unescape
from collector.exposition._values import METRIC_NAME_RE, go_quote, parse_float, parse_int, values_look_plain

__all__ = ["TextParse"]

_HIST = frozenset({"histogram", "gaugehistogram"})
_TYPES = {
    "counter": "counter",
    "gauge": "gauge",
    "summary": "summary",
    "untyped": "untyped",
    "histogram": "histogram",
    "gaugehistogram": "gaugehistogram",
    "gauge_histogram": "gaugehistogram",
}
_INF = math.inf
_NINF = -math.inf
_ZERO_GT = (0.0).__gt__
_RPARTITION = str.rpartition


@dataclass(slots=True)
class _Family:
    name: str
    type: str | None = None
    help: str | None = None
    has_samples: bool = False


def _error(line: int, message: str, column: int) -> ParseError:
    return ParseError(f"text format parsing error in line {line}: {message} (column {column})", line, column)


class TextParse:
    """One parse of one body. ``keys`` maps validated series keys to their metric name, ``comments`` raw
    HELP/TYPE lines to their parsed form; both are shared by all parses of the owning parser and bounded by
    ``max_keys`` (cleared when full). ``float_keys`` (Prometheus 3): the samples after a histogram or summary
    TYPE line are emitted under keys with ``le`` / ``quantile`` normalised."""

    def __init__(
        self,
        keys: dict[str, str],
        comments: dict[str, tuple[str, str, str | None, int]],
        max_keys: int,
        utf8_names: bool = False,
        check_utf8: bool = False,
        float_keys: FloatLabelKeys | None = None,
    ) -> None:
        self.keys = keys
        self.float_keys = float_keys
        self._normalised: NormalisedKeys | None = None  # the map of the last TYPE line's type, if any
        self.max_keys = max_keys
        self.utf8_names = utf8_names
        self.check_utf8 = check_utf8
        self.comments = comments
        self.families: dict[str, _Family] = {}
        self.samples: list[Sample] = []
        self.slow_lines = 0
        self._last_name: str | None = None
        self._neg = 0  # 1: current name is a histogram bucket, 2: a histogram count
        self._fam_name = ""
        self._pos = 0

    # -- driver ---------------------------------------------------------------------------------------------
    def run(self, text: str) -> Exposition:
        lines = text.split("\n")
        tail = lines.pop()
        for idx in self._comment_lines(text):
            if idx >= len(lines):
                break
            self._segment(lines, self._pos, idx)
            self._comment(lines[idx], idx + 1)
            self._pos = idx + 1
        self._segment(lines, self._pos, len(lines))
        if tail.strip(" \t"):
            lineno = len(lines) + 1
            self._lines([tail], 0, 1, lineno - 1)
            raise _error(lineno, "unexpected end of input stream", len(tail) + 1)
        families = {
            f.name: FamilyMeta(f.name, f.type or "untyped", f.help)
            for f in self.families.values()
            if f.has_samples
        }
        return Exposition(self.samples, families)

    @staticmethod
    def _comment_lines(text: str) -> list[int]:
        """0-based indices of lines starting with ``#`` (found with C-level searches, not a Python scan)."""
        out: list[int] = [0] if text.startswith("#") else []
        count = 0
        last = 0
        find = text.find
        p = find("\n#")
        while p >= 0:
            count += text.count("\n", last, p + 1)
            last = p + 1
            out.append(count)
            p = find("\n#", p + 1)
        return out

    def _segment(self, lines: list[str], a: int, b: int) -> None:
        if a < b and not self._bulk(lines[a:b]):
            self._lines(lines, a, b, 0)

    # -- fast path ------------------------------------------------------------------------------------------
    def _bulk(self, chunk: list[str]) -> bool:
        keys_map = self.keys
        keys, _seps, vals = zip(*map(_RPARTITION, chunk, repeat(" ")))  # noqa: B905 - equal lengths
        if not all(map(keys_map.__contains__, keys)):
            return False
        try:
            floats = list(map(float, vals))
        except ValueError:
            return False
        if not values_look_plain(" ".join(vals)):
            return False
        if not math.isfinite(sum(floats)) and (_INF in floats or _NINF in floats):
            return False  # an infinity: the line path tells literal Inf from out-of-range numbers
        need_neg = False
        for name in set(map(keys_map.__getitem__, keys)):
            fam = self._resolve(name)
            fam.has_samples = True
            if fam.type is None:
                fam.type = "untyped"
            elif fam.type in _HIST and (name.endswith("_bucket") or name.endswith("_count")):
                need_neg = True
        if need_neg and any(map(_ZERO_GT, floats)):
            return False
        self._last_name = None
        normalised = self._normalised
        self.samples.extend(zip(keys if normalised is None else normalised.all(keys), floats, repeat(None)))
        return True

    # -- line path ------------------------------------------------------------------------------------------
    def _lines(self, lines: list[str], a: int, b: int, line_offset: int) -> None:
        get = self.keys.get
        append = self.samples.append
        for idx in range(a, b):
            line = lines[idx]
            if not line:
                continue
            c = line[0]
            if c in "# \t":
                stripped = line.lstrip(" \t")
                if not stripped:
                    continue
                if stripped[0] == "#":
                    self._comment(line, idx + 1 + line_offset)
                    continue
                self._slow(line, idx + 1 + line_offset)
                continue
            key, _, tok = line.rpartition(" ")
            name = get(key)
            ts: int | None = None
            if name is None:
                key2, _, vtok = key.rpartition(" ")
                name = get(key2)
                ts = parse_int(tok) if name is not None else None
                if name is None or ts is None:
                    self._slow(line, idx + 1 + line_offset)
                    continue
                key = key2
                tok = vtok
            value = parse_float(tok)
            if value is None:
                self._slow(line, idx + 1 + line_offset)
                continue
            if name != self._last_name:
                self._enter(name)
            if self._neg and value < 0:
                self._slow(line, idx + 1 + line_offset)
                continue
            normalised = self._normalised
            if normalised is not None:
                key = normalised.keys.get(key) or normalised(key)
            append((key, value, ts))

    def _enter(self, name: str) -> None:
        fam = self._resolve(name)
        fam.has_samples = True
        if fam.type is None:
            fam.type = "untyped"
        self._neg = 0
        if fam.type in _HIST:
            self._neg = 1 if name.endswith("_bucket") else 2 if name.endswith("_count") else 0
        self._last_name = name
        self._fam_name = fam.name

    def _slow(self, line: str, lineno: int) -> None:
        """Full validation of one sample line; caches its key when it is valid regardless of context."""
        self.slow_lines += 1
        n = len(line)
        start = skip_blanks(line, 0)
        try:
            spec = scan_series(line, start, self.utf8_names, self.check_utf8)
        except ScanError as exc:
            raise _error(lineno, exc.message, exc.column) from None
        i = skip_blanks(line, spec.end)
        vstart = i
        while i < n and line[i] != " " and line[i] != "\t":
            i += 1
        vtok = line[vstart:i]
        value = parse_float(vtok)
        if value is None:
            raise _error(lineno, f"expected float as value, got {go_quote(vtok)}", vstart + 1)
        ts: int | None = None
        if i < n:
            i = skip_blanks(line, i)
            tstart = i
            while i < n and line[i] != " " and line[i] != "\t":
                i += 1
            ts = parse_int(line[tstart:i])
            if ts is None:
                got = go_quote(line[tstart:i])
                raise _error(lineno, f"expected integer as timestamp, got {got}", tstart + 1)
            if i < n:
                raise _error(lineno, f"spurious string after timestamp: {go_quote(line[i:])}", i + 1)
        self._enter(spec.name)
        ftype = self.families[self._fam_name].type
        q_ok = spec.quantile is None or parse_float(spec.quantile) is not None
        le_ok = spec.le is None or parse_float(spec.le) is not None
        if ftype == "summary" and not q_ok:
            msg = f"expected float as value for 'quantile' label, got {go_quote(spec.quantile or '')}"
            raise _error(lineno, msg, start + 1)
        if ftype in _HIST and not le_ok:
            raise _error(
                lineno, f"expected float as value for 'le' label, got {go_quote(spec.le or '')}", start + 1
            )
        if self._neg and value < 0:
            what = "bucket population" if self._neg == 1 else "count"
            raise _error(lineno, f"negative {what} for histogram {go_quote(self._fam_name)}", vstart + 1)
        if q_ok and le_ok:
            if len(self.keys) >= self.max_keys:
                self.keys.clear()
            self.keys[spec.key] = spec.name
        key = spec.key if self._normalised is None else self._normalised(spec.key)
        self.samples.append((key, value, ts))

    # -- metadata -------------------------------------------------------------------------------------------
    def _resolve(self, name: str) -> _Family:
        """The family a sample or comment name belongs to (Go ``setOrCreateCurrentMF``), created if new."""
        fams = self.families
        fam = fams.get(name)
        if fam is not None:
            return fam
        base = name[:-6] if len(name) > 6 and name.endswith("_count") else None
        if base is None and len(name) > 4 and name.endswith("_sum"):
            base = name[:-4]
        if base is not None:
            fam = fams.get(base)
            if fam is not None and fam.type == "summary":
                return fam
        if base is None and len(name) > 7 and name.endswith("_bucket"):
            base = name[:-7]
        if base is not None:
            fam = fams.get(base)
            if fam is not None and fam.type in _HIST:
                return fam
        fam = fams[name] = _Family(name)
        return fam

    def _comment(self, line: str, lineno: int) -> None:
        self._last_name = None
        parsed = self.comments.get(line)
        if parsed is None:
            parsed = self._parse_comment(line, lineno)
            if len(self.comments) >= self.max_keys:
                self.comments.clear()
            self.comments[line] = parsed
        if parsed[0]:
            self._apply_comment(parsed, lineno)

    def _apply_comment(self, parsed: tuple[str, str, str | None, int], lineno: int) -> None:
        keyword, name, payload, column = parsed
        fam = self._resolve(name)
        if payload is None:
            return
        if keyword == "HELP":
            if fam.help is not None:
                raise _error(lineno, f"second HELP line for metric name {go_quote(fam.name)}", 1)
            fam.help = payload
            return
        if fam.type is not None:
            msg = f"second TYPE line for metric name {go_quote(fam.name)}, or TYPE reported after samples"
            raise _error(lineno, msg, 1)
        kind = _TYPES.get(payload.lower())
        if kind is None:
            raise _error(lineno, f"unknown metric type {go_quote(payload)}", column)
        fam.type = kind
        if self.float_keys is not None:
            self._normalised = self.float_keys.for_type(kind)

    def _parse_comment(self, line: str, lineno: int) -> tuple[str, str, str | None, int]:
        """Stateless part of a comment line: ("", "", None, 0) for a plain comment, else (keyword, family
        name, HELP text or TYPE word or None when absent, column of that payload)."""
        ignored = ("", "", None, 0)
        n = len(line)
        i = skip_blanks(line, line.index("#") + 1)
        j = i
        while j < n and line[j] != " " and line[j] != "\t":
            j += 1
        keyword = line[i:j]
        if j >= n or keyword not in ("HELP", "TYPE"):
            return ignored
        i = skip_blanks(line, j)
        try:
            if i < n and line[i] == '"':
                name, i = read_quoted(line, i, "metric name")
                if not self.utf8_names and METRIC_NAME_RE.fullmatch(name) is None:
                    raise _error(lineno, "invalid metric name in comment", i)
            else:
                m = METRIC_NAME_RE.match(line, i)
                name = m.group() if m is not None else ""
                i = m.end() if m is not None else i
            if i >= n:
                return ignored
            if line[i] != " " and line[i] != "\t":
                raise _error(lineno, "invalid metric name in comment", i + 1)
            i = skip_blanks(line, i)
            if i >= n:
                return (keyword, name, None, 0)
            payload = unescape(line[i:], i + 1) if keyword == "HELP" else line[i:]
            return (keyword, name, payload, i + 1)
        except ScanError as exc:
            raise _error(lineno, exc.message, exc.column) from None
