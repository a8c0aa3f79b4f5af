"""Seam between Paramedic and an application platform (local supervisord+HAProxy, Cloud Foundry, ...).

Platform adapters are leaves: the collector uses ``discover`` to learn scrape targets, remediation (a later
issue) uses the action methods added to this Protocol then. Adapters must be safe to call from any thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["DiscoveredTarget", "Platform", "PlatformError"]


class PlatformError(Exception):
    """Base of every error a platform adapter raises; the platform API's own error is chained."""


@dataclass(frozen=True, slots=True)
class DiscoveredTarget:
    """A scrape target the platform knows about.

    ``url`` is the full metrics URL (scheme, host:port, path). ``labels`` are target labels to attach to every
    series scraped from it: at least ``job`` (``router``, ``node``, ``app``, ...); app instance targets carry
    ``app`` (the app's name) and ``app_instance`` (the instance index); targets also carry platform metadata
    as ``__meta_<platform>_*`` labels that relabeling can use and that are dropped after relabeling.
    """

    url: str
    labels: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Platform(Protocol):
    name: str

    def discover(self) -> list[DiscoveredTarget]:
        """Every scrape target that exists now. Raises PlatformError when the platform API fails."""
        ...
