"""Seam of the collector: where samples come from.

A :class:`MetricSource` writes samples into the :class:`~metrics_store.base.Appender` it was built with
(I/O injected through the constructor) from the moment :meth:`~MetricSource.start` returns until
:meth:`~MetricSource.stop` returns. Kinds of source: the scrape manager (one loop per discovered target,
:class:`collector.manager.ScrapeManager`), pollers a platform offers (Cloud Foundry's Log Cache,
:class:`platforms.cloudfoundry.log_cache.LogCacheSource`, offered through
:func:`platforms.factory.platform_sources`), and the push receivers (remote write, OTLP/HTTP:
:class:`collector.push.ingest.PushIngest`, fed by the routes of :mod:`collector.push.api`).

Ownership: the source owns its tasks, threads, HTTP clients and ref caches (refs are per appender, never
shared with another source); the wiring (``paramedic/assembly.py``) owns the appender and starts every
source after the store and its consumers, and stops every source before them, in reverse start order.

Async safety: ``start`` and ``stop`` run on the server's event loop; both are idempotent, and ``stop`` is
safe without a ``start``. The appender may be called from any thread of the source.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["MetricSource"]


@runtime_checkable
class MetricSource(Protocol):
    async def start(self) -> None:
        """Start feeding the appender on the running event loop (work runs in tasks/threads of the source's
        own); returns without waiting for the first samples. Calling it again while running does nothing."""
        ...

    async def stop(self) -> None:
        """Stop feeding: when this returns no new scrape or poll starts and the source's clients are closed
        (the scrape manager also waits for appends in flight; a Log Cache poll already in its worker thread
        may still finish its append). Idempotent, and safe without a ``start``."""
        ...
