"""The bridge to ``promql_parser``: parse with translated errors, and read its AST into our terms
(matchers, durations in ms, ``@`` timestamps, operator names). Stateless, thread-safe.

Regex matchers never reach the parser as written: it would compile every pattern with Rust's Unicode regex
while holding the GIL (800 ``\\w{0,200}`` matchers froze a server for 96 s and took 7.9 GB), and the
engine never uses that compiled form. :func:`parse` replaces the literal of each regex matcher (found by
``_guard.regex_literal_spans``) with a placeholder that carries its value hex-encoded (``"__pmre_6162"``
for ``"ab"``, a plain literal the parser compiles in microseconds); :func:`selector_matchers` decodes it and
compiles the pattern with RE2 (``metrics_store.regex``, under its limits). The AST stays self-contained (no
side table, so ASTs can be cached), and every literal written by a user is encoded, so no user value can be
mistaken for a placeholder. What the parser checked with the compiled regex is checked here instead, at
parse time: the pattern compiles (RE2's refusal is a parse error, 400) and a selector without a metric
name has a matcher that does not match the empty string. Text printed from such an AST goes through
:func:`unmask` (``format_query``, the alert explainer).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import promql_parser

from metrics_store.model import METRIC_NAME, Matcher, MatchOp
from metrics_store.promql._guard import check_query_text, quoted_name_spans, regex_literal_spans
from metrics_store.promql.errors import QueryParseError, UnsupportedError
from metrics_store.promql.semantics import PROMETHEUS_3, Semantics
from metrics_store.regex import RegexError

__all__ = [
    "AtSpec",
    "at_spec",
    "duration_ms",
    "format_query",
    "op_name",
    "parse",
    "parse_selector",
    "selector_matchers",
    "unmask",
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
    ``double_exponential_smoothing``: rename it outside string literals (and reject the 3.x name, unknown
    to 2.42). Under 3.x semantics the text goes to the parser as written: it knows the 3.x name only."""
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


_PLACEHOLDER = "__pmre_"
_PRINTED_PLACEHOLDER = re.compile(r'"__pmre_([0-9a-f]*)"')


def _mask_regexes(query: str) -> str:
    """``query`` with the literal of every regex matcher replaced by its placeholder (see the module doc).
    A literal the parser cannot read alone is left as written: the whole text fails to lex at it."""
    parts: list[str] = []
    pos = 0
    for start, end in regex_literal_spans(query):
        try:
            literal = promql_parser.parse(query[start:end])  # a string expression: nothing is compiled
        except ValueError:
            continue
        if not isinstance(literal, promql_parser.StringLiteral):
            continue
        value = literal.val
        encoded = str(value).encode("utf-8", errors="surrogatepass").hex()
        parts.extend((query[pos:start], f'"{_PLACEHOLDER}{encoded}"'))
        pos = end
    parts.append(query[pos:])
    return "".join(parts)


def _regex_value(value: str) -> str:
    """The pattern a regex matcher's value from the parser stands for."""
    if value.startswith(_PLACEHOLDER):
        try:
            return bytes.fromhex(value[len(_PLACEHOLDER) :]).decode("utf-8", errors="surrogatepass")
        except ValueError:
            pass
    return value  # an AST parsed from unmasked text (promql_parser.parse called directly)


def _native_parse(text: str) -> Any:
    try:
        return promql_parser.parse(_mask_regexes(text))
    except ValueError as exc:
        raise QueryParseError(f"parse error: {exc}") from exc


def parse(query: str, semantics: Semantics = PROMETHEUS_3) -> Any:
    """Parse ``query`` as the Prometheus of ``semantics`` parses it; syntax and type errors become
    :class:`QueryParseError` (cause chained). The text is checked against the limits of ``_guard`` first
    (:class:`QueryTooLargeError`): the parser never sees a text that could overflow its stack, nor a regex
    pattern (see the module doc); the patterns are compiled with RE2 here, a refused one is a
    :class:`QueryParseError`. Prometheus 2.42 semantics refuse the quoted UTF-8 name syntax and know
    ``holt_winters``; 3.x semantics accept the former and know ``double_exponential_smoothing`` instead."""
    check_query_text(query)
    if semantics.utf8_names:
        text = query
    else:
        spans = quoted_name_spans(query)
        if spans:
            start, end = spans[0]
            raise QueryParseError(
                f"parse error: unexpected string {query[start:end]} where a metric or label name is expected "
                '(quoted UTF-8 names need Prometheus 3 semantics: promql.semantics: "3")'
            )
        text = _rename_holt_winters(query)
    node = _native_parse(text)
    for vs in _vector_selectors(node):
        _check_selector(vs)
    if semantics.version == "3" and not semantics.experimental_functions:
        _check_experimental(node)
    return node


def format_query(query: str) -> str:
    """``query`` checked and pretty-printed by the parser (``/api/v1/format_query``), patterns as written."""
    check_query_text(query)
    node = _native_parse(query)
    for vs in _vector_selectors(node):
        _check_selector(vs)
    return unmask(str(node.prettify()))


def unmask(printed: str) -> str:
    """Text printed from an AST of :func:`parse` with each placeholder replaced by its pattern, quoted as
    the parser prints a string (by printing an equality matcher of that value: nothing is compiled)."""

    def quoted(m: re.Match[str]) -> str:
        value = _regex_value(_PLACEHOLDER + m.group(1))
        literal = json.dumps(value, ensure_ascii=False)
        try:
            shown = str(promql_parser.parse(f"x{{a={literal}}}").prettify())
        except ValueError:
            return literal
        return shown[len("x{a=") : -1]

    return _PRINTED_PLACEHOLDER.sub(quoted, printed)


def _nodes(node: Any) -> list[Any]:
    """Every node of a parsed expression, ``node`` first; iterative (the tree may be deep)."""
    out: list[Any] = []
    stack = [node]
    while stack:
        current = stack.pop()
        out.append(current)
        if isinstance(current, promql_parser.MatrixSelector):
            stack.append(current.vector_selector)
        elif isinstance(
            current, promql_parser.SubqueryExpr | promql_parser.ParenExpr | promql_parser.UnaryExpr
        ):
            stack.append(current.expr)
        elif isinstance(current, promql_parser.BinaryExpr):
            stack.extend((current.lhs, current.rhs))
        elif isinstance(current, promql_parser.AggregateExpr):
            stack.extend(n for n in (current.expr, current.param) if n is not None)
        elif isinstance(current, promql_parser.Call):
            stack.extend(current.args)
    return out


def _vector_selectors(node: Any) -> list[Any]:
    """Every VectorSelector of ``node`` (those inside matrix selectors included)."""
    return [n for n in _nodes(node) if isinstance(n, promql_parser.VectorSelector)]


# Prometheus 3's functions and aggregations behind --enable-feature=promql-experimental-functions that
# promql_parser knows.
EXPERIMENTAL_FUNCTIONS = frozenset(
    {"double_exponential_smoothing", "info", "mad_over_time", "sort_by_label", "sort_by_label_desc"}
)
EXPERIMENTAL_AGGREGATIONS = frozenset({"limitk", "limit_ratio"})


def _check_experimental(node: Any) -> None:
    """3.x semantics without experimental functions: refuse them at parse time, as Prometheus 3 does."""
    for n in _nodes(node):
        if isinstance(n, promql_parser.Call):
            name = str(n.func.name)
            if name in EXPERIMENTAL_FUNCTIONS:
                raise QueryParseError(
                    f'parse error: function "{name}" is not enabled '
                    "(experimental: set promql.experimental_functions: true)"
                )
        elif isinstance(n, promql_parser.AggregateExpr) and op_name(n.op) in EXPERIMENTAL_AGGREGATIONS:
            raise QueryParseError(
                f"parse error: {op_name(n.op)}() is experimental and must be enabled with "
                "promql.experimental_functions: true"
            )


def vector_selectors(node: Any) -> list[Any]:
    """Every VectorSelector of a parsed expression (those inside matrix selectors included)."""
    return _vector_selectors(node)


def _check_selector(vs: Any) -> None:
    """What the parser would have checked with its compiled regexes: each pattern compiles (RE2) and a
    selector without a metric name has a matcher that does not match the empty string."""
    matchers = [
        _matcher(m.name, _match_op(m.op), m.value)
        for group in (vs.matchers.matchers, *vs.matchers.or_matchers)
        for m in group
    ]
    if not vs.name and all(m.matches("") for m in matchers):
        raise QueryParseError("parse error: vector selector must contain at least one non-empty matcher")


def _matcher(name: str, op: MatchOp, value: str, dot_nl: bool = True) -> Matcher:
    if op is MatchOp.RE or op is MatchOp.NRE:
        value = _regex_value(value)
    try:
        return Matcher(name, op, value, dot_nl)
    except RegexError as exc:  # RE2 refuses the pattern (bad syntax, a{1001}, too large)
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


def selector_matchers(vs: Any, *, dot_nl: bool = True) -> list[Matcher]:
    """All matchers of a VectorSelector, the metric name included as ``__name__="..."``; regex ``.``
    matches a newline unless ``dot_nl`` is False (Prometheus 2.42, see ``semantics``)."""
    if vs.matchers.or_matchers:
        raise UnsupportedError("'or' inside a label selector is not supported (not in Prometheus 2.42)")
    out = [Matcher(METRIC_NAME, MatchOp.EQ, vs.name)] if vs.name else []
    out.extend(_matcher(m.name, _match_op(m.op), m.value, dot_nl) for m in vs.matchers.matchers)
    return out


def op_name(token: Any) -> str:
    """Operator or aggregation name of a token (``"+"``, ``"=="``, ``"sum"``, ``"and"``...)."""
    return str(token).lower()


def parse_selector(text: str, semantics: Semantics = PROMETHEUS_3) -> list[Matcher]:
    """Matchers of a series selector such as ``up{job="x"}`` (the ``match[]`` of the HTTP API)."""
    node = parse(text, semantics)
    if not isinstance(node, promql_parser.VectorSelector):
        raise QueryParseError(f"parse error: {text!r} is not a series selector")
    return selector_matchers(node, dot_nl=semantics.regex_dot_nl)
