"""The remediation service: policies -> engine (rails, actions, verification, audit) over the platform.

Built from ``remediation:`` and the platform adapter. The engine subscribes to alerts: the rule manager sends
every alert to the dispatcher *and* to the engine (``AlertingService(extra_sinks=[engine])``); escalations and
pending approvals come back as alerts into the dispatcher, so they are routed, grouped and emailed like any
other alert. Approval requests carry no signed links: :attr:`RemediationService.approval_links` mints them
into the email or webhook body only, once subscribed to the notifiers (``AlertingService.approval_links``).
Verification and blue-green judgement query the metrics store through a PromQL engine.

Tenancy: each action is stamped with its target app's org/space by the platform adapter's ``tenant_of``
when it implements :class:`platforms.base.TenantResolver` (Cloud Foundry, and the local platform from
``platform.spaces``; otherwise the alert's labels); the router filters every answer by the request's scope
(see ``remediation.api``).

Start: after alerting (so its alerts find a running engine) and before the collector; the engine first
recovers actions a crash interrupted. Stop: before alerting; running actions get a bounded time to finish.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter
from prometheus_client import CollectorRegistry

from alerting.base import AlertSink, ApprovalLinks
from metrics_store.base import MetricsStore
from metrics_store.config import DEFAULT_QUERY_LIMITS, QueryLimits
from metrics_store.promql import Engine
from metrics_store.promql.semantics import PROMETHEUS_3, Semantics
from metrics_store.promql.values import Matrix, Scalar, Vector
from platforms.base import Remediable
from remediation.api import actions_router
from remediation.approval import ApprovalSigner
from remediation.audit import SqliteAuditLog
from remediation.audit.fenced import FencedAuditLog
from remediation.base import RemediationError
from remediation.config import Policy, RemediationConfig
from remediation.engine import RemediationEngine
from remediation.policy.loader import load_policy_files
from remediation.policy.schedule import PolicyScheduler
from remediation.predictive.live import PredictiveScaler
from remediation.predictive.live_history import StoreLoadHistory

__all__ = ["RemediationService", "RemediationSetupError"]

log = logging.getLogger("paramedic.remediation")


class RemediationSetupError(RemediationError):
    """The remediation section cannot be served: the platform does not support actions."""


def _resolve(base_dir: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else base_dir / p


class _StoreQueries:
    """Instant and range PromQL over the metrics store, in a thread (the engine is synchronous)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def query(self, expr: str) -> list[tuple[dict[str, str], float]]:
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        value = await asyncio.to_thread(self._engine.instant_query, expr, now_ms)
        if isinstance(value, Vector):
            return [(dict(s.labels), s.value) for s in value.samples]
        if isinstance(value, Scalar):
            return [({}, value.value)]
        return []

    async def query_range(
        self, expr: str, start: datetime, end: datetime, step_s: float
    ) -> list[tuple[dict[str, str], list[tuple[float, float]]]]:
        value: Matrix = await asyncio.to_thread(
            self._engine.range_query,
            expr,
            int(start.timestamp() * 1000),
            int(end.timestamp() * 1000),
            max(1, int(step_s * 1000)),
        )
        return [
            (dict(s.labels), [(t / 1000.0, v) for t, v in zip(s.timestamps_ms, s.values, strict=True)])
            for s in value.series
        ]


def load_policies(cfg: RemediationConfig, base_dir: Path) -> list[Policy]:
    return list(load_policy_files([_resolve(base_dir, f) for f in cfg.policy_files]))


class RemediationService:
    """Engine + audit trail + API for one config. ``notify`` receives escalations and approval requests."""

    def __init__(  # noqa: PLR0913 - one config section and its collaborators, keyword-only
        self,
        cfg: RemediationConfig,
        *,
        base_dir: Path,
        platform: object,
        store: MetricsStore,
        notify: AlertSink | None,
        external_url: str,
        registry: CollectorRegistry,
        query_limits: QueryLimits = DEFAULT_QUERY_LIMITS,
        audit: FencedAuditLog | None = None,
        semantics: Semantics = PROMETHEUS_3,
    ) -> None:
        """``audit`` (several replicas): the shared fenced journal instead of the local SQLite trail."""
        if not isinstance(platform, Remediable):
            kind = type(platform).__name__ if platform is not None else "none"
            raise RemediationSetupError(
                f"remediation: needs a platform that supports actions (platform: section); got {kind}"
            )
        self.config = cfg
        self.base_dir = base_dir
        self.data_dir = _resolve(base_dir, cfg.data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.audit: SqliteAuditLog | FencedAuditLog = (
            audit if audit is not None else SqliteAuditLog(self.data_dir / "audit.sqlite")
        )
        queries = _StoreQueries(
            Engine.from_limits(store, query_limits, registry=CollectorRegistry(), semantics=semantics)
        )
        self.signer = ApprovalSigner.from_data_dir(self.data_dir)
        policies = load_policies(cfg, base_dir)
        self.engine = RemediationEngine(
            policies,
            platform,
            self.audit,
            global_rails=cfg.global_rails,
            query=queries.query,
            query_range=queries.query_range,
            notify=notify,
            approval_signer=self.signer,
            external_url=external_url,
            registry=registry,
            retries=cfg.platform_retries,
            backoff_s=cfg.platform_backoff_s,
            mode_overrides_path=self.data_dir / "modes.json",
        )
        self.scheduler = PolicyScheduler(policies, self.engine.submit)
        self.predictive = PredictiveScaler(
            policies,
            self.engine.submit,
            StoreLoadHistory(store, query_limits),
            lambda app: len(platform.app_instances(app)),
            registry=registry,
            mode_of=self.engine.policy_mode,
        )

    @property
    def sink(self) -> AlertSink:
        return self.engine

    @property
    def approval_links(self) -> ApprovalLinks | None:
        """Mints the signed approve/reject links into notifications (subscribe it to alerting's notifiers)."""
        return self.engine.approval_links

    def router(self) -> APIRouter:
        return actions_router(self.engine, signer=self.signer)

    async def start(self) -> None:
        recovered = await self.engine.recover()
        await self.engine.start()
        await self.scheduler.start()
        await self.predictive.start()
        live = sum(p.mode == "live" for p in self.engine.policies())
        scoped = sum(not p.scope.is_foundation for p in self.engine.policies())
        log.info(
            "remediation started: %d policies (%d live, %d space policies), %d interrupted actions recovered",
            len(self.engine.policies()),
            live,
            scoped,
            len(recovered),
        )

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.predictive.stop()
        await self.engine.stop()
        self.audit.close()
        log.info("remediation stopped")

    def apply_config(self, cfg: RemediationConfig) -> None:
        """Reload the policy files (a bad file keeps the running policies: the caller logs the error)."""
        policies = load_policies(cfg, self.base_dir)
        self.engine.apply_policies(policies)
        self.config = cfg
        # Scheduled policies: the scheduler is rebuilt on the next start; log what changed meanwhile.
        if any(p.trigger.schedule is not None or p.predictive is not None for p in policies):
            log.warning(
                "scheduled and predictive policies reload on restart; alert-triggered policies reloaded now"
            )
