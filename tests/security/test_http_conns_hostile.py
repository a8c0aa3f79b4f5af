"""A stranger holding HTTP connections open against a real ``paramedic serve`` (found by stop 33's audit).

uvicorn times a connection out only between requests, so a connection that never finishes its request head
was held for ever: 1,600 of them from one client, with no credentials, took every file descriptor of a
server started at an open-files limit of 1,536 (``/-/healthy`` and queries timed out, scrapes failed with
"Too many open files"). The attacker here connects from 127.0.0.2 (not a trusted proxy; the test's own
probes come from 127.0.0.1), so its connections over ``max_connections_per_client`` are closed at once, and
a head not finished within ``request_head_timeout_s`` is closed.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.support.hostile import Target, metric, running_target
from tests.support.servers import closed_by_peer

pytestmark = pytest.mark.timeout(240)

LOW = 1536  # the open-files limit the server starts with (as in test_fds_hostile)
ATTACK = 1600  # more connections than that
HEAD_TIMEOUT_S = 3.0
ATTACKER = "127.0.0.2"  # loopback, but not the trusted proxy 127.0.0.1


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    extra = {"server": {"limits": {"request_head_timeout_s": HEAD_TIMEOUT_S}}}
    with running_target(tmp_path_factory.mktemp("serve-conns"), extra_config=extra, nofile=(LOW, LOW)) as t:
        yield t


def _half_open(target: Target, stack: ExitStack) -> socket.socket | None:
    """A connection from :data:`ATTACKER` that sends the start of a request head and never ends it (None when
    the connect itself failed)."""
    try:
        s = socket.create_connection(
            ("127.0.0.1", target.ports["http"]), timeout=2, source_address=(ATTACKER, 0)
        )
        stack.enter_context(s)
        s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    except OSError:
        return None
    return s


def test_one_client_cannot_hold_the_servers_descriptors(target: Target) -> None:
    refused = ("paramedic_http_connections_refused_total", "max_connections_per_client")
    before = metric(target, refused[0], reason=refused[1])
    with ExitStack() as stack:
        held = [s for s in (_half_open(target, stack) for _ in range(ATTACK)) if s is not None]
        assert len(held) > LOW - 64  # the connects themselves succeed: the server closes them
        target.assert_alive()  # /-/healthy and the scraped probe, while the attacker holds what it may
        # every one is closed by the server: at once over the cap, the others at the head deadline
        still_open = [s for s in held if not closed_by_peer(s, 0.01)]
        assert len(still_open) <= 64, len(still_open)
        assert all(closed_by_peer(s, HEAD_TIMEOUT_S + 10) for s in still_open)
    assert metric(target, refused[0], reason=refused[1]) > before  # the per-client cap closed some at once
    target.assert_alive()


def test_a_request_head_never_finished_is_closed(target: Target) -> None:
    with ExitStack() as stack:
        s = _half_open(target, stack)
        assert s is not None
        assert closed_by_peer(s, HEAD_TIMEOUT_S + 10), "a half-sent head was held past request_head_timeout_s"
        idle = socket.create_connection(("127.0.0.1", target.ports["http"]), timeout=2)
        stack.enter_context(idle)
        assert closed_by_peer(idle, HEAD_TIMEOUT_S + 10), "a connection that sent nothing was held"
    assert metric(target, "paramedic_http_connections_refused_total", reason="request_head_timeout") >= 2
    target.assert_alive()


def test_a_slow_request_being_answered_is_not_cut(target: Target) -> None:
    """The deadline is for the head only: a request whose answer lasts longer (a live tail, open until its
    client leaves) is not closed by it."""
    deadline = time.monotonic() + HEAD_TIMEOUT_S * 2
    timeout = httpx.Timeout(5.0, read=HEAD_TIMEOUT_S * 2)
    with (
        httpx.Client(base_url=target.base_url, headers=target.headers("viewer"), timeout=timeout) as c,
        c.stream("GET", "/api/v1/logs/tail", params={"q": "*"}) as r,
    ):
        assert r.status_code == 200
        try:
            for _ in r.iter_raw():  # whatever the tail sends until past the deadline
                if time.monotonic() > deadline:
                    break
        except httpx.ReadTimeout:
            pass  # nothing more was sent, and the connection stayed open past the head deadline
        assert time.monotonic() > deadline, "the tail ended before the head deadline had passed twice"
    target.assert_alive()
