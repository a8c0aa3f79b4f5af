"""Log-in throttling: failures counted per client address and per user name, with exponential lockouts.

After ``free_failures`` failed log-ins of one key (a client address, or a user name whether it exists or
not), each further failure locks that key out for ``initial_s``, doubling up to ``max_s``: with the defaults
(5, 1 s, 15 min) a guesser gets 5 tries, then 1 s, 2 s, 4 s, ... 15 min between tries. A locked-out log-in is
refused before any password is hashed. A success clears the user name's record (not the client's: one valid
account must not reset a guesser's address). A record idle for ``max_s`` after its last failure and lockout
is forgotten, and at most ``max_entries`` records are kept (the least recently used go first), so a spray of
made-up names costs bounded memory. The price of per-name lockouts: a guesser can keep a known name locked
out for up to ``max_s`` at a time (its owner can still use an API token). Thread-safe; the clock is injected.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LoginThrottle"]


@dataclass(slots=True)
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


class LoginThrottle:
    def __init__(
        self,
        *,
        free_failures: int = 5,
        initial_s: float = 1.0,
        max_s: float = 900.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures, self.initial_s, self.max_s = free_failures, initial_s, max_s
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._records: OrderedDict[tuple[str, str], _Record] = OrderedDict()

    def retry_after(self, client: str, user: str) -> float:
        """Seconds until ``client`` may try to log in as ``user`` again; 0 when it may now."""
        now = self._clock()
        with self._lock:
            waits = [
                r.locked_until - now for k in _keys(client, user) if (r := self._live(k, now)) is not None
            ]
        return max([0.0, *waits])

    def failure(self, client: str, user: str) -> None:
        now = self._clock()
        with self._lock:
            for key in _keys(client, user):
                record = self._live(key, now) or _Record()
                record.failures += 1
                record.last_failure = now
                over = record.failures - self.free_failures
                if over >= 0:
                    record.locked_until = now + min(self.initial_s * 2.0 ** min(over, 60), self.max_s)
                self._records[key] = record
                self._records.move_to_end(key)
            while len(self._records) > self.max_entries:
                self._records.popitem(last=False)

    def success(self, user: str) -> None:
        with self._lock:
            self._records.pop(("user", user), None)

    def _live(self, key: tuple[str, str], now: float) -> _Record | None:
        """The record of ``key``, dropped (None) once idle for ``max_s`` past its last failure and lockout."""
        record = self._records.get(key)
        if record is not None and now > max(record.locked_until, record.last_failure) + self.max_s:
            del self._records[key]
            return None
        return record


def _keys(client: str, user: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return ("client", client), ("user", user)
