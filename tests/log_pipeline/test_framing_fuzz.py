"""Fuzzing the sans-I/O stream sessions (``SyslogFramer``, ``RelpSession``) with hypothesis.

Properties: any bytes, split into any reads, never raise (a bad stream is a ``FramingError`` /
``RelpProtocolError`` in the step); the result does not depend on how the stream was split (same messages,
replies, close and error as feeding it whole); the buffered bytes never exceed one message or frame; and the
framing of a big message fed in small reads stays linear (the regression of the quadratic re-join).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from log_pipeline.receivers import RelpSession
from log_pipeline.receivers._framing import SyslogFramer

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None)
OPEN = b"1 open 30 relp_version=0\ncommands=syslog\n"


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


def _frame_all(mode: str, chunks: list[bytes], limit: int) -> tuple[list[bytes], object, list[bytes]]:
    f = SyslogFramer(mode, limit)  # type: ignore[arg-type]
    messages: list[bytes] = []
    error = None
    for chunk in chunks:
        step = f.feed(chunk)
        messages += step.messages
        if step.error is not None and error is None:
            error = (step.error.offset, step.error.reason)
        assert f.buffered <= limit + 12  # one message (and its octet count) at most
    return messages, error, f.flush()


_near_frames = st.lists(
    st.one_of(
        st.binary(max_size=20).map(lambda b: b"%d " % len(b) + b),
        st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"") + b"\n"),
        st.sampled_from([b"\r\n", b"\n", b"99999999999 x", b"12", b"0 ", b"-1 x", b"7 abc"]),
    ),
    max_size=8,
).map(b"".join)


@pytest.mark.timeout(60)
@FUZZ
@given(
    st.sampled_from(["auto", "octet", "lf"]),
    st.one_of(st.binary(max_size=200), _near_frames),
    st.lists(st.integers(0, 400), max_size=12),
    st.integers(1, 64),
)
@example("lf", b"a" * 70 + b"\n", [10, 20, 65], 64)
@example("lf", b"a" * 64 + b"\r\n", [64, 65], 64)
@example("octet", b"5 abcde5 ab", [1, 2, 3], 64)
@example("auto", b"12", [1], 64)
def test_framer_any_split_same_result(mode: str, data: bytes, cuts: list[int], limit: int) -> None:
    assert _frame_all(mode, [data], limit) == _frame_all(mode, _split(data, cuts), limit)


def _relp_all(chunks: list[bytes], limit: int) -> tuple[list[bytes], list[bytes], bool, object]:
    s = RelpSession(limit)
    messages: list[bytes] = []
    replies: list[bytes] = []
    close, error = False, None
    for chunk in chunks:
        step = s.feed(chunk)
        messages += step.messages
        replies += step.replies
        close = close or step.close
        if step.error is not None and error is None:
            error = (step.error.offset, step.error.reason)
        assert s.buffered <= limit + 64  # one frame and its header at most
    return messages, replies, close, error


def _frame(txnr: int, cmd: bytes, data: bytes) -> bytes:
    return b"%d %s %d %s\n" % (txnr, cmd, len(data), data) if data else b"%d %s 0\n" % (txnr, cmd)


@st.composite
def relp_streams(draw: st.DrawFn) -> bytes:
    parts = [OPEN] if draw(st.booleans()) else []
    txnr = 2
    for _ in range(draw(st.integers(0, 6))):
        cmd = draw(st.sampled_from([b"syslog", b"syslog", b"close", b"open", b"bogus", b"SYSLOG"]))
        data = draw(st.binary(max_size=30))
        frame = _frame(txnr + draw(st.sampled_from([0, 0, 0, 1, -1])), cmd, data)
        if draw(st.integers(0, 9)) == 0:
            frame = frame[: draw(st.integers(0, len(frame)))] + draw(st.binary(max_size=4))
        parts.append(frame)
        txnr += 1
    return b"".join(parts)


@pytest.mark.timeout(60)
@FUZZ
@given(
    st.one_of(st.binary(max_size=200), relp_streams(), st.binary(max_size=100).map(lambda b: OPEN + b)),
    st.lists(st.integers(0, 400), max_size=12),
    st.integers(1, 64),
)
@example(OPEN + b"2 syslog 5 hello\n", [1, 5, 40, 45], 64)
@example(OPEN + b"2 syslog 99 x", [42], 64)
@example(b"1 ope", [2], 64)
def test_relp_any_split_same_result(data: bytes, cuts: list[int], limit: int) -> None:
    assert _relp_all([data], limit) == _relp_all(_split(data, cuts), limit)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["lf", "octet", "relp"])
def test_big_message_in_small_reads_is_linear(kind: str) -> None:
    """1 MiB in 64-byte reads: ~20 ms when linear; the former re-join of the buffer took several seconds."""
    size = 1 << 20
    body = b"x" * size
    feed: Callable[[bytes], list[bytes]]
    if kind == "relp":
        s = RelpSession(size)
        s.feed(OPEN)
        data = b"2 syslog %d " % size + body + b"\n"
        feed = lambda chunk: s.feed(chunk).messages  # noqa: E731
    else:
        f = SyslogFramer(kind, size)  # type: ignore[arg-type]
        data = body + b"\n" if kind == "lf" else b"%d " % size + body
        feed = lambda chunk: f.feed(chunk).messages  # noqa: E731
    started = time.thread_time()  # CPU time of this thread: the machine's load does not count
    got = [m for pos in range(0, len(data), 64) for m in feed(data[pos : pos + 64])]
    elapsed = time.thread_time() - started
    assert got == [body]
    assert elapsed < 2.0, f"{elapsed:.2f} s: framing is not linear"


def test_lf_line_over_the_limit_trickled_is_refused_once_it_passes_the_limit() -> None:
    f = SyslogFramer("lf", 100)
    assert f.feed(b"<13>ok\n" + b"y" * 50).messages == [b"<13>ok"]
    errors = [f.feed(b"y" * 10).error for _ in range(10)]
    first = next(i for i, e in enumerate(errors) if e is not None)
    assert first == 5  # 50 + 6 * 10 = 110 > 100 + a possible CR
    err = errors[first]
    assert err is not None and (err.offset, err.reason) == (7, "oversize")
    assert f.buffered == 0 and f.feed(b"\n").messages == []  # nothing more after the error
