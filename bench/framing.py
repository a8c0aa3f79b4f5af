"""Micro-benchmark of the receivers' framing: one big message fed in small chunks (the slow-loris shape).

    .venv/bin/python bench/framing.py [--size 1048576] [--budget-s 20]

Feeds one ``--size``-byte message to ``SyslogFramer`` (LF and octet-counted) and ``RelpSession`` in chunks of
1 B .. 4 KiB and prints the time per case. A case that exceeds ``--budget-s`` stops there and reports how far
it got (quadratic framing never finishes the 1-byte case in reasonable time). Then the ordinary case:
100,000 small (~120-byte) messages in 64 KiB reads, messages per second (the throughput must not regress).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from log_pipeline.receivers._framing import SyslogFramer
from log_pipeline.receivers._relp import RelpSession

CHUNKS = (1, 16, 256, 4096)


def _cases(size: int) -> dict[str, tuple[bytes, Callable[[], Callable[[bytes], int]]]]:
    body = b"<13>1 - host app - - - " + b"x" * (size - 24)
    offers = b"relp_version=0\ncommands=syslog"
    relp_open = b"1 open %d %s\n" % (len(offers), offers)

    def framer(mode: str) -> Callable[[], Callable[[bytes], int]]:
        def make() -> Callable[[bytes], int]:
            f = SyslogFramer(mode, size + 64)  # type: ignore[arg-type]
            return lambda chunk: len(f.feed(chunk).messages)

        return make

    def relp() -> Callable[[bytes], int]:
        s = RelpSession(size + 64)
        s.feed(relp_open)
        return lambda chunk: len(s.feed(chunk).messages)

    return {
        "syslog lf": (body + b"\n", framer("lf")),
        "syslog octet": (b"%d " % len(body) + body, framer("octet")),
        "relp": (b"2 syslog %d " % len(body) + body + b"\n", relp),
    }


def run_case(data: bytes, make: Callable[[], Callable[[bytes], int]], chunk: int, budget_s: float) -> str:
    feed = make()
    got = 0
    started = time.perf_counter()
    for pos in range(0, len(data), chunk):
        got += feed(data[pos : pos + chunk])
        if pos % (chunk * 64) == 0 and time.perf_counter() - started > budget_s:
            return f"> {budget_s:.0f} s (stopped at {pos * 100 // len(data)}%)"
    elapsed = time.perf_counter() - started
    assert got == 1, f"expected one message, got {got}"
    return f"{elapsed * 1000:9.1f} ms"


def small_messages_rate(name: str, n: int = 100_000) -> float:
    body = b"<13>1 2024-05-01T12:00:00.000Z host app 42 - - GET /api/v1/orders/12345 200 0.013s " + b"q" * 40
    if name == "relp":
        offers = b"relp_version=0\ncommands=syslog"
        stream = b"1 open %d %s\n" % (len(offers), offers)
        stream += b"".join(b"%d syslog %d %s\n" % (i + 2, len(body), body) for i in range(n))
        session = RelpSession(1 << 20)
        feed: Callable[[bytes], int] = lambda chunk: len(session.feed(chunk).messages)  # noqa: E731
    else:
        mode = "lf" if name == "syslog lf" else "octet"
        one = body + b"\n" if mode == "lf" else b"%d %s" % (len(body), body)
        stream = one * n
        framer = SyslogFramer(mode, 1 << 20)  # type: ignore[arg-type]
        feed = lambda chunk: len(framer.feed(chunk).messages)  # noqa: E731
    started = time.perf_counter()
    got = sum(feed(stream[pos : pos + 65536]) for pos in range(0, len(stream), 65536))
    elapsed = time.perf_counter() - started
    assert got == n, got
    return n / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=1 << 20)
    ap.add_argument("--budget-s", type=float, default=20.0)
    args = ap.parse_args()
    print(f"one {args.size}-byte message, time to frame it by chunk size")
    print(f"{'case':14} " + " ".join(f"{c:>24}" for c in (f"{c} B chunks" for c in CHUNKS)))
    for name, (data, make) in _cases(args.size).items():
        print(f"{name:14} " + " ".join(f"{run_case(data, make, c, args.budget_s):>24}" for c in CHUNKS))
    print("\n100,000 small messages in 64 KiB reads")
    for name in ("syslog lf", "syslog octet", "relp"):
        print(f"{name:14} {small_messages_rate(name):>12,.0f} msg/s")


if __name__ == "__main__":
    main()
