"""Load through the router: ``python -m platforms.local.loadgen --router 127.0.0.1:P --apps a,b``.

One thread per app sends ``--rps`` requests per second (mixed routes: ``/``, ``/api/items``,
``/api/items/<id>``, ``POST /api/orders``) to the router with ``Host: <app>.local``, on a fixed schedule that
skips (never bursts) when requests are slow. Keep-alive connections, reopened after errors. Prints a summary
line per app every ``--report-s`` seconds. Stops on SIGTERM/SIGINT.

``--pattern daily --day-s 300 --peak-rps 40 --pattern-apps checkout``: those apps' rate follows a day in
compressed time instead (:func:`daily_shape`: night low, morning ramp, midday peak, afternoon decline,
evening drop), one simulated day every ``--day-s`` seconds from ``--day-offset-s`` into the day (the wall
clock: ``time.time() % day_s``, so every process agrees on the time of day). The others stay steady.
"""

from __future__ import annotations

import argparse
import bisect
import http.client
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from types import FrameType

__all__ = ["DAY_CURVE", "ROUTES", "AppLoad", "daily_rate", "daily_shape", "main", "parse_args"]

# (hour of day, share of the peak rate): piecewise linear between the points.
DAY_CURVE: tuple[tuple[float, float], ...] = (
    (0.0, 0.1), (6.0, 0.1), (9.0, 0.8), (12.0, 1.0), (14.0, 1.0), (18.0, 0.6), (22.0, 0.15), (24.0, 0.1),
)  # fmt: skip
_HOURS = [h for h, _ in DAY_CURVE]


def daily_shape(phase: float) -> float:
    """Share of the peak rate at ``phase`` of a day (0..1, wrapped): 0.1 at night, ramping from 06:00 to
    0.8 at 09:00, 1.0 from 12:00 to 14:00, then down to 0.15 at 22:00."""
    hour = (phase % 1.0) * 24.0
    i = max(1, bisect.bisect_right(_HOURS, hour))
    (h0, v0), (h1, v1) = DAY_CURVE[i - 1], DAY_CURVE[min(i, len(DAY_CURVE) - 1)]
    return v0 if h1 == h0 else v0 + (v1 - v0) * (hour - h0) / (h1 - h0)


def daily_rate(peak_rps: float, day_s: float, offset_s: float = 0.0) -> Callable[[float], float]:
    """Requests per second at wall-clock time ``t``: the day curve, one day every ``day_s`` seconds."""
    if day_s <= 0 or peak_rps <= 0:
        raise ValueError("day_s and peak_rps must be positive")
    return lambda t: peak_rps * daily_shape(((t + offset_s) % day_s) / day_s)


ROUTES: tuple[tuple[str, str, float], ...] = (
    ("GET", "/", 0.3),
    ("GET", "/api/items", 0.3),
    ("GET", "/api/items/{id}", 0.3),
    ("POST", "/api/orders", 0.1),
)


class AppLoad:
    """Load for one app; ``codes`` counts answers by status ("error" for connection failures)."""

    def __init__(
        self,
        host: str,
        port: int,
        app: str,
        rps: float,
        stop: threading.Event,
        *,
        timeout_s: float = 5.0,
        rate: Callable[[float], float] | None = None,
    ) -> None:
        """``rate(wall-clock time)``: requests per second now (default: ``rps`` all the time)."""
        self.host, self.port, self.app, self.rps = host, port, app, rps
        self.rate = rate
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

    def _interval(self) -> float:
        rps = self.rps if self.rate is None else self.rate(time.time())
        return 1.0 / max(rps, 0.01)

    def run(self) -> None:
        next_at = time.monotonic()
        while not self.stop.is_set():
            self._request()
            next_at += self._interval()
            now = time.monotonic()
            next_at = max(next_at, now)  # behind schedule: skip, never burst
            self.stop.wait(next_at - now)
        self._close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line, checked (argparse exits 2 naming the bad option)."""
    parser = argparse.ArgumentParser(prog="python -m platforms.local.loadgen", description=__doc__)
    parser.add_argument("--router", required=True, help="host:port of the router's frontend")
    parser.add_argument("--apps", required=True, help="comma-separated app names")
    parser.add_argument("--rps", type=float, default=15.0, help="requests per second per app")
    parser.add_argument("--report-s", type=float, default=30.0)
    parser.add_argument("--pattern", choices=("steady", "daily"), default="steady")
    parser.add_argument("--day-s", type=float, default=300.0, help="daily: seconds per simulated day")
    parser.add_argument("--day-offset-s", type=float, default=0.0, help="daily: shift of the day curve")
    parser.add_argument("--peak-rps", type=float, default=40.0, help="daily: rate at the midday peak")
    parser.add_argument("--pattern-apps", default="", help="daily: these apps only (default: all)")
    args = parser.parse_args(argv)
    if args.pattern == "daily" and (args.day_s < 10 or not 0 < args.peak_rps <= 10_000):
        parser.error("--day-s must be at least 10 and --peak-rps in (0, 10000]")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    host, _, port = args.router.rpartition(":")
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    apps = [a for a in args.apps.split(",") if a]
    shaped = {a for a in args.pattern_apps.split(",") if a} or set(apps)
    rate = daily_rate(args.peak_rps, args.day_s, args.day_offset_s) if args.pattern == "daily" else None
    loads = [
        AppLoad(host, int(port), app, args.rps, stop, rate=rate if app in shaped else None) for app in apps
    ]
    threads = [threading.Thread(target=load.run, name=load.app, daemon=True) for load in loads]
    for t in threads:
        t.start()
    print(
        f"loadgen: {args.rps:g} req/s per app to {args.router} for {', '.join(a.app for a in loads)}",
        flush=True,
    )
    if rate is not None:
        print(
            f"loadgen: daily pattern (peak {args.peak_rps:g} req/s, a day every {args.day_s:g}s) for "
            f"{', '.join(sorted(shaped))}",
            flush=True,
        )
    while not stop.wait(args.report_s):
        for load in loads:
            print(f"loadgen: {load.app}: {dict(sorted(load.codes.items()))}", flush=True)
    for t in threads:
        t.join(10)


if __name__ == "__main__":
    main()
