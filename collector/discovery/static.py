"""Static targets from the config (``type: static``)."""

from __future__ import annotations

from collector.config import StaticGroup, StaticJob
from collector.discovery.base import Discoverer, Publish, TargetGroup

__all__ = ["StaticDiscoverer", "WithStaticGroups", "static_groups"]


def static_groups(job_name: str, static_configs: list[StaticGroup]) -> list[TargetGroup]:
    """One group per ``static_configs`` entry."""
    return [
        TargetGroup(
            source=f"static:{job_name}[{i}]",
            targets=tuple({"__address__": t} for t in group.targets),
            labels=dict(group.labels),
        )
        for i, group in enumerate(static_configs)
    ]


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
        self._groups += static_groups(job.name, job.static_configs)

    async def run(self, publish: Publish) -> None:
        publish(self._groups)


class WithStaticGroups:
    """Another discoverer's groups plus fixed ones (a Prometheus job with file_sd_configs and
    static_configs): every publication carries both."""

    def __init__(self, inner: Discoverer, groups: list[TargetGroup]) -> None:
        self._inner, self._groups = inner, groups

    async def run(self, publish: Publish) -> None:
        await self._inner.run(lambda found: publish([*self._groups, *found]))
