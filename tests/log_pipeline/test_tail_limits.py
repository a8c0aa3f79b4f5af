"""Live tail limits: subscriber caps (global, per principal), queued bytes, query length, linear matching."""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from log_pipeline.api import logs_router
from log_pipeline.model import LogRecord
from log_pipeline.search.query import QuerySyntaxError, Wildcard, parse_query, resolve_field
from log_pipeline.search.tail import TailHub, TailRefusedError, matches, record_bytes
from log_pipeline.search.tantivy_store import TantivyStore

T0 = 1_714_564_800_000_000_000


def _hub(**kw: Any) -> tuple[TailHub, CollectorRegistry]:
    reg = CollectorRegistry()
    return TailHub(registry=reg, **kw), reg


def _rec(message: str, **labels: str) -> LogRecord:
    return LogRecord("r1", T0, message, labels)


@pytest.mark.parametrize(
    ("query", "record", "want"),
    [
        ("app:ca?t", _rec("x", app="cart"), True),
        ("app:c*", _rec("x", app="cart"), True),
        ("app:c*x", _rec("x", app="cart"), False),
        ("app:*", _rec("x", app=""), True),
        ("app:a.b*", _rec("x", app="a.bc"), True),
        ("app:a.b*", _rec("x", app="axbc"), False),  # the dot is literal
        ("app:(a*", _rec("x", app="(ab"), False),  # not a query the lexer accepts as a wildcard: no crash
        ("message:BO*", _rec("Boom happened"), True),
        ("message:b?om", _rec("Boom happened"), True),
        ("message:h*z", _rec("Boom happened"), False),
        ('"a a b"', _rec("a a a b"), True),  # phrase search must not give up at the first partial match
        ('"a b a"', _rec("a b b a"), False),
        ('"connection refused"', _rec("error: connection   refused!"), True),
    ],
)
def test_matching_semantics(query: str, record: LogRecord, want: bool) -> None:
    try:
        node = parse_query(query)
    except QuerySyntaxError:
        assert not want
        return
    assert matches(node, record) is want


def _finishes(fn: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    """Run ``fn`` in a thread; its answer, or a failure when it is still running after ``timeout_s`` (a
    backtracking matcher needs minutes to hours here: this detects a freeze, it does not time anything)."""
    out: list[bool] = []
    worker = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    worker.start()
    worker.join(timeout_s)
    assert out, f"still matching after {timeout_s} s"
    return out[0]


def test_hostile_wildcards_do_not_freeze_the_matcher() -> None:
    value = "a" * 20_000
    # each wildcard at the query language's 256-character cap (built as nodes: the parser also caps the '*'
    # of a query at MAX_WILDCARD_STARS, but the matcher must be linear whatever it is given); Python's re
    # needed minutes for the first
    app, message = resolve_field("app"), resolve_field("message")
    for node in [
        Wildcard(app, "*a" * 127 + "*b"),
        Wildcard(message, "*a" * 127 + "*b"),
        Wildcard(app, "?*" * 127 + "b"),
    ]:
        record = _rec(value + " " + value, app=value)
        assert not _finishes(functools.partial(matches, node, record))
    assert _finishes(lambda: matches(Wildcard(app, "*a" * 127), _rec("", app=value)))


def test_phrase_of_repeated_tokens_does_not_freeze() -> None:
    node = parse_query('"' + " ".join(["a"] * 1000 + ["b"]) + '"')
    assert not _finishes(lambda: matches(node, _rec(" ".join(["a"] * 20_000))))
    assert _finishes(lambda: matches(node, _rec(" ".join(["a"] * 20_000 + ["b"]))))


def test_subscriber_caps_global_and_per_principal() -> None:
    hub, reg = _hub(max_subscribers=3, max_subscribers_per_principal=2)
    a1, _ = hub.subscribe("", "alice"), hub.subscribe("", "alice")
    with pytest.raises(TailRefusedError) as exc:
        hub.subscribe("", "alice")
    assert exc.value.reason == "principal_subscribers"
    hub.subscribe("", None)  # anonymous: only the global cap
    with pytest.raises(TailRefusedError) as exc:
        hub.subscribe("", "bob")
    assert exc.value.reason == "subscribers"
    hub.unsubscribe(a1)
    hub.unsubscribe(a1)  # idempotent
    hub.subscribe("", "alice")
    assert reg.get_sample_value("paramedic_log_tail_refused_total", {"reason": "principal_subscribers"}) == 1
    assert reg.get_sample_value("paramedic_log_tail_refused_total", {"reason": "subscribers"}) == 1
    assert reg.get_sample_value("paramedic_log_tail_subscribers") == 3


def test_query_length_is_bounded() -> None:
    hub, reg = _hub(max_query_bytes=16)
    hub.subscribe("a" * 16)
    with pytest.raises(TailRefusedError) as exc:
        hub.subscribe("é" * 9)  # 9 characters, 18 bytes
    assert exc.value.reason == "query_bytes"
    assert reg.get_sample_value("paramedic_log_tail_refused_total", {"reason": "query_bytes"}) == 1


def test_queued_bytes_are_bounded_and_drops_counted_in_bytes() -> None:
    big = _rec("x" * 1000)
    size = record_bytes(big)
    hub, reg = _hub(queue_bytes=3 * size, queue_size=100)
    sub = hub.subscribe("")
    hub.publish([big] * 5)
    assert sub.queued_bytes == 3 * size
    assert (sub.dropped, sub.dropped_bytes) == (2, 2 * size)
    assert reg.get_sample_value("paramedic_log_tail_dropped_total") == 2
    assert reg.get_sample_value("paramedic_log_tail_dropped_bytes_total") == 2 * size
    assert [sub.get(0) for _ in range(4)] == [big, big, big, None]
    assert sub.queued_bytes == 0
    hub.publish([big])
    assert sub.get(1.0) is big


@pytest.fixture
def tail_app(tmp_path: Path) -> tuple[TestClient, TailHub]:
    store = TantivyStore(tmp_path / "idx", registry=CollectorRegistry())
    hub, _ = _hub(max_subscribers=2, max_subscribers_per_principal=1, max_query_bytes=64)
    app = FastAPI()

    @app.middleware("http")
    async def principal(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        name = request.headers.get("x-principal")
        if name:
            request.state.principal = type("P", (), {"name": name, "role": "viewer"})()
        return await call_next(request)

    app.include_router(logs_router(store, tail=hub))
    return TestClient(app), hub


def test_tail_endpoint_refusals(tail_app: tuple[TestClient, TailHub]) -> None:
    client, hub = tail_app
    url = "/api/v1/logs/tail"
    r = client.get(url, params={"q": "a" * 65})
    assert r.status_code == 400 and "64 bytes" in r.json()["error"]
    held = hub.subscribe("", "alice")
    r = client.get(url, headers={"x-principal": "alice"})
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "5"
    assert r.json() == {
        "status": "error",
        "errorType": "too_many_requests",
        "error": "live tail refused: 'alice' already has 1 live tails open (max_subscribers_per_principal 1)",
    }
    hub.subscribe("", "bob")
    r = client.get(url, headers={"x-principal": "carol"})
    assert r.status_code == 503
    assert r.json()["errorType"] == "unavailable" and "all 2 live-tail slots" in r.json()["error"]
    hub.unsubscribe(held)
    assert client.get(url, params={"q": "app:("}).status_code == 400  # bad query: no slot taken
    assert len(hub._subs) == 1
