"""Live tail: the pipeline publishes written records; each subscriber gets those matching its query.

:class:`TailHub` is thread-safe: ``publish`` is called from the pipeline thread, subscriptions are consumed
by asyncio tasks (the SSE endpoint) or threads. Every subscriber has a bounded queue; when it is full, new
records are dropped for that subscriber only and counted (``Subscription.dropped`` and a metric), never
blocking the pipeline.
"""

from __future__ import annotations

import queue
import re
import threading
from collections.abc import Callable, Sequence

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from log_pipeline.model import LogRecord
from log_pipeline.search.query import (
    And,
    FieldRef,
    MatchAll,
    Node,
    Not,
    Or,
    Phrase,
    Range,
    Term,
    Wildcard,
    message_tokens,
    parse_query,
)

__all__ = ["Subscription", "TailHub", "matches"]


def _value(r: LogRecord, field: FieldRef) -> str | int | float | None:
    if field.kind == "label":
        return r.labels.get(field.name)
    if field.kind == "id":
        return r.id
    if field.kind == "message":
        return r.message
    return r.fields.get(field.name)


def _contains_tokens(message: str, text: str) -> bool:
    want, have = message_tokens(text), message_tokens(message)
    if not want:
        return False
    return any(have[i : i + len(want)] == want for i in range(len(have) - len(want) + 1))


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern))


def _in_range(v: float, node: Range) -> bool:
    if node.lower is not None:
        lo = float(node.lower)
        if v < lo or (v == lo and not node.include_lower):
            return False
    if node.upper is not None:
        hi = float(node.upper)
        if v > hi or (v == hi and not node.include_upper):
            return False
    return True


def matches(node: Node, r: LogRecord) -> bool:
    """Evaluate the query AST on one record, with the stores' semantics."""
    if isinstance(node, MatchAll):
        return True
    if isinstance(node, And):
        return all(matches(i, r) for i in node.items)
    if isinstance(node, Or):
        return any(matches(i, r) for i in node.items)
    if isinstance(node, Not):
        return not matches(node.item, r)
    value = _value(r, node.field)
    if value is None:
        return False
    if isinstance(node, Term | Phrase):
        text = node.value if isinstance(node, Term) else node.text
        if node.field.kind == "message":
            return _contains_tokens(r.message, text)
        return str(value) == text
    if isinstance(node, Wildcard):
        if node.field.kind == "message":
            rx = _wildcard(node.pattern.lower())
            return any(rx.fullmatch(t) for t in message_tokens(r.message))
        return _wildcard(node.pattern).fullmatch(str(value)) is not None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return _in_range(float(value), node)


class Subscription:
    def __init__(self, node: Node, maxsize: int, on_drop: Callable[[], None]) -> None:
        self.node = node
        self.queue: queue.Queue[LogRecord] = queue.Queue(maxsize)
        self.dropped = 0
        self._on_drop = on_drop

    def offer(self, record: LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
            self._on_drop()

    def get(self, timeout_s: float) -> LogRecord | None:
        try:
            return self.queue.get(timeout=timeout_s)
        except queue.Empty:
            return None


class TailHub:
    def __init__(self, queue_size: int = 1000, registry: CollectorRegistry = REGISTRY) -> None:
        self._queue_size = queue_size
        self._lock = threading.Lock()
        self._subs: list[Subscription] = []
        self._dropped = Counter(
            "paramedic_log_tail_dropped_total",
            "Records dropped for slow live-tail clients.",
            registry=registry,
        )
        self._clients = Gauge("paramedic_log_tail_subscribers", "Live-tail subscribers.", registry=registry)

    def subscribe(self, query: str) -> Subscription:
        """Raises :class:`~log_pipeline.search.query.QuerySyntaxError` for a bad query."""
        sub = Subscription(parse_query(query), self._queue_size, self._dropped.inc)
        with self._lock:
            self._subs.append(sub)
            self._clients.set(len(self._subs))
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)
            self._clients.set(len(self._subs))

    def publish(self, records: Sequence[LogRecord]) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            for r in records:
                if matches(sub.node, r):
                    sub.offer(r)
