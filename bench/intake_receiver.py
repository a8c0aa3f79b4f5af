"""CPU per line of the server's receiving side, in-process (issue 18's intake row): what happens to a line
between the socket and the consumer's ``prepare``.

    .venv/bin/python bench/intake_receiver.py [--lines 100000] [--frames-per-read 64] [--repeat 5]

Stages, each timed over all lines (thread CPU, the minimum of ``--repeat`` passes): the RELP session's
``feed`` (frames as rsyslog's omrelp sends them, ``--frames-per-read`` to a read), the ``RawMessage``
batch the connection builds from its messages, the spool's ``append`` (encode, one write) in batches of one
read's messages, and the consumer's ``read`` of the spool in batches of 16,384 (decode).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from log_pipeline.model import RawMessage

try:
    from log_pipeline.receivers._conn import raw_messages
except ImportError:  # a checkout before raw_messages (to compare with): what its connection did

    def raw_messages(messages: list[bytes], received_ns: int, transport: str, peer: str) -> list[RawMessage]:
        return [RawMessage(m, received_ns, transport, peer) for m in messages]


from log_pipeline.receivers._relp import RelpSession
from log_pipeline.spool import FileSpool

_HEAD = b"<14>1 2026-12-06T12:00:00.000000Z cell1 app 42 - - run=bench seq="


def best(repeat: int, fn: Callable[[], object]) -> float:
    """The least thread CPU of ``repeat`` calls of ``fn`` (seconds)."""
    out = []
    for _ in range(repeat):
        t = time.thread_time()
        fn()
        out.append(time.thread_time() - t)
    return min(out)


def reads(n: int, per_read: int) -> list[bytes]:
    """``n`` syslog frames after an ``open``, ``per_read`` frames to a read."""
    offers = b"relp_version=0\nrelp_software=bench\ncommands=syslog"
    frames = [b"1 open %d %s\n" % (len(offers), offers)]
    frames += [
        b"%d syslog %d %s\n" % (i + 2, len(_HEAD) + len(b"%d" % i), b"%s%d" % (_HEAD, i)) for i in range(n)
    ]
    return [b"".join(frames[i : i + per_read]) for i in range(0, len(frames), per_read)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--frames-per-read", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    n = a.lines
    chunks = reads(n, a.frames_per_read)

    def feed() -> list[list[bytes]]:
        session = RelpSession(1 << 20)
        return [session.feed(c).messages for c in chunks]

    messages = feed()
    print(f"relp feed     {best(a.repeat, feed) / n * 1e6:6.2f} µs/line")
    now = time.time_ns()

    def build() -> list[list[RawMessage]]:
        return [raw_messages(m, now, "relp", "127.0.0.1:1") for m in messages]

    batches = build()
    print(f"RawMessages   {best(a.repeat, build) / n * 1e6:6.2f} µs/line")
    with tempfile.TemporaryDirectory() as tmp:
        spool = FileSpool(Path(tmp) / "spool", max_backlog_messages=10 * n)
        t = time.thread_time()
        for _ in range(a.repeat):
            for b in batches:
                spool.append(b)
        print(f"spool append  {(time.thread_time() - t) / a.repeat / n * 1e6:6.2f} µs/line")

        def read() -> None:
            pos = 0
            while pos < n:
                got = spool.read(pos, 16_384)
                pos = got[-1][0]

        print(f"spool read    {best(a.repeat, read) / n * 1e6:6.2f} µs/line")
        spool.close()


if __name__ == "__main__":
    main()
