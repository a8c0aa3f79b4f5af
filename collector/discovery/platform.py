"""Targets from the platform adapter (``type: platform``): ``Platform.discover()`` every refresh interval.

``discover`` is blocking (HTTP to the platform API, files, XML-RPC), so it runs in a worker thread. A failing
or hanging call keeps the last good targets; the failure is logged once per change of the error text.
A ``DiscoveredTarget.url`` becomes ``__scheme__``, ``__address__``, ``__metrics_path__`` and ``__param_*``;
its labels become target labels (``__meta_*`` ones are available to relabel_configs, then dropped).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

from collector.discovery.base import Publish, TargetGroup
from collector.errors import DiscoveryError
from platforms.base import DiscoveredTarget, Platform, PlatformError

__all__ = ["PlatformDiscoverer", "target_labels_from_url"]

log = logging.getLogger("collector.discovery")


def target_labels_from_url(target: DiscoveredTarget) -> dict[str, str]:
    """The label set of one discovered target: URL parts as ``__`` labels plus the target's labels."""
    parts = urlsplit(target.url)
    if not parts.netloc or parts.scheme not in ("http", "https"):
        raise DiscoveryError(f"discovered target {target.url!r} is not an http(s) URL with a host")
    labels = {
        "__scheme__": parts.scheme,
        "__address__": parts.netloc,
        "__metrics_path__": parts.path or "/metrics",
    }
    for key, value in parse_qsl(parts.query):
        labels.setdefault(f"__param_{key}", value)
    labels.update(target.labels)
    return labels


class PlatformDiscoverer:
    """Polls ``platform.discover()``; publishes when the set of targets changes."""

    def __init__(
        self,
        platform: Platform,
        refresh_interval_s: float,
        *,
        call_timeout_s: float = 30.0,
        on_error: Callable[[DiscoveryError], None] | None = None,
    ) -> None:
        self._platform = platform
        self._interval = refresh_interval_s
        self._call_timeout = call_timeout_s
        self._on_error = on_error
        self._last_error: str | None = None
        self._pending: asyncio.Future[list[DiscoveredTarget]] | None = None

    @property
    def last_error(self) -> str | None:
        return self._last_error

    async def _discover(self) -> list[TargetGroup]:
        if self._pending is None or self._pending.done():
            self._pending = asyncio.ensure_future(asyncio.to_thread(self._platform.discover))
        name = self._platform.name
        try:
            found = await asyncio.wait_for(asyncio.shield(self._pending), self._call_timeout)
        except TimeoutError as exc:
            raise DiscoveryError(f"platform {name}: discover() took over {self._call_timeout}s") from exc
        except PlatformError as exc:
            raise DiscoveryError(f"platform {name}: {exc}") from exc
        groups = []
        for i, target in enumerate(found):
            try:
                labels = target_labels_from_url(target)
            except DiscoveryError as exc:
                raise DiscoveryError(f"platform {name}: target [{i}]: {exc}") from exc
            groups.append(TargetGroup(source=f"platform:{name}[{i}]", targets=(labels,)))
        return groups

    async def run(self, publish: Publish) -> None:
        last: list[tuple[tuple[str, str], ...]] | None = None
        while True:
            try:
                groups = await self._discover()
            except DiscoveryError as exc:
                if self._on_error is not None:
                    self._on_error(exc)
                if str(exc) != self._last_error:
                    log.error("discovery failed, keeping the last targets: %s", exc)
                    self._last_error = str(exc)
            else:
                if self._last_error is not None:
                    log.info("platform %s: discovery recovered", self._platform.name)
                    self._last_error = None
                key = [tuple(sorted(g.targets[0].items())) for g in groups]
                if key != last:
                    last = key
                    publish(groups)
            await asyncio.sleep(self._interval)
