"""Static targets from the config (``type: static``)."""

from __future__ import annotations

from collector.config import StaticJob
from collector.discovery.base import Publish, TargetGroup

__all__ = ["StaticDiscoverer"]


class StaticDiscoverer:
    """Publishes the job's ``targets`` once, with the job's ``labels`` as group labels, then one group per
    ``static_configs`` entry."""

    def __init__(self, job: StaticJob) -> None:
        self._groups = (
            [
                TargetGroup(
                    source=f"static:{job.name}",
                    targets=tuple({"__address__": t} for t in job.targets),
                    labels=dict(job.labels),
                )
            ]
            if job.targets
            else []
        )
        self._groups += [
            TargetGroup(
                source=f"static:{job.name}[{i}]",
                targets=tuple({"__address__": t} for t in group.targets),
                labels=dict(group.labels),
            )
            for i, group in enumerate(job.static_configs)
        ]

    async def run(self, publish: Publish) -> None:
        publish(self._groups)
