"""Static targets from the config (``type: static``)."""

from __future__ import annotations

from collector.config import StaticJob
from collector.discovery.base import Publish, TargetGroup

__all__ = ["StaticDiscoverer"]


class StaticDiscoverer:
    """Publishes the job's ``targets`` once, with the job's ``labels`` as group labels."""

    def __init__(self, job: StaticJob) -> None:
        self._group = TargetGroup(
            source=f"static:{job.name}",
            targets=tuple({"__address__": t} for t in job.targets),
            labels=dict(job.labels),
        )

    async def run(self, publish: Publish) -> None:
        publish([self._group])
