"""Live tail: the pipeline publishes written records; each subscriber gets those matching its query.

:class:`TailHub` is thread-safe: ``publish`` is called from the pipeline thread, subscriptions are consumed
by asyncio tasks (the SSE endpoint) or threads. Every subscriber has a queue bounded in records and in bytes;
when either bound is reached, new records are dropped for that subscriber only and counted
(``Subscription.dropped`` and metrics), never blocking the pipeline.

Limits (``logs.tail`` in the config): at most ``max_subscribers`` subscriptions in all and
``max_subscribers_per_principal`` per authenticated principal — or, for anonymous subscribers, per client
address —, ``max_subscribers_per_tenant`` per tenant scope (``logs.search_api.max_tails_per_tenant``: the
principals of one tenant together), queries of at most ``max_query_bytes``; a refused subscription raises
:class:`TailRefusedError` and is counted.

Tenancy: a subscription carries its principal's scope; a record is offered only when it matches the query
AND the scope's filter (:func:`log_pipeline.search.tenancy.restrict`), so ``*`` tails the scope's lines only.

Matching runs in the pipeline thread, so it is linear in the record: wildcards (``*`` any run, ``?`` one
character) are translated to RE2 (``google-re2``), which matches in time linear in the text whatever the
pattern — Python's ``re`` backtracks exponentially on ``*a*a*a*…b``; phrases are found with KMP over the
tokens. A record's tokens are computed once for all the clauses (and subscribers) that look at it, and a
single-token term is a set lookup. RE2 rather than a hand-written two-pointer glob matcher: the matcher loop
runs in C, and the same engine serves every other user-supplied pattern of the project.

Metrics: ``paramedic_log_tail_subscribers``, ``paramedic_log_tail_dropped_total`` (records),
``paramedic_log_tail_dropped_bytes_total``, ``paramedic_log_tail_refused_total{reason}``.
"""

from __future__ import annotations

import functools
import threading
from collections import deque
from collections.abc import Callable, Sequence
from typing import Literal

import re2
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from log_pipeline.model import LogRecord
from log_pipeline.search._kmp import occurrences
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
from log_pipeline.search.tenancy import restrict
from metrics_store.regex import RegexError, compile_anchored
from platforms.tenancy import FOUNDATION, Scope

__all__ = ["RefusalReason", "Subscription", "TailHub", "TailRefusedError", "matches", "wildcard_matcher"]

RefusalReason = Literal["subscribers", "principal_subscribers", "tenant_subscribers", "query_bytes"]
_RECORD_OVERHEAD_BYTES = 64


class TailRefusedError(Exception):
    """A subscription refused by a limit. ``reason``: ``subscribers`` (the hub is full),
    ``principal_subscribers`` (this principal has its share), ``tenant_subscribers`` (the principal's
    tenant scope has its share), ``query_bytes`` (the query is too long)."""

    def __init__(self, reason: RefusalReason, message: str) -> None:
        super().__init__(message)
        self.reason: RefusalReason = reason


def _value(r: LogRecord, field: FieldRef) -> str | int | float | None:
    if field.kind == "label":
        return r.labels.get(field.name)
    if field.kind == "id":
        return r.id
    if field.kind == "message":
        return r.message
    return r.fields.get(field.name)


@functools.lru_cache(maxsize=16)
def _tokens(message: str) -> tuple[list[str], frozenset[str]]:
    """The message's tokens and their set, for every clause and subscriber that looks at one record
    (str hashes are cached, so a hit costs no pass over the message)."""
    words = message_tokens(message)
    return words, frozenset(words)


def _contains_tokens(message: str, text: str) -> bool:
    """Whether the tokens of ``text`` occur consecutively in those of ``message`` (KMP: linear)."""
    want = message_tokens(text)
    words, vocabulary = _tokens(message)
    if len(want) == 1:
        return want[0] in vocabulary
    if not vocabulary.issuperset(want):
        return False
    return next(occurrences(words, want), None) is not None


@functools.lru_cache(maxsize=512)
def wildcard_matcher(pattern: str) -> Callable[[str], bool]:
    """``*`` any run of characters, ``?`` one character (not a newline, as before), the rest literal;
    the whole text must match. RE2: linear in the text."""
    translated = "".join(".*" if c == "*" else "." if c == "?" else re2.escape(c) for c in pattern)
    try:
        return compile_anchored(translated, dot_nl=False).matches  # the project's RE2 limits and options
    except RegexError:  # too large for RE2's memory cap (the query parser bounds wildcards well below it)
        return lambda _text: False


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
            match = wildcard_matcher(node.pattern.lower())
            return any(match(t) for t in _tokens(r.message)[1])
        return wildcard_matcher(node.pattern)(str(value))
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return _in_range(float(value), node)


def record_bytes(r: LogRecord) -> int:
    """What a queued record costs, roughly: its strings plus a fixed overhead."""
    size = _RECORD_OVERHEAD_BYTES + len(r.message) + len(r.id)
    for k, v in r.labels.items():
        size += len(k) + len(v)
    for k, f in r.fields.items():
        size += len(k) + (len(f) if isinstance(f, str) else 8)
    return size


class Subscription:
    """One subscriber's bounded queue (``max_records`` and ``max_bytes``); ``offer`` never blocks.

    ``node`` is the user's query (what highlighting marks); the hub offers only records that match
    ``node`` AND the subscriber's ``scope`` (:attr:`filter`)."""

    def __init__(
        self,
        node: Node,
        maxsize: int,
        on_drop: Callable[[int], None],
        *,
        max_bytes: int = 1024 * 1024,
        principal: str | None = None,
        address: str | None = None,
        scope: Scope = FOUNDATION,
    ) -> None:
        self.node = node
        self.scope = scope
        self.filter = restrict(node, scope)
        self.principal = principal
        # whose share it counts against: the principal, else (anonymous) the client address
        self.holder: tuple[str, str] | None = (
            ("principal", principal)
            if principal is not None
            else None
            if address is None
            else ("address", address)
        )
        self.dropped = 0
        self.dropped_bytes = 0
        self.queued_bytes = 0
        self._max_records = maxsize
        self._max_bytes = max_bytes
        self._items: deque[tuple[LogRecord, int]] = deque()
        self._ready = threading.Condition()
        self._on_drop = on_drop

    def offer(self, record: LogRecord) -> None:
        size = record_bytes(record)
        with self._ready:
            if len(self._items) >= self._max_records or self.queued_bytes + size > self._max_bytes:
                self.dropped += 1
                self.dropped_bytes += size
                full = True
            else:
                self._items.append((record, size))
                self.queued_bytes += size
                self._ready.notify()
                full = False
        if full:
            self._on_drop(size)

    def get(self, timeout_s: float) -> LogRecord | None:
        with self._ready:
            if not self._items and (timeout_s <= 0 or not self._ready.wait(timeout_s)):
                return None
            if not self._items:
                return None
            record, size = self._items.popleft()
            self.queued_bytes -= size
            return record


class TailHub:
    def __init__(
        self,
        queue_size: int = 1000,
        registry: CollectorRegistry = REGISTRY,
        *,
        queue_bytes: int = 1024 * 1024,
        max_subscribers: int = 64,
        max_subscribers_per_principal: int = 8,
        max_query_bytes: int = 4096,
        max_subscribers_per_tenant: int = 4,
    ) -> None:
        self._queue_size = queue_size
        self.max_subscribers_per_tenant = max_subscribers_per_tenant
        self._per_tenant: dict[str, int] = {}
        self._queue_bytes = queue_bytes
        self.max_subscribers = max_subscribers
        self.max_subscribers_per_principal = max_subscribers_per_principal
        self.max_query_bytes = max_query_bytes
        self._lock = threading.Lock()
        self.closing = threading.Event()  # set by close(): open streams end, new subscriptions are refused
        self._subs: list[Subscription] = []
        self._per_holder: dict[tuple[str, str], int] = {}
        self._dropped = Counter(
            "paramedic_log_tail_dropped",
            "Records dropped for slow live-tail clients.",
            registry=registry,
        )
        self._dropped_bytes = Counter(
            "paramedic_log_tail_dropped_bytes",
            "Bytes of the records dropped for slow live-tail clients.",
            registry=registry,
        )
        self._refused = Counter(
            "paramedic_log_tail_refused",
            "Live-tail subscriptions refused: subscribers (all taken), principal_subscribers (the "
            "principal's share taken), tenant_subscribers (the tenant scope's share taken), query_bytes "
            "(query too long).",
            ["reason"],
            registry=registry,
        )
        self._clients = Gauge("paramedic_log_tail_subscribers", "Live-tail subscribers.", registry=registry)

    def _drop(self, size: int) -> None:
        self._dropped.inc()
        self._dropped_bytes.inc(size)

    def _refuse(self, reason: RefusalReason, message: str) -> TailRefusedError:
        self._refused.labels(reason).inc()
        return TailRefusedError(reason, message)

    def subscribe(
        self,
        query: str,
        principal: str | None = None,
        *,
        address: str | None = None,
        scope: Scope = FOUNDATION,
    ) -> Subscription:
        """Raises :class:`~log_pipeline.search.query.QuerySyntaxError` for a bad query and
        :class:`TailRefusedError` when a limit refuses it; ``principal`` (a name) has its own cap, and so
        has the client ``address`` of an anonymous subscriber (``principal`` None), and a tenant ``scope``
        (by :attr:`~platforms.tenancy.Scope.key`: its principals together). The subscriber receives only
        the records ``scope`` sees."""
        if len(query) > self.max_query_bytes or len(query.encode()) > self.max_query_bytes:
            raise self._refuse("query_bytes", f"the query is longer than {self.max_query_bytes} bytes")
        sub = Subscription(
            parse_query(query),
            self._queue_size,
            self._drop,
            max_bytes=self._queue_bytes,
            principal=principal,
            address=address,
            scope=scope,
        )
        with self._lock:
            if len(self._subs) >= self.max_subscribers:
                raise self._refuse("subscribers", f"all {self.max_subscribers} live-tail slots are taken")
            self._check_tenant(scope)
            holder = sub.holder
            if holder is not None:
                held = self._per_holder.get(holder, 0)
                if held >= self.max_subscribers_per_principal:
                    who = (
                        f"{holder[1]!r} already has"
                        if holder[0] == "principal"
                        else f"anonymous readers at {holder[1]} already have"
                    )
                    raise self._refuse(
                        "principal_subscribers",
                        f"{who} {held} live tails open "
                        f"(max_subscribers_per_principal {self.max_subscribers_per_principal})",
                    )
                self._per_holder[holder] = held + 1
            if not scope.is_foundation:
                self._per_tenant[scope.key] = self._per_tenant.get(scope.key, 0) + 1
            self._subs.append(sub)
            self._clients.set(len(self._subs))
        return sub

    def _check_tenant(self, scope: Scope) -> None:
        """Refuse a tenant scope holding its share of live tails (called under the lock)."""
        if scope.is_foundation:
            return
        held = self._per_tenant.get(scope.key, 0)
        if held >= self.max_subscribers_per_tenant:
            raise self._refuse(
                "tenant_subscribers",
                f"the scope {scope.describe()} already has {held} live tails open "
                f"(logs.search_api.max_tails_per_tenant {self.max_subscribers_per_tenant})",
            )

    def close(self) -> None:
        """The server is stopping: every open live-tail stream ends at its next poll (so a connected
        browser does not hold the shutdown until the graceful-shutdown timeout), new ones are refused."""
        self.closing.set()

    def unsubscribe(self, sub: Subscription) -> None:
        """Idempotent."""
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)
                if sub.holder is not None:
                    left = self._per_holder.pop(sub.holder, 1) - 1
                    if left > 0:
                        self._per_holder[sub.holder] = left
                if not sub.scope.is_foundation:
                    left = self._per_tenant.pop(sub.scope.key, 1) - 1
                    if left > 0:
                        self._per_tenant[sub.scope.key] = left
            self._clients.set(len(self._subs))

    def publish(self, records: Sequence[LogRecord]) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            for r in records:
                if matches(sub.filter, r):
                    sub.offer(r)
