"""Steady load through the router: ``python -m platforms.local.loadgen --router 127.0.0.1:P --apps a,b``.

One thread per app sends ``--rps`` requests per second (mixed routes: ``/``, ``/api/items``,
``/api/items/<id>``, ``POST /api/orders``) to the router with ``Host: <app>.local``, on a fixed schedule that
skips (never bursts) when requests are slow. Keep-alive connections, reopened after errors. Prints a summary
line per app every ``--report-s`` seconds. Stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import http.client
import random
import signal
import threading
import time
from collections import Counter
from types import FrameType

__all__ = ["ROUTES", "AppLoad", "main"]

ROUTES: tuple[tuple[str, str, float], ...] = (
    ("GET", "/", 0.3),
    ("GET", "/api/items", 0.3),
    ("GET", "/api/items/{id}", 0.3),
    ("POST", "/api/orders", 0.1),
)


class AppLoad:
    """Load for one app; ``codes`` counts answers by status ("error" for connection failures)."""

    def __init__(
        self, host: str, port: int, app: str, rps: float, stop: threading.Event, *, timeout_s: float = 5.0
    ) -> None:
        self.host, self.port, self.app, self.rps = host, port, app, rps
        self.stop = stop
        self.timeout_s = timeout_s
        self.codes: Counter[str] = Counter()
        self._rng = random.Random(app)  # noqa: S311 -- load mix, not cryptography
        self._conn: http.client.HTTPConnection | None = None

    def _request(self) -> None:
        method, path, _ = self._rng.choices(ROUTES, weights=[w for *_, w in ROUTES])[0]
        path = path.replace("{id}", str(self._rng.randrange(1100)))
        body = b'{"item": 1, "qty": 2}' if method == "POST" else None
        headers = {"Host": f"{self.app}.local", "Content-Type": "application/json"}
        try:
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            self._conn.request(method, path, body=body, headers=headers)
            resp = self._conn.getresponse()
            resp.read()
            self.codes[str(resp.status)] += 1
            if resp.getheader("Connection", "").lower() == "close":
                self._close()
        except (OSError, http.client.HTTPException):
            self.codes["error"] += 1
            self._close()

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def run(self) -> None:
        interval = 1.0 / self.rps
        next_at = time.monotonic()
        while not self.stop.is_set():
            self._request()
            next_at += interval
            now = time.monotonic()
            next_at = max(next_at, now)  # behind schedule: skip, never burst
            self.stop.wait(next_at - now)
        self._close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m platforms.local.loadgen", description=__doc__)
    parser.add_argument("--router", required=True, help="host:port of the router's frontend")
    parser.add_argument("--apps", required=True, help="comma-separated app names")
    parser.add_argument("--rps", type=float, default=15.0, help="requests per second per app")
    parser.add_argument("--report-s", type=float, default=30.0)
    args = parser.parse_args(argv)
    host, _, port = args.router.rpartition(":")
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    loads = [AppLoad(host, int(port), app, args.rps, stop) for app in args.apps.split(",") if app]
    threads = [threading.Thread(target=load.run, name=load.app, daemon=True) for load in loads]
    for t in threads:
        t.start()
    print(
        f"loadgen: {args.rps:g} req/s per app to {args.router} for {', '.join(a.app for a in loads)}",
        flush=True,
    )
    while not stop.wait(args.report_s):
        for load in loads:
            print(f"loadgen: {load.app}: {dict(sorted(load.codes.items()))}", flush=True)
    for t in threads:
        t.join(10)


if __name__ == "__main__":
    main()
