"""The views of each platform type, in one table keyed by the config ``type`` (see :mod:`dashboard.spec`).

The wiring calls :func:`views_for` with the configured platform type and hands the result to
:func:`dashboard.dashboard_router`; no page knows any platform's metric names.
"""

from __future__ import annotations

from collections.abc import Callable

from dashboard.base import PlatformViews
from dashboard.views_cf import DEFAULT_MEMORY_CHUNK_MIB, CloudFoundryViews
from dashboard.views_local import LocalViews

__all__ = ["VIEWS", "ViewsBuilder", "views_for"]

ViewsBuilder = Callable[[int], PlatformViews]  # memory chunk size (MiB) -> views

VIEWS: dict[str, ViewsBuilder] = {
    "local": lambda _chunk: LocalViews(),
    "cloudfoundry": lambda chunk: CloudFoundryViews(memory_chunk_mib=chunk),
}


def views_for(
    platform_type: str | None, *, memory_chunk_mib: int = DEFAULT_MEMORY_CHUNK_MIB
) -> PlatformViews:
    """The views of ``platform_type`` (None, no platform configured: the local views, whose queries fit any
    Prometheus-style scrape of HAProxy and node exporter). Raises ValueError for a type with no views."""
    if platform_type is None:
        return LocalViews()
    builder = VIEWS.get(platform_type)
    if builder is None:
        raise ValueError(f"no dashboard views for platform type {platform_type!r} (known: {sorted(VIEWS)})")
    return builder(memory_chunk_mib)
