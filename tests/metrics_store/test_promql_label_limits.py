"""label_replace and label_join cannot grow labels without bound (hostile review of issue 11): a value over
MAX_LABEL_VALUE_CHARS, or a series' labels over MAX_SERIES_LABEL_CHARS, is an execution error naming the
function, refused before the value is built."""

from __future__ import annotations

import tracemalloc

import pytest
from prometheus_client import CollectorRegistry

from metrics_store.memory import MemoryStore
from metrics_store.promql import Engine, QueryExecutionError, Vector
from metrics_store.promql._labels import MAX_LABEL_VALUE_CHARS, MAX_SERIES_LABEL_CHARS
from metrics_store.regex import ExpansionTooLongError, compile_anchored


def _engine() -> Engine:
    return Engine(MemoryStore(), registry=CollectorRegistry())


def _nested_join(levels: int) -> str:
    query = 'label_replace(vector(1), "a", "xxxxxxxxxx", "", "")'
    for _ in range(levels):
        query = f'label_join({query}, "a", "", "a", "a")'
    return f"count({query})"


def test_doubling_label_join_is_refused_before_memory_is_spent() -> None:
    ok = _engine().instant_query(_nested_join(12), 0)  # 10 * 2**12 = 40,960 characters
    assert isinstance(ok, Vector) and ok.samples[0].value == 1.0
    tracemalloc.start()
    try:
        with pytest.raises(
            QueryExecutionError, match=r"^label_join\(\): the value of label a would be longer"
        ):
            _engine().instant_query(_nested_join(28), 0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50_000_000  # 4.1 GB unbounded


def test_repeated_group_references_are_refused_before_expansion() -> None:
    repl = "$1" * 20_000
    query = (
        f'label_replace(label_replace(vector(1), "a", "{"y" * 1000}", "", ""), "b", "{repl}", "a", "(.*)")'
    )
    with pytest.raises(
        QueryExecutionError, match=r"^label_replace\(\): the value of label b would be longer"
    ):
        _engine().instant_query(query, 0)
    groups = compile_anchored("(.*)").match("abc")
    assert groups is not None
    assert groups.expand("$1-$$-${1}", max_chars=9) == "abc-$-abc"
    with pytest.raises(ExpansionTooLongError):
        groups.expand("$1-$$-${1}", max_chars=8)


def test_the_labels_of_a_series_are_bounded_in_total() -> None:
    query = "vector(1)"
    names = "abcdefg"
    for name in names:  # each label: 10 * 8**4 = 40,960 characters, under the value limit
        query = f'label_replace({query}, "{name}", "xxxxxxxxxx", "", "")'
        sources = ", ".join([f'"{name}"'] * 8)
        for _ in range(4):
            query = f'label_join({query}, "{name}", "", {sources})'
    assert len(names) * 40_960 > MAX_SERIES_LABEL_CHARS and MAX_LABEL_VALUE_CHARS > 40_960
    with pytest.raises(QueryExecutionError, match=r"^label_join\(\): the labels of a series would be longer"):
        _engine().instant_query(query, 0)
