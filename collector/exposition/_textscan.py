"""Scanner for one text-format series specification: ``name``, ``name{l="v",...}`` or ``{"name",...}``.

Mirrors the state machine of the reference Go parser (prometheus/common ``expfmt/text_parse.go``): blanks and
tabs are allowed around names, ``=``, ``,`` and values, a trailing comma is allowed, and quoted (UTF-8)
metric and label names are understood. With ``utf8_names=False`` (the default, the *legacy* rule set) quoted
names must still match ``[a-zA-Z_:][a-zA-Z0-9_:]*`` / ``[a-zA-Z_][a-zA-Z0-9_]*``.

Errors are raised as :class:`ScanError` carrying the message (the Go wording) and a 1-based column; the
caller adds the line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from collector.exposition._values import LABEL_NAME_RE, METRIC_NAME_RE, go_quote

__all__ = ["ScanError", "SeriesSpec", "read_quoted", "scan_series", "skip_blanks", "unescape"]

_QUOTED_RE = re.compile(r'"([^"\\]*(?:\\.[^"\\]*)*)"')
_ESCAPE_RE = re.compile(r"\\(.?)")
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}
_SURROGATE_RE = re.compile("[\udc80-\udcff]")
_PAIR = r'[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*(?:\\.[^"\\]*)*"'
# The canonical spelling every client library writes: no blanks, no quoted names, no trailing comma.
_CANONICAL_RE = re.compile(rf"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{{((?:{_PAIR})(?:,{_PAIR})*)?\}})?")
_PAIR_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"\\]*(?:\\.[^"\\]*)*)"')


class ScanError(Exception):
    """A syntax error inside one line; ``column`` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


@dataclass(slots=True)
class SeriesSpec:
    """A scanned series: ``key`` is the raw text of the specification, ``end`` the index just after it."""

    key: str
    name: str
    labels: list[tuple[str, str]]
    quantile: str | None
    le: str | None
    end: int


def skip_blanks(line: str, i: int) -> int:
    n = len(line)
    while i < n and (line[i] == " " or line[i] == "\t"):
        i += 1
    return i


def unescape(raw: str, column: int) -> str:
    """Resolve ``\\\\``, ``\\"`` and ``\\n``; any other escape is an error at ``column`` + offset."""
    if "\\" not in raw:
        return raw
    for m in _ESCAPE_RE.finditer(raw):
        if m.group(1) not in _ESCAPES:
            seq = m.group(1) or "\\n"
            raise ScanError(f"invalid escape sequence '\\{seq}'", column + m.start())
    return _ESCAPE_RE.sub(lambda m: _ESCAPES[m.group(1)], raw)


def read_quoted(line: str, i: int, what: str) -> tuple[str, int]:
    """Read the quoted string starting at ``line[i] == '"'``; returns (unescaped text, index after it)."""
    m = _QUOTED_RE.match(line, i)
    if m is None:
        # The line ended inside the quotes: in the Go parser that is a raw new-line (or end of input).
        raw = line[i + 1 :]
        if raw.endswith("\\") and not raw.endswith("\\\\"):
            raw = raw[:-1]
        partial = unescape(raw, i + 2)
        raise ScanError(f"{what} {go_quote(partial)} contains unescaped new-line", len(line) + 1)
    return unescape(m.group(1), i + 2), m.end()


def _found(line: str, i: int) -> str:
    return repr(line[i]) if i < len(line) else "'\\n'"


def _unescape_one(m: re.Match[str]) -> str:
    return _ESCAPES[m.group(1)]


def _scan_canonical(line: str, start: int) -> SeriesSpec | None:
    """Regex fast path for the canonical spelling; None when anything needs the full state machine."""
    m = _CANONICAL_RE.match(line, start)
    if m is None:
        return None
    end = m.end()
    body = m.group(2)
    if m.group(0)[-1] != "}":
        nxt = skip_blanks(line, end)
        if nxt < len(line) and line[nxt] == "{":
            return None  # "name {...}": blanks before the label set
        return SeriesSpec(m.group(0), m.group(1), [], None, None, end)
    labels: list[tuple[str, str]] = _PAIR_RE.findall(body) if body else []
    if body and "\\" in body:
        unescaped = []
        for name, raw in labels:
            if "\\" not in raw:
                unescaped.append((name, raw))
                continue
            if any(e.group(1) not in _ESCAPES for e in _ESCAPE_RE.finditer(raw)):
                return None
            unescaped.append((name, _ESCAPE_RE.sub(_unescape_one, raw)))
        labels = unescaped
    names = {k for k, _ in labels}
    if len(names) != len(labels) or "__name__" in names:
        return None
    d = dict(labels)
    return SeriesSpec(m.group(0), m.group(1), labels, d.get("quantile"), d.get("le"), end)


def scan_series(  # noqa: PLR0912, PLR0915 - hot path: one pass per line
    line: str, start: int, utf8_names: bool, check_utf8: bool
) -> SeriesSpec:
    """Scan the series specification starting at ``line[start]`` (a non-blank character)."""
    if not check_utf8:
        fast = _scan_canonical(line, start)
        if fast is not None:
            return fast
    n = len(line)
    i = start
    name: str | None = None
    labels: list[tuple[str, str]] = []
    quantile: str | None = None
    le: str | None = None
    in_braces = line[i] == "{"
    if not in_braces:
        if line[i] == '"':
            name, i = read_quoted(line, i, "metric name")
            if not utf8_names and METRIC_NAME_RE.fullmatch(name) is None:
                raise ScanError(f"invalid metric name {go_quote(name)}", start + 1)
        else:
            m = METRIC_NAME_RE.match(line, i)
            if m is None:
                raise ScanError("invalid metric name", i + 1)
            name = m.group()
            i = m.end()
        j = skip_blanks(line, i)
        if j >= n or line[j] != "{":
            return SeriesSpec(line[start:i], name, labels, None, None, i)
        i = j
    i += 1  # past "{"
    seen: set[str] = set()
    while True:
        i = skip_blanks(line, i)
        if i < n and line[i] == "}":
            i += 1
            break
        quoted = i < n and line[i] == '"'
        if quoted:
            lname, i = read_quoted(line, i, "label name")
        else:
            m = LABEL_NAME_RE.match(line, i)
            if m is None:
                suffix = f" {go_quote(name)}" if name is not None else ""
                raise ScanError(f"invalid label name for metric{suffix}", i + 1)
            lname = m.group()
            i = m.end()
        j = skip_blanks(line, i)
        ch = line[j] if j < n else "\n"
        if ch != "=":
            if in_braces and ch in ",}":
                if not utf8_names and METRIC_NAME_RE.fullmatch(lname) is None:
                    raise ScanError(f"invalid metric name {go_quote(lname)}", i + 1)
                if name is not None:
                    raise ScanError("multiple metric names", i + 1)
                name = lname
                i = j + 1
                if ch == "}":
                    break
                continue
            if in_braces and quoted:
                raise ScanError("unexpected end of metric name", j + 1)
            raise ScanError(f"expected '=' after label name, found {_found(line, j)}", j + 1)
        if quoted and not utf8_names and LABEL_NAME_RE.fullmatch(lname) is None:
            raise ScanError(f"invalid label name {go_quote(lname)}", i + 1)
        if lname == "__name__":
            raise ScanError('label name "__name__" is reserved', i + 1)
        if lname in seen:
            raise ScanError(f"duplicate label names for metric {go_quote(name or '')}", i + 1)
        seen.add(lname)
        i = skip_blanks(line, j + 1)
        if i >= n or line[i] != '"':
            raise ScanError(f"expected '\"' at start of label value, found {_found(line, i)}", i + 1)
        vstart = i
        value, i = read_quoted(line, i, "label value")
        if check_utf8 and _SURROGATE_RE.search(value) is not None:
            raise ScanError(f"invalid label value {go_quote(value)}", vstart + 1)
        labels.append((lname, value))
        if lname == "quantile":
            quantile = value
        elif lname == "le":
            le = value
        i = skip_blanks(line, i)
        ch = line[i] if i < n else "\n"
        if ch == ",":
            i += 1
            continue
        if ch == "}":
            i += 1
            break
        raise ScanError(f"unexpected end of label value {go_quote(value)}", i + 1)
    if name is None:
        raise ScanError("invalid metric name", start + 1)
    return SeriesSpec(line[start:i], name, labels, quantile, le, i)
