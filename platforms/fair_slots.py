"""Admission of costly reads shared by tenants: at most ``total`` at once and ``per_scope`` per tenant scope
(:attr:`platforms.tenancy.Scope.key`: every principal scoped to the same orgs/spaces shares it, the
foundation-wide principals share ``""``), so one tenant asking in a loop cannot take every slot. Non-blocking:
a caller that gets no slot answers 429. Used by the report render API and the SLO API."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from platforms.tenancy import Scope

__all__ = ["FairSlots"]


class FairSlots:
    def __init__(self, total: int, per_scope: int = 1) -> None:
        if total < 1 or per_scope < 1:
            raise ValueError("total and per_scope must be >= 1")
        self.total, self.per_scope = total, per_scope
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}

    def acquire(self, scope: Scope) -> bool:
        """Take a slot of ``scope``; False (nothing taken) when it holds ``per_scope`` or all are taken."""
        with self._lock:
            held = self._held.get(scope.key, 0)
            if held >= self.per_scope or sum(self._held.values()) >= self.total:
                return False
            self._held[scope.key] = held + 1
            return True

    def release(self, scope: Scope) -> None:
        with self._lock:
            held = self._held.get(scope.key, 0) - 1
            if held > 0:
                self._held[scope.key] = held
            else:
                self._held.pop(scope.key, None)

    @contextmanager
    def held(self, scope: Scope) -> Iterator[bool]:
        """``with slots.held(scope) as ok:`` a slot for the body when ``ok``."""
        ok = self.acquire(scope)
        try:
            yield ok
        finally:
            if ok:
                self.release(scope)
