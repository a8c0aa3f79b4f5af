"""Seam between target discovery and the scrape manager.

Ownership: a :class:`Discoverer` owns one job's view of "which targets exist now". It publishes the *full*
list of target groups every time that list changes (never deltas); the manager owns everything after that
(relabeling, scrape loops, staleness of removed targets).

Async safety: ``run`` executes on the manager's event loop; a discoverer must off-load blocking I/O (file
reads, platform API calls) to a worker thread. ``publish`` is a plain, non-blocking callback, called only
from the event loop. ``run`` returns or is cancelled when the job goes away.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["Discoverer", "Publish", "TargetGroup"]


@dataclass(frozen=True, slots=True)
class TargetGroup:
    """Targets sharing ``labels``, as in Prometheus' ``targetgroup.Group``.

    Each target is a label mapping with at least ``__address__`` (it may carry ``__scheme__``,
    ``__metrics_path__``, ``__param_*`` and ``__meta_*``). A target's own labels win over the group's.
    ``source`` names where the group came from (``file:/etc/targets.json[2]``) for errors and logs.
    """

    source: str
    targets: tuple[Mapping[str, str], ...]
    labels: Mapping[str, str] = field(default_factory=dict)


Publish = Callable[[list[TargetGroup]], None]


@runtime_checkable
class Discoverer(Protocol):
    async def run(self, publish: Publish) -> None:
        """Publish the current groups, then again whenever they change, until cancelled."""
        ...
