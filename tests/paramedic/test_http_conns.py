"""paramedic._http_conns in process: slots released on a WebSocket upgrade, the oldest waiting connection
closed at the total cap, IPv6 clients counted by /64 (the hostile tests run the rest against a real serve)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from uvicorn.config import Config
from uvicorn.server import ServerState

from paramedic._http_conns import _GuardedH11, client_key, guarded_h11
from paramedic.cluster.api import LEADER_PROXY_CONNECTIONS
from paramedic.config import LimitsConfig

pytestmark = pytest.mark.timeout(60)


async def _app(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


class _FakeWebSocket(asyncio.Protocol):
    """Takes an upgraded connection over and holds it (as uvicorn's WebSocket protocols do)."""

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any]) -> None:
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport


async def _poll(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


async def _serve(
    cls: type[_GuardedH11], **config: Any
) -> tuple[asyncio.Server, int, Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]]:
    cfg = Config(_app, http=cls, lifespan="off", **config)
    cfg.load()
    state = ServerState()
    server = await asyncio.get_running_loop().create_server(
        lambda: cls(config=cfg, server_state=state, app_state={}), "127.0.0.1", 0
    )
    port = server.sockets[0].getsockname()[1]

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", port)

    return server, port, connect


def _guard(max_connections: int, per_client: int, registry: CollectorRegistry) -> type[_GuardedH11]:
    cls = guarded_h11(
        max_connections=max_connections,
        max_connections_per_client=per_client,
        request_head_timeout_s=30.0,
        trusted_proxies=[],
        registry=registry,
    )
    assert issubclass(cls, _GuardedH11)
    return cls


def test_a_websocket_upgrade_gives_the_client_slot_back() -> None:
    """F3: the upgraded connection never reaches the h11 protocol's connection_lost; before the fix its
    client's count stayed 1 for ever (64 upgrades locked the address out)."""

    async def run() -> None:
        cls = _guard(8, 4, CollectorRegistry())
        server, _, connect = await _serve(cls, ws=_FakeWebSocket)
        try:
            _, writer = await connect()
            assert await _poll(lambda: cls.by_client["127.0.0.1"] == 1)
            writer.write(
                b"GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            )
            assert await _poll(lambda: not cls.by_client), dict(cls.by_client)
            writer.close()
        finally:
            server.close()

    asyncio.run(run())


class _Stranger(_GuardedH11):
    """As if every peer were a stranger (the test's peers are all loopback, which the total cap exempts)."""

    def _classify(self, address: str | None) -> tuple[bool, bool]:
        return False, False


def test_at_the_total_cap_the_oldest_connection_waiting_for_a_head_is_closed() -> None:
    """F2: two idle connections held the whole cap and every newcomer was refused."""

    async def run() -> None:
        registry = CollectorRegistry()
        cls: type[_GuardedH11] = type("T", (_Stranger, _guard(2, 8, registry)), {})
        server, _, connect = await _serve(cls)
        try:
            first_reader, _ = await connect()
            assert await _poll(lambda: len(cls.counted) == 1)
            await connect()
            assert await _poll(lambda: len(cls.counted) == 2)
            reader, writer = await connect()  # over the cap: the first is closed for it
            assert await asyncio.wait_for(first_reader.read(), 10) == b""
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await asyncio.wait_for(reader.readline(), 10)).startswith(b"HTTP/1.1 200")
            refused = registry.get_sample_value(
                "paramedic_http_connections_refused_total", {"reason": "max_connections"}
            )
            assert refused == 1
        finally:
            server.close()

    asyncio.run(run())


def test_ipv6_clients_are_counted_by_their_64_prefix() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::7") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"  # an IPv4 peer on a dual-stack socket
    assert client_key("192.0.2.7") == "192.0.2.7"


def test_the_leader_proxy_pool_stays_below_the_per_client_cap() -> None:
    """F5: a follower's leader proxy is one client address to the leader; httpx's default pool (100) could
    exceed the leader's per-client cap (64) and have forwarded requests refused."""
    assert LimitsConfig().max_connections_per_client > LEADER_PROXY_CONNECTIONS
