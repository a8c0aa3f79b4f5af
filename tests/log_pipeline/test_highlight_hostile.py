"""Highlighting is linear for any query (it runs on the event loop): RE2 wildcards, KMP phrases."""

from __future__ import annotations

import threading
from collections.abc import Callable

from log_pipeline.search.highlight import MAX_WILDCARD_TOKEN_CHARS, highlight
from log_pipeline.search.query import MESSAGE as MESSAGE_FIELD
from log_pipeline.search.query import Wildcard, parse_query


def _spans(fn: Callable[[], list[tuple[int, int]]]) -> list[tuple[int, int]]:
    """``fn()`` in a thread; fails if it is still running after 10 s (a freeze, not a timing)."""
    out: list[list[tuple[int, int]]] = []
    worker = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "highlight did not finish: backtracking or quadratic search?"
    return out[0]


def test_hostile_wildcard_highlights_correctly() -> None:
    tokens = [f"{'a' * 250}{i:05d}" for i in range(200)]  # 255 characters each, all distinct
    message = " ".join([*tokens, "aaab"])
    node = parse_query("*a*a*a*a*a*a*a*a*a*a*a*a*b")  # backtracks exponentially under Python's re
    assert _spans(lambda: highlight(node, message).message) == []
    node = parse_query("*a*a*a*b")
    assert _spans(lambda: highlight(node, message).message) == [(len(message) - 4, len(message))]


def test_wildcards_skip_tokens_no_store_indexes() -> None:
    long_token = "b" * (MAX_WILDCARD_TOKEN_CHARS + 1)
    message = f"{long_token} {'b' * MAX_WILDCARD_TOKEN_CHARS}"
    assert highlight(parse_query("b*"), message).message == [(len(long_token) + 1, len(message))]


def test_wildcard_characters_are_literal_apart_from_star_and_question_mark() -> None:
    message = "a.b a+b a(b axb"
    assert highlight(Wildcard(MESSAGE_FIELD, "a?b"), message).message == [(12, 15)]  # only the token "axb"
    assert highlight(Wildcard(MESSAGE_FIELD, "a*"), message).message == [(0, 1), (4, 5), (8, 9), (12, 15)]
    assert highlight(Wildcard(MESSAGE_FIELD, "(*"), "x (y").message == []


def test_wildcard_too_large_for_re2_highlights_nothing() -> None:
    node = Wildcard(MESSAGE_FIELD, "?" * 70_000)
    assert highlight(node, "abc").message == []


def test_long_phrase_against_a_repetitive_message_is_linear() -> None:
    message = " ".join(["a"] * 100_000)
    phrase = '"' + " ".join(["a"] * 5_000) + ' b"'
    node = parse_query(phrase)
    assert _spans(lambda: highlight(node, message).message) == []
    node = parse_query('"a a"')
    assert _spans(lambda: highlight(node, message).message) == [(0, len(message))]


def test_phrase_occurrences_overlap_and_merge() -> None:
    message = "x y x y x z"
    assert highlight(parse_query('"x y x"'), message).message == [(0, 9)]
    assert highlight(parse_query('"x z"'), message).message == [(8, 11)]
