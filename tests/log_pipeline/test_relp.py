"""RELP server: session unit tests (frames split anywhere) and raw-socket protocol violations/backpressure."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from log_pipeline.receivers import RelpSession, SpoolConsumer
from tests.log_pipeline.receivers_harness import Harness, port0_config, spool_at
from tests.support.servers import wait_until


def frame(txnr: int, cmd: bytes, data: bytes = b"") -> bytes:
    return b"%d %s %d %s\n" % (txnr, cmd, len(data), data) if data else b"%d %s 0\n" % (txnr, cmd)


OPEN = frame(1, b"open", b"relp_version=0\nrelp_software=test,1\ncommands=syslog")


def test_session_split_at_every_byte() -> None:
    stream = (
        OPEN + frame(2, b"syslog", b"<13>1 - a\n") + frame(3, b"syslog", b"<13>1 - b") + frame(4, b"close")
    )
    for cut in range(1, len(stream)):
        s = RelpSession(1000)
        a, b = s.feed(stream[:cut]), s.feed(stream[cut:])
        assert a.error is None and b.error is None
        assert a.messages + b.messages == [b"<13>1 - a", b"<13>1 - b"]
        replies = b"".join(a.replies + b.replies)
        assert replies.startswith(b"1 rsp ") and b"200 OK\nrelp_version=0" in replies
        assert replies.endswith(b"2 rsp 6 200 OK\n3 rsp 6 200 OK\n4 rsp 0\n")
        assert b.close


def test_an_empty_frame_then_another_in_one_read_or_split_anywhere() -> None:
    """DATALEN 0: the header's own LF is the trailer. The next frame started one byte too late, so an
    empty message followed by another in the same read closed the session (and offsets ran one ahead)."""
    stream = OPEN + frame(2, b"syslog") + frame(3, b"syslog", b"cd") + frame(4, b"syslog", b"x")
    for cut in range(len(stream)):
        s = RelpSession(1000)
        a, b = s.feed(stream[:cut]), s.feed(stream[cut:])
        assert a.error is None and b.error is None, cut
        assert a.messages + b.messages == [b"", b"cd", b"x"], cut
        assert b"".join(a.replies + b.replies).endswith(b"2 rsp 6 200 OK\n3 rsp 6 200 OK\n4 rsp 6 200 OK\n")
    s = RelpSession(1000)
    s.feed(OPEN + frame(2, b"syslog"))
    step = s.feed(frame(4, b"syslog", b"x"))
    assert step.error is not None and step.error.reason == "txnr"
    assert step.error.offset == len(OPEN + frame(2, b"syslog"))


@pytest.mark.parametrize(
    ("bad", "reason", "detail"),
    [
        (frame(3, b"syslog", b"x"), "txnr", "transaction number 3 out of order (expected 2)"),
        (b"2 syslog 5 abc\n3 syslog 1 x\n", "syntax", "no LF trailer after 5 data bytes"),
        (frame(2, b"bogus", b"x"), "command", "unknown command 'bogus'"),
        (b"2 syslog 9999999 ", "oversize", "DATALEN 9999999 exceeds max_frame_bytes 1000"),
        (b"x syslog 1 a\n", "syntax", "frame must start with a transaction number"),
        (b"2 sys-log 1 a\n", "syntax", "invalid command"),
    ],
    ids=["txnr", "datalen", "command", "oversize", "no-txnr", "bad-command"],
)
def test_session_errors_are_precise(bad: bytes, reason: str, detail: str) -> None:
    s = RelpSession(1000)
    ok = s.feed(OPEN)
    assert ok.error is None
    step = s.feed(bad)
    assert step.error is not None
    assert step.error.reason == reason and detail in step.error.detail
    assert step.error.offset == len(OPEN)


def test_syslog_before_open_is_refused() -> None:
    step = RelpSession(1000).feed(frame(1, b"syslog", b"x"))
    assert step.error is not None and step.error.reason == "not_open" and not step.messages


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(port0_config(relp={"port": 0, "max_frame_bytes": 1000}), spool_at(tmp_path / "spool"))
    yield h
    h.close()


def recv_until(sock: socket.socket, end: bytes) -> bytes:
    sock.settimeout(10)
    buf = b""
    while not end or not buf.endswith(end):  # end=b"": read to EOF
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def test_malformed_frame_gets_serverclose_others_unaffected(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    port = harness.receivers.ports["relp"]
    good = socket.create_connection(("127.0.0.1", port))
    good.sendall(OPEN)
    assert b"200 OK" in recv_until(good, b"commands=syslog\n")
    with socket.create_connection(("127.0.0.1", port)) as bad, caplog.at_level(logging.ERROR):
        bad.sendall(OPEN + frame(2, b"syslog", b"kept") + frame(4, b"syslog", b"wrong txnr"))
        replies = recv_until(bad, b"")
        peer = "{}:{}".format(*bad.getsockname())
    assert replies.endswith(b"2 rsp 6 200 OK\n0 serverclose 0\n")
    offset = len(OPEN) + len(frame(2, b"syslog", b"kept"))
    assert any(
        f"relp {peer}: protocol error at byte {offset} (txnr)" in r.getMessage() for r in caplog.records
    )
    good.sendall(frame(2, b"syslog", b"still fine"))
    assert recv_until(good, b"\n") == b"2 rsp 6 200 OK\n"
    good.sendall(frame(3, b"close"))
    assert recv_until(good, b"") == b"3 rsp 0\n"
    good.close()
    assert harness.messages() == [b"kept", b"still fine"]
    assert harness.metric("paramedic_logs_errors_total", transport="relp", reason="txnr") == 1
    assert harness.metric("paramedic_logs_acked_total", transport="relp") == 2


def test_full_spool_stops_reads_and_acks_resume_after_commit(tmp_path: Path) -> None:
    spool = spool_at(tmp_path / "spool", max_backlog_messages=100)
    h = Harness(port0_config(), spool)
    try:
        sock = socket.create_connection(("127.0.0.1", h.receivers.ports["relp"]))
        sock.sendall(OPEN)
        recv_until(sock, b"commands=syslog\n")
        n = 1000
        first = 150  # one read into an empty spool is accepted even above the limit (no deadlock)
        sock.sendall(b"".join(frame(i + 2, b"syslog", b"m%d" % i) for i in range(first)))
        assert recv_until(sock, b"%d rsp 6 200 OK\n" % (first + 1)).count(b"200 OK") == first
        sock.sendall(b"".join(frame(i + 2, b"syslog", b"m%d" % i) for i in range(first, n)))
        sock.settimeout(0.5)  # observation window: the spool is full, nothing more is appended or acked
        with pytest.raises(TimeoutError):
            sock.recv(100)
        assert spool.last_seq == first
        got: list[bytes] = []
        consumer = SpoolConsumer(spool, lambda batch: got.extend(m.data for _, m in batch), batch_messages=50)
        consumer.start()
        acks = recv_until(sock, b"%d rsp 6 200 OK\n" % (n + 1))
        consumer_done = lambda: len(got) == n  # noqa: E731
        wait_until(consumer_done, 20, "the consumer to drain everything")
        consumer.stop()
        sock.close()
        assert acks.count(b"200 OK") == n - first
        assert got == [b"m%d" % i for i in range(n)]
    finally:
        h.close()
