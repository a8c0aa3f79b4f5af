"""The samples and steps all in-flight queries of one engine may hold together (``max_inflight_samples``).

``max_samples`` bounds one query; twenty of them at once (``max_concurrency``) could still hold 20 x 50M
steps at ~70 bytes each (the evaluator's arrays per step and node), 65 GB. A :class:`SampleBudget` is a pool
shared by the queries of one engine: a query reserves its step budget (``_cost``) before anything is
allocated, then the samples it reads as they arrive, and gives everything back when it ends. A reservation
that does not fit waits for other queries to finish, until the query's deadline (then
:class:`QueryBusyError`, 503); one larger than the whole pool is refused at once
(:class:`TooManySamplesError`). Thread-safe.

A budget may have a ``parent`` (a tenant scope's share of the API's pool): a take is then held in both, the
child's first; a child with a ``refuse`` error never waits: what does not fit in it raises that error at once
(the parent still waits as above).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from metrics_store.promql.errors import QueryBusyError, QueryError, TooManySamplesError

__all__ = ["Reservation", "SampleBudget"]


class SampleBudget:
    def __init__(
        self,
        capacity: int,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        parent: SampleBudget | None = None,
        refuse: Callable[[], QueryError] | None = None,
    ) -> None:
        self.capacity = capacity
        self._monotonic = monotonic
        self._parent = parent
        self._refuse = refuse
        self._held = 0
        self._changed = threading.Condition()

    @property
    def held(self) -> int:
        """Samples and steps reserved by the queries in flight."""
        with self._changed:
            return self._held

    def reservation(self, deadline: float) -> Reservation:
        """A reservation of nothing yet for one query that must have what it takes by ``deadline``
        (a value of ``monotonic``); release it when the query ends."""
        return Reservation(self, deadline)

    def _take(self, n: int, already: int, deadline: float) -> None:
        self._take_own(n, already, deadline)
        if self._parent is not None:
            try:
                self._parent._take(n, already, deadline)
            except BaseException:
                self._give_back_own(n)
                raise

    def _take_own(self, n: int, already: int, deadline: float) -> None:
        if already + n > self.capacity:
            raise TooManySamplesError if self._refuse is None else self._refuse()
        with self._changed:
            if self._refuse is not None and self._held + n > self.capacity:
                raise self._refuse()
            while self._held + n > self.capacity:
                left = deadline - self._monotonic()
                if left <= 0:
                    raise QueryBusyError
                self._changed.wait(left)
            self._held += n

    def _give_back(self, n: int) -> None:
        self._give_back_own(n)
        if self._parent is not None:
            self._parent._give_back(n)

    def _give_back_own(self, n: int) -> None:
        with self._changed:
            self._held -= n
            self._changed.notify_all()


class Reservation:
    """What one query holds of a :class:`SampleBudget`; used by that query's thread only."""

    def __init__(self, budget: SampleBudget, deadline: float) -> None:
        self._budget = budget
        self._deadline = deadline
        self.held = 0

    def take(self, n: int) -> None:
        """Add ``n`` samples or steps, waiting for room until the deadline (see the module doc)."""
        if n <= 0:
            return
        self._budget._take(n, self.held, self._deadline)
        self.held += n

    def release(self) -> None:
        """Give back everything held; idempotent."""
        held, self.held = self.held, 0
        if held:
            self._budget._give_back(held)
