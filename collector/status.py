"""What the collector reports about its targets (``/api/v1/targets``) and itself (health check)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from metrics_store.model import Labels

__all__ = ["CollectorHealth", "TargetStatus"]


@dataclass(frozen=True, slots=True)
class TargetStatus:
    """A snapshot of one active target. ``health`` is ``up``, ``down`` or ``unknown`` (not scraped yet)."""

    job: str
    scrape_url: str
    global_url: str
    labels: Labels
    discovered_labels: Labels
    health: str
    last_error: str
    last_scrape: datetime | None
    last_scrape_duration_s: float
    interval_s: float
    timeout_s: float


@dataclass(frozen=True, slots=True)
class CollectorHealth:
    """``ok`` is false when the manager is not running or discovery of some job is failing."""

    ok: bool
    running: bool
    targets_up: int
    targets_down: int
    targets_unknown: int
    discovery_errors: dict[str, str] = field(default_factory=dict)
