"""CPU per scrape GET: the collector's two fetches (aiohttp on the event loop; the scrape thread's blocking
HTTP/1.1 fetch, framed by llhttp through httptools) against a bare asyncio-streams HTTP/1.1 GET (issue 18).

One event loop in this process GETs ``bench/_targets.py``'s bodies (``--series`` series, ~100 B a line) over
one keep-alive connection per target, ``--rounds`` rounds over ``--targets`` targets, the clients
alternated round by round; the thread's CPU (``time.thread_time``) per GET is reported for each (the blocking
fetch, ``collector._fetch_sync.PlainFetcher``, runs in the same thread, blocking the loop meanwhile). Alone
in one thread: in ``paramedic serve`` the same code costs 2–3× more per GET (bench/README, stop 34). The
bare client is only a yardstick of what the HTTP layer costs at least in Python (no TLS, auth, proxy,
gzip, chunked bodies, timeouts or size limit): it is not a replacement for ``collector._fetch.fetch``.

    .venv/bin/python bench/scrape_http.py [--targets 10] [--series 2000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path

from ingest import free_ports

from collector._fetch import fetch, new_session, scrape_headers
from collector._fetch_sync import PlainFetcher

REPO = Path(__file__).resolve().parent.parent


class _Bare:
    """One keep-alive connection: GET, read the headers, then exactly Content-Length bytes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self.request = (
            f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/plain\r\n\r\n".encode()
        )

    async def get(self) -> bytes:
        if self.streams is None:
            self.streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.streams
        writer.write(self.request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return await reader.readexactly(length)

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()


async def _run(ports: list[int], rounds: int) -> tuple[float, float, float, int]:
    sessions = [new_session() for _ in ports]
    bare = [_Bare(p) for p in ports]
    blocking = [PlainFetcher(f"http://127.0.0.1:{p}/metrics") for p in ports]
    headers = scrape_headers(10.0)
    urls = [f"http://127.0.0.1:{p}/metrics" for p in ports]
    cpu_aiohttp = cpu_bare = cpu_blocking = 0.0
    size = 0
    try:
        for r in range(rounds + 1):  # round 0 opens the connections
            t0 = time.thread_time()
            for session, url in zip(sessions, urls, strict=True):
                body, _ = await fetch(session, url, headers, timeout_s=10.0, max_body_bytes=1 << 26)
            t1 = time.thread_time()
            for client in bare:
                body2 = await client.get()
            t2 = time.thread_time()
            for f in blocking:
                body3, _ = f.fetch(
                    headers, timeout_s=10.0, deadline=time.monotonic() + 10.0, max_body_bytes=1 << 26
                )
            t3 = time.thread_time()
            if r:
                cpu_aiohttp += t1 - t0
                cpu_bare += t2 - t1
                cpu_blocking += t3 - t2
                size = max(size, len(body), len(body2), len(body3))
    finally:
        for s in sessions:
            await s.close()
        for b in bare:
            b.close()
        for f in blocking:
            f.close()
    n = rounds * len(ports)
    return cpu_aiohttp / n, cpu_blocking / n, cpu_bare / n, size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=10)
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=20)
    a = ap.parse_args()
    ports = free_ports(a.targets)
    targets = subprocess.Popen(
        [sys.executable, str(REPO / "bench" / "_targets.py"), "--series", str(a.series), *map(str, ports)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert targets.stdout is not None
        targets.stdout.readline()  # "ready"
        per_aiohttp, per_blocking, per_bare, size = asyncio.run(_run(ports, a.rounds))
    finally:
        assert targets.stdin is not None
        targets.stdin.close()
        targets.wait(timeout=30)
    print(
        f"{a.rounds} rounds x {a.targets} targets, bodies of {size:,} B: thread CPU per GET "
        f"aiohttp fetch {per_aiohttp * 1e3:.3f} ms, scrape-thread fetch {per_blocking * 1e3:.3f} ms, "
        f"bare asyncio streams {per_bare * 1e3:.3f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
