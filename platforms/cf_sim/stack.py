"""``CFStack``: the whole simulated foundation - Cloud Controller and UAA (:mod:`.runner`) over the real local
platform, plus the metrics side (:mod:`.log_cache_service`: Log Cache, gorouter and Diego metrics, component
KPIs, syslog drains). What the demo and the end-to-end tests start.

Log Cache accepts only bearer tokens the simulated UAA signed (checked with its key); syslog drains send
every app's logs (and the router's access lines) to the given ``syslog://host:port`` URLs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import prometheus_client
from prometheus_client import CollectorRegistry

from platforms.cf_sim.log_cache_service import CFMetrics, CFMetricsConfig, start_metrics
from platforms.cf_sim.rep import DiegoConfig
from platforms.cf_sim.runner import SimOptions, SimulatedFoundation
from platforms.cf_sim.syslog_drain import DrainBinding

__all__ = ["CFStack", "StackOptions"]


@dataclass(frozen=True, slots=True)
class StackOptions:
    """``sim``: CC/UAA and local platform options; ``drain_urls``: syslog drains every app is bound to;
    ``metrics_interval_s``: how often the producers sample; ``diego``: the simulated cells."""

    sim: SimOptions = field(default_factory=SimOptions)
    drain_urls: tuple[str, ...] = ()
    metrics_interval_s: float = 1.0
    diego: DiegoConfig = field(default_factory=DiegoConfig)


class CFStack:
    """``with CFStack(root) as cf: cf.sim.cc_url, cf.metrics.log_cache_url``; stops in reverse order."""

    def __init__(
        self,
        root: Path,
        options: StackOptions | None = None,
        *,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
    ) -> None:
        self.root = root
        self.options = options or StackOptions()
        self.registry = registry
        self.sim = SimulatedFoundation(root, self.options.sim, registry=registry)
        self.metrics: CFMetrics | None = None

    def _verify(self, token: str) -> bool:
        issuer = self.sim.issuer
        if issuer is None:
            return False
        try:
            issuer.verify(token)
        except Exception:  # any invalid token (signature, expiry, garbage) is a 401, never a 500
            return False
        return True

    def start(self) -> CFStack:
        self.sim.start()
        try:
            assert self.sim.platform is not None  # started
            drains = tuple(
                DrainBinding(app.guid, url)
                for app in self.sim.foundation.apps
                for url in self.options.drain_urls
            )
            config = CFMetricsConfig(
                drains=drains, diego=self.options.diego, interval_s=self.options.metrics_interval_s
            )
            self.metrics = start_metrics(
                self.sim.platform,
                self.sim.foundation,
                work_dir=self.root / "metrics",
                verify_token=self._verify,
                registry=self.registry,
                config=config,
            )
        except BaseException:
            self.stop()
            raise
        return self

    def credentials(self) -> dict[str, object]:
        """The simulator's credentials (:meth:`SimulatedFoundation.credentials`) plus the Log Cache and
        gorouter metrics URLs."""
        out = self.sim.credentials()
        if self.metrics is not None:
            out["log_cache_url"] = self.metrics.log_cache_url
            out["gorouter_metrics_url"] = self.metrics.gorouter_metrics_url
        return out

    def stop(self) -> None:
        if self.metrics is not None:
            self.metrics.stop()
            self.metrics = None
        self.sim.stop()

    def __enter__(self) -> CFStack:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
