"""The spool's record decode and the intake's ``raw_message``: the same messages as the plain constructor,
whatever the runs of transports and peers, and from any seq inside a record."""

from __future__ import annotations

from pathlib import Path

import pytest

from log_pipeline.model import RawMessage, raw_message
from log_pipeline.pipeline import DuplicateCounter
from log_pipeline.receivers import RelpSession
from log_pipeline.spool import FileSpool
from log_pipeline.spool._segment import decode, encode


def _messages() -> list[RawMessage]:
    """Runs of one connection, interleaved connections, names of equal total length split differently, a
    non-UTF-8 peer, empty data."""
    peers = [
        ("relp", "10.0.0.1:1"),
        ("relp", "10.0.0.1:1"),
        ("tcp", "10.0.0.1:1"),
        ("tcp1", "0.0.0.1:1"),  # transport + peer bytes equal to the previous pair's, split elsewhere
        ("tcp", "10.0.0.1:1"),
        ("relp", "10.0.0.2:7"),
        ("relp", "10.0.0.1:1"),
        ("udp", "\udcff:9"),
        ("udp", "\udcff:9"),
        ("", ""),
        ("tcp1", "0.0.0.1:1"),  # the same, met again after other peers (from the cache)
        ("relp", "10.0.0.1:1"),
        ("tcp", "10.0.0.1:1"),
        ("tcp", "10.0.0.1:12"),  # the previous peer's bytes are a prefix of this one's
        ("tcp", "10.0.0.1:1"),  # and the other way round
    ]
    return [
        RawMessage(
            b"line %d" % i if t else b"",
            1_000 + i,
            t,
            p.encode("utf-8", "surrogateescape").decode("utf-8", "replace"),
        )
        for i, (t, p) in enumerate(peers)
    ]


def test_raw_message_equals_the_constructor() -> None:
    built = raw_message(b"x", 5, "relp", "h:1")
    plain = RawMessage(b"x", 5, "relp", "h:1")
    assert built == plain and hash(built) == hash(plain) and repr(built) == repr(plain)
    with pytest.raises(AttributeError):
        built.data = b"y"  # type: ignore[misc]  # still frozen


def test_decode_gives_back_every_message_with_its_seq() -> None:
    msgs = _messages()
    first, got = decode(encode(41, msgs))
    assert first == 41
    assert got == list(enumerate(msgs, 41))
    assert [(m.transport, m.peer) for _, m in got] == [(m.transport, m.peer) for m in msgs]


@pytest.mark.parametrize("after", [0, 40, 41, 45, 49, 50, 99])
def test_decode_after_seq_leaves_out_the_earlier(after: int) -> None:
    msgs = _messages()
    _, got = decode(encode(41, msgs), after)
    assert got == [(s, m) for s, m in enumerate(msgs, 41) if s > after]


def test_read_from_inside_a_record_and_across_records(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path / "s")
    msgs = _messages()
    spool.append(msgs[:4])
    spool.append(msgs[4:])
    everything = list(enumerate(msgs, 1))
    for after in range(len(msgs) + 1):
        for limit in (1, 3, 100):
            assert spool.read(after, limit) == everything[after : after + limit]
    spool.close()


def test_relp_syslog_frames_with_and_without_a_trailing_newline() -> None:
    s = RelpSession(1000)
    offers = b"relp_version=0\ncommands=syslog"
    step = s.feed(b"1 open %d %s\n2 syslog 3 ab\n\n3 syslog 2 cd\n4 syslog 1 \n\n" % (len(offers), offers))
    assert step.error is None
    assert step.messages == [b"ab", b"cd", b""]
    assert step.replies[1:] == [b"2 rsp 6 200 OK\n", b"3 rsp 6 200 OK\n", b"4 rsp 6 200 OK\n"]


def test_duplicates_are_keyed_by_the_peer_host_not_its_port() -> None:
    dups = DuplicateCounter(10)
    assert dups.check(1, RawMessage(b"same", 0, "relp", "10.0.0.1:1")) is None
    assert dups.check(2, RawMessage(b"same", 0, "relp", "10.0.0.1:2")) == 1  # reconnected: a re-send
    assert dups.check(3, RawMessage(b"same", 0, "relp", "10.0.0.2:1")) is None  # another host
    assert dups.check(4, RawMessage(b"same", 0, "relp", "[::1]:5")) is None
    assert dups.check(5, RawMessage(b"same", 0, "relp", "[::1]:6")) == 4
