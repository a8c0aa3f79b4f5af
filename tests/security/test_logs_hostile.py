"""Hostile log searches, live tails and UDP floods against a real ``paramedic serve`` (issue 11 findings 5,
6, 8 and 9): each hostile request is answered (200, truncated where a limit applies, or 400) while
``/-/healthy`` keeps answering (probed from a thread throughout, each answer within ``HEALTHY_ANSWER_S``)
and the event loop is never held for 1 s or more (the server's own loop lag, ``Target.assert_alive``), and a
flood of big datagrams leaves the server's memory bounded. No fixed sleeps: everything polls with a deadline.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.support.hostile import HEALTHY_ANSWER_S, Target, running_target
from tests.support.servers import wait_until

pytestmark = pytest.mark.timeout(300)

MAX_RESPONSE_BYTES = 2 * 1024 * 1024
# Room for one flood datagram (60 KB), counted until its append returns: a second one arriving meanwhile is
# dropped and counted whatever the speed of the spool (with 8 MB, a fast intake could keep up and the kernel,
# not Paramedic, dropped the rest: no drop was counted in one CI run)
UDP_QUEUE_BYTES = 96 * 1024
ORDINARY_LINES = 3000
BIG_LINES = 40
BIG_MESSAGE = "zz " * 40_000  # 120 KB, 40,000 tokens
SEARCH = "/api/v1/logs/search"
TAIL = "/api/v1/logs/tail"


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _line(message: str, app: str = "hostile-app") -> bytes:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"<13>1 {stamp} hostile-host {app} - - - {message}\n".encode()


def _send(target: Target, lines: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", target.ports["tcp"]), timeout=10) as sock:
        sock.sendall(b"".join(lines))


def _total(target: Target, q: str) -> int:
    with target.client("viewer") as c:
        r = c.get(SEARCH, params={"q": q, "limit": "1"})
    return int(r.json()["data"]["total"]) if r.status_code == 200 else -1


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    udp_port = _free_udp_port()
    extra = {
        "logs": {
            "syslog_udp": {"port": udp_port, "queue_bytes": UDP_QUEUE_BYTES},
            "search_api": {"max_response_bytes": MAX_RESPONSE_BYTES},
            "consumer_batch_messages": 256,  # the pipeline reads the spool by count (see the UDP test)
            "tail": {"max_subscribers": 16, "max_subscribers_per_principal": 2},
        }
    }
    with running_target(tmp_path_factory.mktemp("serve-logs"), anonymous_read=True, extra_config=extra) as t:
        t.ports["udp"] = udp_port
        ordinary = [
            _line(
                f"alice ordinary request {i} served path /api/v1/items status 200 in {i % 97} ms by worker "
                f"{i % 7} of pool main region eu west"
            )
            for i in range(ORDINARY_LINES)
        ]
        _send(t, ordinary)
        _send(t, [_line(BIG_MESSAGE, app="big-app") for _ in range(BIG_LINES)])
        wait_until(lambda: _total(t, "ordinary") == ORDINARY_LINES, 60, "the ordinary lines to be searchable")
        wait_until(lambda: _total(t, "app:big-app") == BIG_LINES, 60, "the big lines to be searchable")
        yield t


class HealthProbe:
    """Probes ``/-/healthy`` from a thread, back to back, from before the request (the first probe has
    answered when the block starts) until after it (one more probe answers after the block); records the
    slowest answer."""

    def __init__(self, target: Target) -> None:
        self._url = f"{target.base_url}/-/healthy"
        self._stop = threading.Event()
        self._done = threading.Condition()
        self.slowest = 0.0
        self.probes = 0
        self.failures: list[str] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=HEALTHY_ANSWER_S + 1) as c:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    r = c.get(self._url)
                    if r.status_code != 200:
                        self.failures.append(f"status {r.status_code}")
                except httpx.HTTPError as e:
                    self.failures.append(repr(e))
                with self._done:
                    self.slowest = max(self.slowest, time.monotonic() - started)
                    self.probes += 1
                    self._done.notify_all()

    def _wait_for(self, probes: int) -> None:
        with self._done:
            assert self._done.wait_for(lambda: self.probes >= probes, 30), "the health probe is stuck"

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        self._wait_for(1)
        return self

    def __exit__(self, *exc: object) -> None:
        with self._done:
            after = self.probes + 2  # the one in flight may have started before the block ended
        self._wait_for(after)
        self._stop.set()
        self._thread.join(10)


@contextlib.contextmanager
def healthy_throughout(target: Target) -> Iterator[HealthProbe]:
    with HealthProbe(target) as probe:
        yield probe
    assert probe.probes > 0
    assert not probe.failures, probe.failures[:3]
    assert probe.slowest < HEALTHY_ANSWER_S, f"/-/healthy took {probe.slowest:.2f} s during the request"
    target.assert_alive()  # and no event-loop stall of 1 s or more during the request


def _or_query(words: list[str]) -> str:
    return " OR ".join(words)


def test_a_query_over_the_clause_cap_is_refused(target: Target) -> None:
    q = "alice OR " + _or_query(["b"] * 3269)  # the attack: 3,270 clauses, 16 KB
    with healthy_throughout(target), target.client(None, timeout_s=30) as c:
        r = c.get(SEARCH, params={"q": q, "limit": "10000", "highlight": "true"})
    assert r.status_code == 400, r.text
    assert r.json()["errorType"] == "bad_data" and "more than 1024 clauses" in r.json()["error"]


def test_highlighting_1024_clauses_over_3000_lines_keeps_health_up(target: Target) -> None:
    q = "alice OR " + _or_query([f"w{i}" for i in range(1023)])  # at the cap, all distinct
    with healthy_throughout(target), target.client(None, timeout_s=60) as c:
        r = c.get(SEARCH, params={"q": q, "limit": "10000", "highlight": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["data"]["total"] == ORDINARY_LINES
    assert len(body["data"]["hits"]) == ORDINARY_LINES and not body["data"]["truncated"]
    assert "the first 256 of the query's 1024 distinct clauses" in body["warnings"][0]
    hit = body["data"]["hits"][0]
    assert [hit["message"][s:e] for s, e in hit["highlight"]["message"]] == ["alice"]


def test_a_search_response_stops_at_the_byte_budget(target: Target) -> None:
    with healthy_throughout(target), target.client(None, timeout_s=60) as c:
        r = c.get(SEARCH, params={"q": "zz", "limit": "10000", "highlight": "true"})
        assert r.status_code == 200, r.text
        assert len(r.content) <= MAX_RESPONSE_BYTES + 4096
        data = r.json()["data"]
        assert data["total"] == BIG_LINES and data["truncated"] and data["next_cursor"]
        sent = len(data["hits"])
        assert 1 <= sent < BIG_LINES
        for hit in data["hits"]:
            assert len(hit["highlight"]["message"]) == 1024 and hit["highlight"]["truncated"] is True
        following = c.get(SEARCH, params={"q": "zz", "limit": "10000", "cursor": data["next_cursor"]})
    assert following.status_code == 200
    ids = {h["id"] for h in data["hits"]}
    assert ids.isdisjoint(h["id"] for h in following.json()["data"]["hits"])


def test_context_is_capped(target: Target) -> None:
    with target.client(None, timeout_s=30) as c:
        hit_id = c.get(SEARCH, params={"q": "ordinary", "limit": "1"}).json()["data"]["hits"][0]["id"]
        with healthy_throughout(target):
            refused = c.get("/api/v1/logs/context", params={"id": hit_id, "before": "1000", "after": "1000"})
            r = c.get("/api/v1/logs/context", params={"id": hit_id, "before": "200", "after": "200"})
    assert refused.status_code == 400 and "between 0 and 200" in refused.json()["error"]
    assert r.status_code == 200 and len(r.json()["data"]["before"]) == 200


def _read_tail(
    client: httpx.Client,
    params: dict[str, str],
    want: int,
    seen: list[tuple[int, int]],
    ready: threading.Event,
    errors: list[BaseException],
) -> None:
    try:
        with client.stream("GET", TAIL, params=params) as r:
            assert r.status_code == 200, r.read()
            logs, warnings = 0, 0
            for line in r.iter_lines():
                if line == ": connected":
                    ready.set()
                elif line == "event: warning":  # highlighting uses only some of the query's clauses
                    warnings += 1
                elif line == "event: log":
                    logs += 1
                    if logs == want:
                        break
            seen.append((warnings, logs))
    except BaseException as e:  # reported in the test thread
        errors.append(e)
        ready.set()


def test_tails_highlighting_huge_lines_keep_health_up(target: Target) -> None:
    letters = "bcdefghijklmnopqrstuvwxyz"
    distinct = [x + y for x in letters for y in letters][:600]  # plus "a": 4,000 bytes, 601 clauses
    q = _or_query([*distinct, "a"])  # within the 4,096-byte tail query limit
    assert len(q) <= 4096
    params = {"q": q, "highlight": "true"}
    lines = 5
    with contextlib.ExitStack() as stack:
        roles: list[str | None] = [None, None, "viewer", "viewer", "operator", "operator", "admin", "admin"]
        clients = [stack.enter_context(target.client(role, timeout_s=120)) for role in roles]
        seen: list[tuple[int, int]] = []
        errors: list[BaseException] = []
        readies = [threading.Event() for _ in clients]
        threads = [
            threading.Thread(target=_read_tail, args=(c, params, lines, seen, ready, errors), daemon=True)
            for c, ready in zip(clients, readies, strict=True)
        ]
        for t in threads:
            t.start()
        assert all(ready.wait(30) for ready in readies)
        assert not errors, errors
        with healthy_throughout(target):
            _send(target, [_line("a " * 60_000) for _ in range(lines)])
            for t in threads:
                t.join(120)
        assert not errors, errors
        assert seen == [(1, lines)] * len(roles)  # each was told highlighting is limited, then got every line


def test_anonymous_tails_are_capped_per_client_address(target: Target) -> None:
    with contextlib.ExitStack() as stack:
        c = stack.enter_context(target.client(None))
        for _ in range(2):
            assert stack.enter_context(c.stream("GET", TAIL, params={"q": "app:nothing"})).status_code == 200
        refused = c.get(TAIL, params={"q": "app:nothing"})
        assert refused.status_code == 429
        assert "anonymous readers at 127.0.0.1" in refused.json()["error"]
        # an authenticated reader at the same address still gets a tail
        with target.client("viewer") as v, v.stream("GET", TAIL, params={"q": "app:nothing"}) as r:
            assert r.status_code == 200


def _rss_bytes(target: Target) -> int:
    for line in Path(f"/proc/{target.proc.popen.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _metric(target: Target, name: str, labels: str) -> float:
    for line in httpx.get(f"{target.base_url}/metrics", timeout=5).text.splitlines():
        if line.startswith(f"{name}{{{labels}}} "):
            return float(line.split()[-1])
    return 0.0


def test_a_udp_flood_of_big_datagrams_keeps_memory_bounded(target: Target) -> None:
    dropped = 'transport="udp"'
    before_dropped = _metric(target, "paramedic_logs_dropped_total", dropped)
    baseline = _rss_bytes(target)
    peak = baseline
    datagram = _line("u" * 60_000, app="udp-flood")[:65_000]
    sent = 0
    with healthy_throughout(target), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            for _ in range(50):
                with contextlib.suppress(OSError):  # ENOBUFS under load: the kernel drops, as it may
                    sock.sendto(datagram, ("127.0.0.1", target.ports["udp"]))
                    sent += 1
            peak = max(peak, _rss_bytes(target))
    peak = max(peak, _rss_bytes(target))
    print(f"udp flood: {sent} datagrams, RSS {baseline >> 20} -> peak {peak >> 20} MiB")
    assert sent > 1000
    assert peak - baseline < 400 * 1024 * 1024  # 65,536 queued datagrams of 60 KB would be 3.9 GB
    wait_until(
        lambda: _metric(target, "paramedic_logs_dropped_total", dropped) > before_dropped, 30, "drops counted"
    )
    target.assert_alive()
