"""HTTP connections a stranger can hold: caps per client address and in all, a deadline for a request head.

uvicorn times a connection out only between requests (``timeout_keep_alive``, armed when a response ends):
a connection that never sends a request, or sends its head a byte at a time, is held for ever. Before this
module, 1,600 such connections from one unauthenticated client (at an open-files limit of 1,536) took every
file descriptor of ``paramedic serve``: ``/-/healthy`` and queries timed out, scrapes failed with "Too many
open files" and the event loop spun on failed ``accept()`` calls (found by stop 33's audit).

:func:`guarded_h11` returns uvicorn's h11 protocol with three guards (``server.limits``):

- ``max_connections`` in all and ``max_connections_per_client`` per client address (the peer's own address:
  a trusted proxy's clients all share it, so ``server.trusted_proxies`` meet only the total cap): a
  connection over either is closed at once, before anything is read;
- ``request_head_timeout_s``: from the moment a connection waits for a request head (accepted, or its last
  response sent) to the moment the whole head has arrived; past it the connection is closed. A request
  being answered (a live tail, a long query) is never cut by it.

Refusals are counted in ``paramedic_http_connections_refused_total{reason}`` (``max_connections``,
``max_connections_per_client``, ``request_head_timeout``).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter as Tally
from collections.abc import Sequence
from typing import Any, ClassVar

from prometheus_client import CollectorRegistry, Counter
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["guarded_h11"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class _GuardedH11(H11Protocol):
    """uvicorn's h11 protocol with the guards of the module docstring (settings in class attributes)."""

    max_connections: ClassVar[int]
    max_per_client: ClassVar[int]
    head_timeout_s: ClassVar[float]
    trusted: ClassVar[tuple[_Network, ...]]
    refused: ClassVar[Counter]
    by_client: ClassVar[Tally[str]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._address: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else None
        if len(self.connections) > self.max_connections:
            self._refuse("max_connections")
            return
        if address is not None and not self._is_trusted(address):
            if self.by_client[address] >= self.max_per_client:
                self._refuse("max_connections_per_client")
                return
            self.by_client[address] += 1
            self._address = address
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        if self._address is not None:
            self.by_client[self._address] -= 1
            if self.by_client[self._address] <= 0:
                del self.by_client[self._address]
            self._address = None
        super().connection_lost(exc)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request head arrived whole: the request is the app's now
            self._cancel_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()  # the next head has the same deadline (keep-alive ends idle waits sooner)

    # -- guards ------------------------------------------------------------------------------------------
    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    def _refuse(self, reason: str) -> None:
        self.refused.labels(reason).inc()
        self.transport.abort()

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.refused.labels("request_head_timeout").inc()
            self.transport.abort()


def guarded_h11(
    *,
    max_connections: int,
    max_connections_per_client: int,
    request_head_timeout_s: float,
    trusted_proxies: Sequence[_Network],
    registry: CollectorRegistry,
) -> type[H11Protocol]:
    """uvicorn's h11 protocol class with these guards (pass it as ``uvicorn.Config(http=...)``); its
    refusals are counted in ``registry``."""
    refused = Counter(
        "paramedic_http_connections_refused",
        "HTTP connections closed by a connection cap or the request head deadline, by reason.",
        ["reason"],
        registry=registry,
    )
    for reason in ("max_connections", "max_connections_per_client", "request_head_timeout"):
        refused.labels(reason)
    settings: dict[str, Any] = {
        "max_connections": max_connections,
        "max_per_client": max_connections_per_client,
        "head_timeout_s": request_head_timeout_s,
        "trusted": tuple(trusted_proxies),
        "refused": refused,
        "by_client": Tally[str](),
    }
    return type("GuardedH11Protocol", (_GuardedH11,), settings)
