"""``metrics_store._query_string``: the same pairs as ``urllib.parse.parse_qsl`` for any text, a long text's
escapes decoded without a Python step per escape, and a long form parsed off the event loop."""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, unquote_to_bytes

import anyio
import pytest
import starlette.datastructures
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from metrics_store import _query_string
from metrics_store._query_string import OFF_LOOP_CHARS, parse_form, parse_qsl_exact, unquote_exact
from metrics_store.api import query_router
from metrics_store.memory import MemoryStore
from metrics_store.model import labels_from

# what query strings and form bodies are made of, weighted towards what changes the decoding
_PIECES = [
    "%", "%2", "%28", "%29", "%e2%82", "%E2%82%AC", "%C3", "%c3%a9", "%3D", "%25", "%zz", "%2g", "%%", "%0A",
    "=", "&", "+", "&&", "==", "a", "F", "9", " ", "\t", "\r", "\n", "\r\n", "_", "\x00", "\x7f", "é", "€",
    "\x80", "\xff", "\U0001f600", "query", "=(", ")",
]  # fmt: skip
_TEXTS = st.lists(st.sampled_from(_PIECES), max_size=80).map("".join)


@settings(max_examples=1000, derandomize=True, deadline=None)
@given(_TEXTS)
def test_pairs_are_parse_qsl_s(text: str) -> None:
    assert parse_qsl_exact(text) == parse_qsl(text, keep_blank_values=True)


@settings(max_examples=1000, derandomize=True, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_parse_qsl_s_pairs(text: str) -> None:
    encoded = quote(text, safe="=&+%")  # escapes of whatever the text holds, with its separators kept
    for candidate in (text, encoded, encoded * 9):
        assert parse_qsl_exact(candidate) == parse_qsl(candidate, keep_blank_values=True)


@settings(max_examples=500, derandomize=True, deadline=None)
@given(_TEXTS)
def test_pieces_never_cut_an_escape(text: str) -> None:
    """A long run is decoded in pieces (one C call each); with pieces of 3 characters every cut is tried."""
    run = "%28" * 8 + "".join(ch for ch in text if ch.isascii())
    real = _query_string.PIECE_CHARS
    try:
        _query_string.PIECE_CHARS = 3
        assert _query_string._ascii_to_bytes(run) == unquote_to_bytes(run)
        _query_string.PIECE_CHARS = 4
        assert _query_string._ascii_to_bytes(run) == unquote_to_bytes(run)
    finally:
        _query_string.PIECE_CHARS = real


def test_every_short_ascii_run_decodes_as_urllib_does() -> None:
    """Every string of up to 4 of these characters, with at least the escapes that take the C path."""
    alphabet = ["%", "2", "8", "a", "F", "g", "=", "\r", "\n", " ", "_", "+"]
    prefix = "%28" * 8  # past the threshold below which urllib's own loop decodes
    checked = 0
    for length in range(5):
        for chars in itertools.product(alphabet, repeat=length):
            text = prefix + "".join(chars)
            assert _query_string._ascii_to_bytes(text) == unquote_to_bytes(text), repr(text)
            assert unquote_exact(text) == unquote(text)
            checked += 1
    assert checked == sum(len(alphabet) ** n for n in range(5))


def _python_calls(fn: Callable[[], Any]) -> int:
    """How many Python and C function calls ``fn`` makes (``sys.setprofile``): deterministic, unlike time."""
    count = 0

    def profile(_frame: Any, event: str, _arg: Any) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return count


def test_many_escapes_cost_no_python_step_each() -> None:
    """The 10,000 nested parentheses of the hostile PromQL URL (20,000 escapes, one piece): as many function
    calls as 10 parentheses, where ``parse_qsl`` makes a few per escape (the CPU is measured by
    ``bench/hostile.py --cpu-per-kind``, not here)."""

    def url(depth: int) -> str:
        return "query=" + quote("(" * depth + "1" + ")" * depth, safe="")

    hostile, small = url(10_000), url(10)
    assert parse_qsl_exact(hostile) == parse_qsl(hostile, keep_blank_values=True)
    assert _python_calls(lambda: parse_qsl_exact(hostile)) == _python_calls(lambda: parse_qsl_exact(small))
    stdlib_small = _python_calls(lambda: parse_qsl(small, keep_blank_values=True))
    assert _python_calls(lambda: parse_qsl(hostile, keep_blank_values=True)) > 1_000 * stdlib_small // 10


def _parsing_thread(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []
    real = _query_string.parse_qsl_exact

    def recorded(text: str) -> list[tuple[str, str]]:
        seen.append(threading.get_ident())
        return real(text)

    monkeypatch.setattr(_query_string, "parse_qsl_exact", recorded)
    return seen


def test_a_long_form_is_parsed_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _parsing_thread(monkeypatch)
    long_text = "query=" + "%28" * (OFF_LOOP_CHARS // 3 + 1)

    async def both() -> tuple[list[tuple[str, str]], list[tuple[str, str]], int]:
        return await parse_form("a=1"), await parse_form(long_text), threading.get_ident()

    short, long, loop_thread = anyio.run(both)
    assert short == [("a", "1")] and long == parse_qsl(long_text, keep_blank_values=True)
    assert seen[0] == loop_thread and seen[1] != loop_thread


def test_the_query_api_reads_a_long_query_string_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hostile URL is still refused by the query guard (400 ``bad_data``), after a parse that did not
    hold the event loop; an ordinary query's short URL and an urlencoded POST body give the same answers."""
    store = MemoryStore()
    ref = store.series_ref(labels_from({"__name__": "up", "job": "a b"}))
    store.append([ref], [0], [1.0])
    app = FastAPI()
    app.include_router(query_router(store, clock=lambda: 10.0, registry=CollectorRegistry()))
    seen = _parsing_thread(monkeypatch)
    stdlib_parses: list[int] = []  # Starlette's own parse of request.query_params (FastAPI asks for it)

    def recorded(text: str, **kw: Any) -> list[tuple[str, str]]:
        stdlib_parses.append(len(text))
        return parse_qsl(text, **kw)

    monkeypatch.setattr(starlette.datastructures, "parse_qsl", recorded)
    with TestClient(app) as client:
        loop_thread = client.portal.call(threading.get_ident)  # type: ignore[union-attr]
        hostile = client.get("/api/v1/query", params={"query": "(" * 10_000 + "1" + ")" * 10_000})
        assert hostile.status_code == 400 and hostile.json()["errorType"] == "bad_data"
        assert seen and all(ident != loop_thread for ident in seen)
        assert stdlib_parses == []
        seen.clear()
        for resp in (
            client.get("/api/v1/query?query=up%7Bjob%3D%22a+b%22%7D&time=5"),
            client.post("/api/v1/query", data={"query": 'up{job="a b"}', "time": "5"}),
        ):
            assert resp.json()["data"]["result"] == [
                {"metric": {"__name__": "up", "job": "a b"}, "value": [5, "1"]}
            ]
        assert seen and all(ident == loop_thread for ident in seen)
