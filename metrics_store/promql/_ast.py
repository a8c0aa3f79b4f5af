"""The bridge to ``promql_parser``: parse with translated errors, and read its AST into our terms
(matchers, durations in ms, ``@`` timestamps, operator names). Stateless, thread-safe."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import promql_parser

from metrics_store.model import METRIC_NAME, Matcher, MatchOp
from metrics_store.promql._guard import check_query_text
from metrics_store.promql.errors import QueryParseError, UnsupportedError
from metrics_store.regex import RegexError

__all__ = [
    "AtSpec",
    "at_spec",
    "duration_ms",
    "op_name",
    "parse",
    "parse_selector",
    "selector_matchers",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)

# promql_parser's enum members are not hashable: a list of pairs, compared by ==.
_MATCH_OPS = [
    (promql_parser.MatchOp.Equal, MatchOp.EQ),
    (promql_parser.MatchOp.NotEqual, MatchOp.NE),
    (promql_parser.MatchOp.Re, MatchOp.RE),
    (promql_parser.MatchOp.NotRe, MatchOp.NRE),
]


def _match_op(op: Any) -> MatchOp:
    for theirs, ours in _MATCH_OPS:
        if op == theirs:
            return ours
    raise UnsupportedError(f"label matcher operator {op} is not supported")


# AtSpec: ("start" | "end" | "ms", timestamp_ms or 0)
AtSpec = tuple[str, int]


_STRINGS = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`""")
_HOLT_WINTERS = re.compile(r"\bholt_winters(\s*\()")
_RENAMED = re.compile(r"\bdouble_exponential_smoothing\s*\(")
HOLT_WINTERS_AS_PARSED = "double_exponential_smoothing"


def _rename_holt_winters(query: str) -> str:
    """promql_parser knows Prometheus 2.42's ``holt_winters`` only by its 3.x name
    ``double_exponential_smoothing``: rename it outside string literals (and reject the 3.x name)."""
    parts: list[str] = []
    pos = 0
    for m in [*_STRINGS.finditer(query), None]:
        code = query[pos : m.start() if m else len(query)]
        if _RENAMED.search(code):
            raise QueryParseError(f'parse error: unknown function with name "{HOLT_WINTERS_AS_PARSED}"')
        parts.append(_HOLT_WINTERS.sub(HOLT_WINTERS_AS_PARSED + r"\1", code))
        if m is not None:
            parts.append(m.group(0))
            pos = m.end()
    return "".join(parts)


def parse(query: str) -> Any:
    """Parse ``query``; syntax and type errors become :class:`QueryParseError` (cause chained). The text is
    checked against the limits of ``_guard`` first (:class:`QueryTooLargeError`): the parser never sees a
    text that could overflow its stack."""
    check_query_text(query)
    try:
        return promql_parser.parse(_rename_holt_winters(query))
    except ValueError as exc:
        raise QueryParseError(f"parse error: {exc}") from exc


def duration_ms(delta: timedelta | None) -> int:
    """A parser duration (possibly negative, e.g. ``offset -5m``) in whole milliseconds."""
    if delta is None:
        return 0
    return delta // _ONE_MS


def at_spec(at: Any) -> AtSpec | None:
    """The ``@`` modifier of a selector or subquery, or None."""
    if at is None:
        return None
    kind = at.type
    if kind == promql_parser.AtModifierType.Start:
        return ("start", 0)
    if kind == promql_parser.AtModifierType.End:
        return ("end", 0)
    try:
        moment: datetime = at.at
    except (ValueError, OverflowError) as exc:  # "number too large to fit in target type"
        raise QueryParseError("parse error: timestamp out of bounds for @ modifier") from exc
    except Exception:
        raise
    except BaseException as exc:
        # promql_parser panics (pyo3's PanicException, a BaseException) converting a time before 1970.
        if type(exc).__name__ != "PanicException":
            raise
        raise UnsupportedError("@ modifier timestamps before 1970 are not supported") from exc
    return ("ms", (moment - _EPOCH) // _ONE_MS)


def selector_matchers(vs: Any) -> list[Matcher]:
    """All matchers of a VectorSelector, the metric name included as ``__name__="..."``."""
    if vs.matchers.or_matchers:
        raise UnsupportedError("'or' inside a label selector is not supported (not in Prometheus 2.42)")
    out = [Matcher(METRIC_NAME, MatchOp.EQ, vs.name)] if vs.name else []
    try:
        out.extend(Matcher(m.name, _match_op(m.op), m.value) for m in vs.matchers.matchers)
    except RegexError as exc:  # RE2 refuses a few patterns the parser accepted, e.g. a{1001}
        raise QueryParseError(f"parse error: {exc}") from exc
    return out


def op_name(token: Any) -> str:
    """Operator or aggregation name of a token (``"+"``, ``"=="``, ``"sum"``, ``"and"``...)."""
    return str(token).lower()


def parse_selector(text: str) -> list[Matcher]:
    """Matchers of a series selector such as ``up{job="x"}`` (the ``match[]`` of the HTTP API)."""
    node = parse(text)
    if not isinstance(node, promql_parser.VectorSelector):
        raise QueryParseError(f"parse error: {text!r} is not a series selector")
    return selector_matchers(node)
