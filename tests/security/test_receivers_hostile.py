"""Hostile log senders and live-tail clients against a real ``paramedic serve`` (issue 11, items 2 and 6).

The target runs with small limits (``LIMITS``) so that each one is reached quickly. After every hostile
action the server must still answer ``/-/healthy`` within 1 s and the ordinary query must still be right
(:meth:`Target.assert_alive`); the last test checks that an ordinary syslog line sent over TCP after all that
is searchable. No fixed sleeps: everything polls with a deadline.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import httpx
import pytest

from tests.support.hostile import Target, metric, running_target
from tests.support.servers import closed_by_peer, wait_until

pytestmark = pytest.mark.timeout(240)

MAX_CONNECTIONS = 8
IDLE_TIMEOUT_S = 5.0  # long enough for the cap test to hold its connections on a loaded machine
LIMITS = {
    "logs": {
        "relp": {"max_connections": MAX_CONNECTIONS, "idle_timeout_s": IDLE_TIMEOUT_S},
        "syslog_tcp": {"max_connections": MAX_CONNECTIONS, "idle_timeout_s": IDLE_TIMEOUT_S},
        "tail": {"max_subscribers": 4, "max_subscribers_per_principal": 2},
    }
}
RELP_OPEN = b"1 open 30 relp_version=0\ncommands=syslog\n"
TAIL = "/api/v1/logs/tail"


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with running_target(tmp_path_factory.mktemp("serve-receivers"), extra_config=LIMITS) as t:
        yield t


def while_alive(target: Target, attack: Callable[[], None], timeout_s: float = 60) -> None:
    """Run ``attack`` in a thread; meanwhile the server must stay alive (checked again and again)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            attack()
        except BaseException as e:  # reported in the test thread
            errors.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while True:  # the first check starts with the attack, the last one after it
        target.assert_alive()
        if not thread.is_alive():
            break
        assert time.monotonic() < deadline, "the attack did not finish"
    thread.join()
    if errors:
        raise errors[0]


@pytest.mark.parametrize("listener", ["tcp", "relp"])
def test_connections_over_the_cap_are_refused_and_the_server_stays_up(target: Target, listener: str) -> None:
    port = target.ports[listener]
    before = metric(target, "paramedic_logs_refused_connections_total", transport=listener)
    with ExitStack() as stack:
        held = [
            stack.enter_context(socket.create_connection(("127.0.0.1", port))) for _ in range(MAX_CONNECTIONS)
        ]
        wait_until(
            lambda: metric(target, "paramedic_logs_connections", transport=listener) == MAX_CONNECTIONS,
            10,
            "the first connections to be admitted",
        )
        extra = [stack.enter_context(socket.create_connection(("127.0.0.1", port))) for _ in range(40)]
        assert all(closed_by_peer(s, 5) for s in extra)
        target.assert_alive()
        assert not closed_by_peer(held[0], 0.05)  # the admitted ones are still served
        refused = metric(target, "paramedic_logs_refused_connections_total", transport=listener) - before
        assert refused == 40
    wait_until(
        lambda: metric(target, "paramedic_logs_connections", transport=listener) == 0, 10, "slots released"
    )


@pytest.mark.parametrize("listener", ["tcp", "relp"])
def test_slow_loris_half_frame_is_closed_after_the_idle_timeout(target: Target, listener: str) -> None:
    port = target.ports[listener]
    before = metric(target, "paramedic_logs_timeouts_total", transport=listener, reason="incomplete")

    def attack() -> None:
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(
                b"<13>1 - host app - - - never ends " if listener == "tcp" else RELP_OPEN + b"2 syslog 500 "
            )
            started = time.monotonic()
            s.settimeout(0.2)
            while True:
                assert time.monotonic() - started < IDLE_TIMEOUT_S + 10, "the half frame was kept open"
                try:
                    s.sendall(b"x")  # one byte every 0.2 s: never idle, never complete
                    data = s.recv(65536)
                except TimeoutError:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    break
                if data == b"" or b"serverclose" in data:
                    break
            assert time.monotonic() - started >= IDLE_TIMEOUT_S - 0.5

    while_alive(target, attack)
    assert (
        metric(target, "paramedic_logs_timeouts_total", transport=listener, reason="incomplete") == before + 1
    )


def test_a_1mib_line_trickled_in_small_chunks_is_refused_without_freezing(target: Target) -> None:
    before = metric(target, "paramedic_logs_errors_total", transport="tcp", reason="oversize")
    sent: list[int] = [0]

    def attack() -> None:
        with socket.create_connection(("127.0.0.1", target.ports["tcp"])) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            chunk = b"<13>" + b"y" * 252
            try:
                while sent[0] < 1 << 20:
                    s.sendall(chunk)
                    sent[0] += len(chunk)
            except (ConnectionResetError, BrokenPipeError):
                pass
            assert closed_by_peer(s, 10)

    while_alive(target, attack)
    # refused once the line passed max_message_bytes (128 KiB); whether the client got to write the whole MiB
    # first depends on the socket buffers, so only the server's verdict is checked
    assert metric(target, "paramedic_logs_errors_total", transport="tcp", reason="oversize") == before + 1
    assert sent[0] >= 128 * 1024


def test_a_big_relp_frame_trickled_in_small_chunks_is_acked(target: Target) -> None:
    body = b"<13>1 - host trickle - - - " + b"z" * (100 * 1024)
    frame = RELP_OPEN + b"2 syslog %d " % len(body) + body + b"\n"

    def attack() -> None:
        with socket.create_connection(("127.0.0.1", target.ports["relp"])) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for pos in range(0, len(frame), 64):
                s.sendall(frame[pos : pos + 64])
            s.settimeout(10)
            got = b""
            while b"2 rsp 6 200 OK\n" not in got:
                more = s.recv(4096)
                assert more, f"closed without the ack: {got!r}"
                got += more

    while_alive(target, attack)


def test_too_many_tail_subscribers_are_refused(target: Target) -> None:
    with ExitStack() as stack:
        clients = {role: stack.enter_context(target.client(role)) for role in ("viewer", "operator", "admin")}

        def open_tail(role: str) -> httpx.Response:
            return stack.enter_context(clients[role].stream("GET", TAIL, params={"q": "app:nothing"}))

        for _ in range(2):
            assert open_tail("viewer").status_code == 200
        refused = clients["viewer"].get(TAIL)
        assert refused.status_code == 429
        assert refused.json()["errorType"] == "too_many_requests"
        assert "max_subscribers_per_principal 2" in refused.json()["error"]
        assert refused.headers["Retry-After"]
        for _ in range(2):
            assert open_tail("operator").status_code == 200
        full = clients["admin"].get(TAIL)
        assert full.status_code == 503
        assert full.json()["errorType"] == "unavailable"
        target.assert_alive()
    assert metric(target, "paramedic_log_tail_refused_total", reason="principal_subscribers") >= 1
    assert metric(target, "paramedic_log_tail_refused_total", reason="subscribers") >= 1
    wait_until(lambda: metric(target, "paramedic_log_tail_subscribers") == 0, 10, "tail slots released")


def send_syslog_tcp(target: Target, lines: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", target.ports["tcp"])) as s:
        s.sendall(b"".join(line + b"\n" for line in lines))


def search_total(target: Target, q: str) -> int:
    with target.client("viewer") as c:
        r = c.get("/api/v1/logs/search", params={"q": q, "limit": 10})
    r.raise_for_status()
    return int(r.json()["data"]["total"])


def test_hostile_wildcard_tail_query_is_answered_and_the_server_stays_up(target: Target) -> None:
    # a wildcard near the query language's caps: 242 characters (256 allowed), 16 '*' (16 allowed)
    hostile = "message:" + ("*" + "a" * 15) * 15 + "*b"
    with target.client("viewer") as c:
        too_long = c.get(TAIL, params={"q": "message:" + "*a" * 3000})
        assert too_long.status_code == 400 and "4096 bytes" in too_long.json()["error"]
        too_wild = c.get(TAIL, params={"q": "message:" + "*a" * 300 + "*b"})
        assert too_wild.status_code == 400 and "wildcard longer than 256" in too_wild.json()["error"]
        too_starry = c.get(TAIL, params={"q": "message:" + "*a" * 17})
        assert too_starry.status_code == 400 and "more than 16 '*'" in too_starry.json()["error"]
        with c.stream("GET", TAIL, params={"q": hostile}) as tail:
            assert tail.status_code == 200
            wait_until(lambda: metric(target, "paramedic_log_tail_subscribers") == 1, 10, "the subscription")
            marker = uuid.uuid4().hex
            token = "a" * 30_000
            send_syslog_tcp(
                target,
                [b"<13>1 - host hostile - - - %s %s" % (marker.encode(), token.encode()) for _ in range(20)],
            )
            wait_until(lambda: search_total(target, marker) == 20, 30, "the 20 hostile lines to be indexed")
            target.assert_alive()


def test_after_all_that_an_ordinary_syslog_line_is_searchable(target: Target) -> None:
    marker = uuid.uuid4().hex
    send_syslog_tcp(target, [b"<13>1 2024-05-01T12:00:00Z web shop 42 - - order placed %s" % marker.encode()])
    wait_until(lambda: search_total(target, marker) == 1, 30, "the ordinary line to be searchable")
    with target.client("viewer") as c:
        hit = c.get("/api/v1/logs/search", params={"q": marker}).json()["data"]["hits"][0]
    assert hit["message"] == f"order placed {marker}"
    target.assert_alive()
