"""Fuzz the PromQL parse path and the engine's instant query with hypothesis-generated PromQL-ish text.

Run as a script (``python -m tests.metrics_store.promql_fuzz N``) in a subprocess by
``test_promql_fuzz.py``: the native parser crashes the *process* (SIGSEGV) rather than raising, so only a
child process can turn a crash into a test failure. Derandomized: the same N examples every run. Every input
must either parse or raise :class:`QueryParseError`/:class:`UnsupportedError`, and the instant query must
return a value or raise a :class:`QueryError`; anything else (another exception, a crash, a hang past the
engine's timeout) fails. Crashers found are kept as ``@example`` regression cases below.
"""

from __future__ import annotations

import contextlib
import sys

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from metrics_store.memory import MemoryStore
from metrics_store.model import labels_from
from metrics_store.promql import Engine, QueryError, QueryParseError, UnsupportedError, parse

__all__ = ["REGRESSIONS", "promql_text", "run"]

NOW_MS = 3_600_000

# Crashers and near-crashers, kept as explicit cases: every one killed the process (SIGSEGV in
# promql_parser) or raised outside the QueryError hierarchy before the guards.
REGRESSIONS = [
    "-".join(["1"] * 5000),  # 10 KB binary chain: stack overflow in the parser
    "(" * 10_000 + "1" + ")" * 10_000,  # 10,000 nested parentheses: stack overflow in the parser
    "abs(" * 6000 + "x" + ")" * 6000,  # nested calls
    "sum(" * 8000 + "x" + ")" * 8000,  # nested aggregations
    "^".join(["2"] * 5000),  # right-associative chain
    "-" * 20_000 + "1",  # unary chain
    "(" * 10_000,  # unbalanced: the parser recursed before reporting it
    "max_over_time(vector(1)[7d:1ms])",  # 6e8 subquery steps
    "x offset 9999999999999y",  # durations past int64 milliseconds
    "vector(1) @ 1e300",
    "x[9999999999999y]",
    "1e999999 + -1e999999",
    "x @ -1",  # pyo3 PanicException (a BaseException) reading a pre-1970 @ time: escaped every handler
    "vector(1)[5m:1m] @ -0.5",
    "x @ 1e308",  # ValueError reading the @ time: a 500 instead of bad_data
    "(((x)[1ms:7d]))",  # a subquery grid without any step: ValueError in the evaluator
    '"' + "\\" * 7 + "x",  # unterminated string ending in an escape
]

_NUMBERS = st.sampled_from(
    ["1", "0", "-1", "1e308", "1e999", "0x7fffffffffffffff", "0xffffffffffffffffff", "Inf", "-Inf", "NaN",
     "1.5", ".5", "5.", "9" * 40, "1e-400"]
)  # fmt: skip
_DURATIONS = st.sampled_from(
    ["1ms", "1s", "5m", "1h", "7d", "1w", "1y", "0s", "1h30m", "9999999999999y", "99999999999999999999s"]
)
_NAMES = st.sampled_from(["x", "m", "up", "ALERTS", "__name__", "and", "by", "on", "nan", "inf"])
_STRINGS = st.one_of(
    st.text(max_size=12).map(lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.sampled_from(['"', "'", "`", '"\\', "'\\'", '"\\u"', '"\\xZZ"', "`a\\`", '"a"b"', "'(((('"]),
)
_MATCH_OPS = st.sampled_from(["=", "!=", "=~", "!~", "==", ""])
_BINARY = st.sampled_from(
    ["+", "-", "*", "/", "%", "^", "==", "!=", "<", ">", "<=", ">=", "and", "or", "unless", "atan2",
     "== bool", "+ on(a)", "* ignoring(b) group_left(c)", "/ on() group_right"]
)  # fmt: skip
_FUNCS = st.sampled_from(
    ["rate", "abs", "vector", "scalar", "time", "timestamp", "absent", "label_replace", "label_join",
     "histogram_quantile", "max_over_time", "holt_winters", "sort", "clamp", "round", "day_of_week", "nope"]
)  # fmt: skip
_AGGS = st.sampled_from(
    ["sum", "avg", "count", "topk", "bottomk", "quantile", "count_values", "stddev", "max"]
)


@st.composite
def _selector(draw: st.DrawFn) -> str:
    name = draw(_NAMES)
    matchers = draw(st.lists(st.tuples(_NAMES, _MATCH_OPS, _STRINGS).map("".join), max_size=3))
    text = name + ("{" + ",".join(matchers) + "}" if matchers or draw(st.booleans()) else "")
    if draw(st.booleans()):
        text += "[" + draw(_DURATIONS) + (":" + draw(_DURATIONS) if draw(st.booleans()) else "") + "]"
    if draw(st.booleans()):
        text += " offset " + draw(_DURATIONS)
    if draw(st.booleans()):
        text += " @ " + draw(st.one_of(_NUMBERS, st.sampled_from(["start()", "end()"])))
    return text


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, _BINARY, children).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        children.map(lambda c: f"({c})"),
        children.map(lambda c: f"-{c}"),
        st.tuples(_FUNCS, st.lists(children, max_size=4)).map(lambda t: f"{t[0]}({', '.join(t[1])})"),
        st.tuples(_AGGS, children, st.lists(children, max_size=1)).map(
            lambda t: f"{t[0]} by (a) ({', '.join([*t[2], t[1]])})"
        ),
        st.tuples(children, _DURATIONS, _DURATIONS).map(lambda t: f"({t[0]})[{t[1]}:{t[2]}]"),
    )


_EXPR = st.recursive(st.one_of(_NUMBERS, _STRINGS, _selector()), _combine, max_leaves=12)


@st.composite
def _shaped(draw: st.DrawFn) -> str:
    """Long binary chains and deep nests around (and far past) the guard's limits."""
    atom = draw(st.one_of(_NUMBERS, _selector()))
    n = draw(st.sampled_from([50, 150, 199, 200, 201, 400, 2000, 6000]))
    kind = draw(st.sampled_from(["chain", "parens", "calls", "unary", "mixed"]))
    if kind == "chain":
        return f" {draw(_BINARY)} ".join([atom] * n)
    if kind == "parens":
        return "(" * n + atom + ")" * n
    if kind == "calls":
        return "abs(" * n + atom + ")" * n
    if kind == "unary":
        return "-" * n + atom
    return "(" * (n // 4) + " + ".join([atom] * (n // 2)) + ")" * (n // 4)


promql_text = st.one_of(
    _EXPR,
    _shaped(),
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda b: b.decode("utf-8", errors="replace")),
    st.lists(st.sampled_from(list("()[]{}\"'`\\#,:@+-*/^=!~<> \n1xe")), max_size=300).map("".join),
)


def _engine() -> Engine:
    store = MemoryStore()
    for i in range(3):
        ref = store.series_ref(labels_from({"__name__": "x", "a": str(i), "b": "y"}))
        store.append([ref] * 60, [t * 60_000 for t in range(60)], [float(t * i) for t in range(60)])
    return Engine(store, timeout_s=5.0, max_samples=2_000_000, registry=CollectorRegistry())


_ENGINE = _engine()


def check(query: str) -> None:
    """The property: parse answers or refuses cleanly, and so does the engine."""
    with contextlib.suppress(QueryParseError, UnsupportedError):
        parse(query)
    with contextlib.suppress(QueryError):
        _ENGINE.instant_query(query, NOW_MS)


def run(max_examples: int) -> None:
    @settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(promql_text)
    def fuzz(query: str) -> None:
        check(query)

    for case in REGRESSIONS:
        fuzz = example(case)(fuzz)
    fuzz()


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
    print("fuzzed ok")
