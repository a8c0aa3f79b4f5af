"""Continuous traffic through the local router for the live deployment/rollback/restart tests: a client on a
thread counting every answer's status (or the transport error's name) by phase, so a test can assert that no
phase saw anything but 200."""

from __future__ import annotations

import collections
import threading
import time

import httpx

from tests.platforms.conftest import RunningPlatform
from tests.support.servers import wait_until


class RouterTraffic:
    """A client looping through the router to ``app`` on a thread until stopped: the status of every answer by
    phase, or the transport error's name (an answer cut short, or the router itself restarting and refusing
    connections: counted apart from HTTP statuses)."""

    def __init__(self, p: RunningPlatform, app: str) -> None:
        self.codes: dict[str, collections.Counter[int | str]] = collections.defaultdict(collections.Counter)
        self.phase = "before"
        self._host = f"{app}.local"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(p.router,), daemon=True)

    def _run(self, router: str) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                try:
                    resp = client.get(router, headers={"Host": self._host, "Connection": "close"})
                except httpx.TransportError as exc:
                    self.codes[self.phase][type(exc).__name__] += 1
                    time.sleep(0.01)  # a refused connection returns at once: do not spin
                else:
                    self.codes[self.phase][resp.status_code] += 1

    def answers(self, phase: str) -> int:
        """HTTP answers (any status) seen in ``phase``."""
        return sum(n for code, n in self.codes[phase].items() if isinstance(code, int))

    def http_codes(self) -> dict[str, dict[int, int]]:
        """HTTP statuses by phase, transport errors left out."""
        return {
            phase: {c: n for c, n in codes.items() if isinstance(c, int)}
            for phase, codes in self.codes.items()
        }

    def __enter__(self) -> RouterTraffic:
        self._thread.start()
        wait_until(lambda: self.answers("before") > 0, 10, "traffic through the router")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
