"""Where the CPU-heavy part of a log query runs: the seam between the HTTP API and the search store.

:class:`SearchExecutor` is what :class:`log_pipeline.api.LogsHandlers` awaits for a search, histogram or
context. Implementations:

* :class:`ThreadSearchExecutor` — threads of this process at a lower CPU priority
  (:class:`metrics_store.background.BackgroundPool`): any store, but the work shares the server's GIL;
* :class:`log_pipeline.search.workers.SearchWorkerPool` — worker processes that open the embedded store
  read-only: the work holds no lock the server needs (the default for ``type: embedded``).

Threads: the handlers call from the event loop; implementations take concurrent calls.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from log_pipeline.config import SearchApiConfig
from log_pipeline.search.base import Bucket, SearchStore
from log_pipeline.search.render import Body, SearchArgs, context_body, search_body
from metrics_store.background import BackgroundPool
from platforms.tenancy import FOUNDATION, Scope

__all__ = ["SearchExecutor", "ThreadSearchExecutor"]


@runtime_checkable
class SearchExecutor(Protocol):
    """Every call carries the reader's tenant ``scope`` down to the store (into a worker process too)."""

    async def search_body(
        self,
        args: SearchArgs,
        highlight: bool,
        limits: SearchApiConfig,
        *,
        gzip_ok: bool = False,
        scope: Scope = FOUNDATION,
    ) -> Body:
        """The JSON body of ``/api/v1/logs/search`` (:func:`log_pipeline.search.render.search_body`);
        ``gzip_ok``: the client takes gzip (an implementation may then compress it, and says so)."""
        ...

    async def histogram(
        self, query: str, start_ns: int, end_ns: int, step_ns: int, *, scope: Scope = FOUNDATION
    ) -> list[Bucket]:
        """:meth:`SearchStore.histogram <log_pipeline.search.base.SearchStore.histogram>`."""
        ...

    async def context_body(
        self,
        record_id: str,
        before: int,
        after: int,
        limits: SearchApiConfig,
        *,
        gzip_ok: bool = False,
        scope: Scope = FOUNDATION,
    ) -> Body:
        """The JSON body of ``/api/v1/logs/context`` (:func:`log_pipeline.search.render.context_body`)."""
        ...


class ThreadSearchExecutor:
    """Runs every call over ``store`` in ``pool``'s threads (the pool's owner closes it). Bodies come back
    uncompressed (the server's GZipMiddleware compresses them)."""

    def __init__(self, store: SearchStore, pool: BackgroundPool) -> None:
        self._store = store
        self._pool = pool

    async def search_body(
        self,
        args: SearchArgs,
        highlight: bool,
        limits: SearchApiConfig,
        *,
        gzip_ok: bool = False,
        scope: Scope = FOUNDATION,
    ) -> Body:
        return Body(await self._pool.run(lambda: search_body(self._store, args, highlight, limits, scope)))

    async def histogram(
        self, query: str, start_ns: int, end_ns: int, step_ns: int, *, scope: Scope = FOUNDATION
    ) -> list[Bucket]:
        return await self._pool.run(
            lambda: self._store.histogram(query, start_ns, end_ns, step_ns, scope=scope)
        )

    async def context_body(
        self,
        record_id: str,
        before: int,
        after: int,
        limits: SearchApiConfig,
        *,
        gzip_ok: bool = False,
        scope: Scope = FOUNDATION,
    ) -> Body:
        return Body(
            await self._pool.run(lambda: context_body(self._store, record_id, before, after, limits, scope))
        )
