"""End to end: real rsyslog (imtcp -> omrelp, RFC 5424 template) -> a real ``paramedic serve`` subprocess
(RELP receiver -> spool -> parse -> enrich -> patterns -> tantivy) -> the logs HTTP API.

1. 100k numbered messages, every number found through ``/api/v1/logs/search`` (paged with the cursor).
2. The same stream with Paramedic SIGKILLed mid-stream and restarted on the same ports and data dir: every
   number present; duplicates (RELP is at-least-once) counted and printed.
3. ``/api/v1/logs/patterns`` lists the stream's template (its count also lands in the metrics store), and
   ``/api/v1/logs/tail`` streams a line sent afterwards.

Nothing sleeps a fixed time: everything polls with a deadline.
"""

from __future__ import annotations

import queue
import re
import secrets
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.log_pipeline.rsyslog import Rsyslog, relp_forwarder_config
from tests.support.servers import ManagedProcess, free_port, wait_http, wait_until

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parent.parent
SEQ = re.compile(r"seq=(\d+)")
N_STREAM = 100_000
N_KILL = 100_000
WINDOW = 16384


@dataclass
class Server:
    base: str
    relp_port: int
    tcp_port: int
    proc: ManagedProcess


def _config(dir_: Path, http_port: int, relp_port: int, tcp_port: int) -> Path:
    dir_.mkdir(parents=True, exist_ok=True)
    cfg = dir_ / "paramedic.yaml"
    cfg.write_text(
        f"server: {{listen_port: {http_port}, auth: {{anonymous_read: true}}}}\n"
        "metrics_store: {type: embedded, path: data/metrics}\n"
        "logs:\n"
        f"  relp: {{port: {relp_port}}}\n"
        f"  syslog_tcp: {{port: {tcp_port}}}\n"
        "  syslog_udp: null\n"
        "  spool: {path: data/logs/spool}\n"
        "  search: {type: embedded, path: data/logs/search}\n"
        "  pattern_flush_interval_s: 1\n"
    )
    return cfg


def _start(dir_: Path, http_port: int, relp_port: int, tcp_port: int, n: int) -> Server:
    cfg = _config(dir_, http_port, relp_port, tcp_port)
    proc = ManagedProcess(
        f"paramedic{n}",
        [sys.executable, "-m", "paramedic.cli", "serve", "--config", str(cfg)],
        dir_ / f"paramedic{n}.log",
        cwd=REPO,
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        wait_http(f"{base}/-/ready", 60, proc)  # a deadline, not a sleep: ready in ~3 s on an idle machine
    except BaseException:
        proc.stop()  # a server that never became ready is not left running behind the failed test
        raise
    return Server(base, relp_port, tcp_port, proc)


def _new_server(dir_: Path) -> Server:
    return _start(dir_, free_port(), free_port(), free_port(), 0)


def lines(token: str, start: int, stop: int, host: str = "cell1", app: str = "app") -> bytes:
    ts = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    head = f"<14>1 {ts} {host} {app} 42 - - run={token} seq=".encode()
    return b"".join(b"%s%d\n" % (head, i) for i in range(start, stop))


def total(base: str, q: str) -> int:
    body = httpx.get(f"{base}/api/v1/logs/search", params={"q": q, "limit": 1}, timeout=30).json()
    assert body["status"] == "success", body
    return int(body["data"]["total"])


def numbers(base: str, token: str) -> Counter[int]:
    """Every ``seq=N`` of the run, paging newest-first through the cursor."""
    got: Counter[int] = Counter()
    cursor: str | None = None
    with httpx.Client(base_url=base, timeout=60) as client:
        while True:
            params = {"q": token, "limit": "10000"} | ({"cursor": cursor} if cursor else {})
            body = client.get("/api/v1/logs/search", params=params).json()
            assert body["status"] == "success", body
            for hit in body["data"]["hits"]:
                m = SEQ.search(hit["message"])
                if m:
                    got[int(m.group(1))] += 1
            cursor = body["data"]["next_cursor"]
            if cursor is None:
                return got


def _forwarder(dir_: Path, relp_port: int) -> tuple[Rsyslog, int]:
    in_port = free_port()
    rs = Rsyslog("fwd", dir_, relp_forwarder_config(dir_, in_port, relp_port, WINDOW))
    rs.wait_port(in_port)
    return rs, in_port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = _new_server(tmp_path_factory.mktemp("logs-e2e"))
    try:
        yield srv
    finally:
        srv.proc.stop()


@pytest.fixture(scope="module")
def streamed(server: Server, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Send N_STREAM numbered lines through rsyslog; returns the run token once all are searchable."""
    token = "run" + secrets.token_hex(6)
    rs, in_port = _forwarder(tmp_path_factory.mktemp("rsyslog"), server.relp_port)
    try:
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", in_port)) as sock:
            for start in range(0, N_STREAM, 5000):
                sock.sendall(lines(token, start, min(start + 5000, N_STREAM)))
        wait_until(lambda: total(server.base, token) >= N_STREAM, 120, f"{N_STREAM} searchable", 0.25)
        elapsed = time.monotonic() - t0
    finally:
        rs.stop()
    rate = N_STREAM / elapsed
    print(f"\n{N_STREAM} lines rsyslog -> RELP -> paramedic searchable in {elapsed:.1f}s ({rate:,.0f}/s)")
    return token


def test_100k_messages_all_searchable(server: Server, streamed: str) -> None:
    got = numbers(server.base, streamed)
    assert set(got) == set(range(N_STREAM))
    assert sum(got.values()) == N_STREAM, f"duplicates without a restart: {sum(got.values()) - N_STREAM}"


def test_patterns_list_the_template_and_feed_the_metrics_store(server: Server, streamed: str) -> None:
    body = httpx.get(f"{server.base}/api/v1/logs/patterns", params={"limit": 1000}, timeout=10).json()
    assert body["status"] == "success", body
    ours = [p for p in body["data"]["patterns"] if streamed in p["sample"]]
    assert ours, body
    assert sum(p["count"] for p in ours) >= N_STREAM
    assert all("<*>" in p["template"] for p in ours), ours
    pid = ours[0]["pattern_id"]

    def counted() -> bool:
        res = httpx.get(
            f"{server.base}/api/v1/query",
            params={"query": f'paramedic_log_pattern_messages_total{{pattern_id="{pid}"}}'},
            timeout=10,
        ).json()
        return res["status"] == "success" and bool(res["data"]["result"])

    wait_until(counted, 20, "the pattern count in the metrics store", 0.25)


def test_live_tail_streams_a_new_line(server: Server) -> None:
    token = "tail" + secrets.token_hex(6)
    events: queue.Queue[str] = queue.Queue()

    def reader(resp: httpx.Response) -> None:
        try:
            for line in resp.iter_lines():
                events.put(line)
        except httpx.HTTPError:
            return

    with (
        httpx.Client(timeout=httpx.Timeout(10, read=None)) as client,
        client.stream("GET", f"{server.base}/api/v1/logs/tail", params={"q": token}) as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        threading.Thread(target=reader, args=(resp,), daemon=True).start()
        # the subscription exists once the response started; send over syslog TCP (LF framing)
        with socket.create_connection(("127.0.0.1", server.tcp_port)) as sock:
            # from another app: its own pattern, so the streamed lines' pattern keeps one of theirs as sample
            # whichever test runs first
            sock.sendall(lines(token, 7, 8, app="tailer"))
        deadline = time.monotonic() + 15
        seen = []
        while time.monotonic() < deadline:
            try:
                line = events.get(timeout=0.25)
            except queue.Empty:
                continue
            seen.append(line)
            if line.startswith("data: ") and token in line:
                assert "seq=7" in line
                return
        pytest.fail(f"no tail event for {token}: {seen}")


def test_kill9_mid_stream_every_number_searchable(tmp_path: Path) -> None:
    srv = _new_server(tmp_path / "p")
    token, keep_token = "kill" + secrets.token_hex(6), "keep" + secrets.token_hex(6)
    rs, in_port = _forwarder(tmp_path / "rsyslog", srv.relp_port)
    done = threading.Event()
    fed = [0]

    def feeder() -> None:
        with socket.create_connection(("127.0.0.1", in_port)) as sock:
            for start in range(0, N_KILL, 1000):  # about 5k lines/s, so the kill lands mid-stream
                sock.sendall(lines(token, start, min(start + 1000, N_KILL)))
                fed[0] = min(start + 1000, N_KILL)
                done.wait(0.2)
            k = 0
            while not done.wait(0.1):  # keep traffic flowing: rsyslog may only reconnect on a new message
                sock.sendall(lines(keep_token, k, k + 1, host="keepalive"))
                k += 1

    t0 = time.monotonic()
    thread = threading.Thread(target=feeder, daemon=True)
    thread.start()
    try:
        wait_until(lambda: total(srv.base, token) >= N_KILL // 4, 60, "a quarter of the stream", 0.1)
        srv.proc.kill9()
        fed_at_kill = fed[0]
        srv = _start(tmp_path / "p", int(srv.base.rsplit(":", 1)[1]), srv.relp_port, srv.tcp_port, 1)
        at_kill = total(srv.base, token)
        wait_until(lambda: total(srv.base, token) >= N_KILL, 120, "every number after the restart", 0.25)
        got = numbers(srv.base, token)
        metrics = httpx.get(f"{srv.base}/metrics", timeout=10).text
    finally:
        done.set()
        thread.join(10)
        rs.stop()
        srv.proc.stop()
    missing = set(range(N_KILL)) - set(got)
    dups = sum(c - 1 for c in got.values())
    counted = re.search(r"^paramedic_log_pipeline_duplicates_total (\S+)", metrics, re.M)
    print(
        f"\nkill -9 with {fed_at_kill} of {N_KILL} fed to rsyslog ({at_kill} searchable after restart): "
        f"{N_KILL} numbers, missing {len(missing)}, duplicates {dups} "
        f"(pipeline metric after restart: {counted.group(1) if counted else '?'}), "
        f"{time.monotonic() - t0:.1f}s"
    )
    assert not missing, sorted(missing)[:20]
