"""CPU per scrape GET: the collector's aiohttp fetch against a bare asyncio-streams HTTP/1.1 GET (issue 18).

One event loop in this process GETs ``bench/_targets.py``'s bodies (``--series`` series, ~100 B a line) over
one keep-alive connection per target, ``--rounds`` rounds over ``--targets`` targets, the two clients
alternated round by round; the loop thread's CPU (``time.thread_time``) per GET is reported for each. The
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


async def _run(ports: list[int], rounds: int) -> tuple[float, float, int]:
    sessions = [new_session() for _ in ports]
    bare = [_Bare(p) for p in ports]
    headers = scrape_headers(10.0)
    urls = [f"http://127.0.0.1:{p}/metrics" for p in ports]
    cpu_aiohttp = cpu_bare = 0.0
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
            if r:
                cpu_aiohttp += t1 - t0
                cpu_bare += t2 - t1
                size = max(size, len(body), len(body2))
    finally:
        for s in sessions:
            await s.close()
        for b in bare:
            b.close()
    n = rounds * len(ports)
    return cpu_aiohttp / n, cpu_bare / n, size


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
        per_aiohttp, per_bare, size = asyncio.run(_run(ports, a.rounds))
    finally:
        assert targets.stdin is not None
        targets.stdin.close()
        targets.wait(timeout=30)
    print(
        f"{a.rounds} rounds x {a.targets} targets, bodies of {size:,} B: loop-thread CPU per GET "
        f"aiohttp fetch {per_aiohttp * 1e3:.3f} ms, bare asyncio streams {per_bare * 1e3:.3f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
