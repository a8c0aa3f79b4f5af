"""The alerting service: rule engine -> dispatcher -> notifiers, built from ``rules:`` and ``alerting:``.

Rules are evaluated by a PromQL :class:`~metrics_store.promql.Engine` over the metrics store (recording
rules and ``ALERTS`` are written back to it) and send their alerts to the :class:`~alerting.dispatch.
Dispatcher`, which groups, routes, silences and inhibits them and notifies the receivers (email explained by a
:class:`~alerting.notify.QueryExplainer`: chart from the store, the app's log patterns from the log pipeline,
links to this server). Either section works alone: rules without ``alerting:`` only record and keep state;
``alerting:`` without rules is an Alertmanager that Prometheus (or anything speaking the v2 API) sends to.

Recent window (``rules.recent_window``, on by default): the service keeps the newest samples in memory
(:class:`~alerting.rules.RecentWindow`) and the rule engine reads them from there through a
per-cycle cache and the vectorised fast path; ranges the window does not cover fall back to the store, so
results are the store's. :attr:`AlertingService.appender` is the store with the window teed in: the
collector must append through it (the wiring does), and recording rules and ``ALERTS`` are written through
it too. Names written only to the store (the log pipeline's pattern counts) are read from the store. Email
charts query the store (their ranges are hours long); their PromQL metrics are ``paramedic_explain_promql_*``
when the window is on.

Start: dispatcher run loop -> rule manager (its first alerts find a running dispatcher). Stop: the reverse,
so the rule manager's final state is saved while the dispatcher can still take alerts. The whole service
starts after the metrics store and the logs and before the collector; it stops before both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from alerting.am_api import am_router
from alerting.anomaly import default_detector
from alerting.base import Notifier, NotifyFence, NotifyResult
from alerting.config import AlertingConfig, RulesConfig, notifier_config
from alerting.dispatch import Dispatcher, StateStore
from alerting.fanout import AlertFanout
from alerting.model import Notification
from alerting.notify import (
    ApprovalLinkProviders,
    DeliveryMetrics,
    NotifierDeps,
    QueryExplainer,
    build_notifier,
    deliver,
)
from alerting.notify.explain import PatternSource, PlatformEventReader
from alerting.rules import (
    CycleCache,
    RecentWindow,
    RuleError,
    RuleFileError,
    RuleManager,
    RuleOptions,
    WindowedQuerier,
    WindowTee,
)
from alerting.slo import Slo, SloFileError, load_slo_files, rules_yaml, slo_router
from metrics_store.base import Appender, MetricsStore
from metrics_store.config import DEFAULT_QUERY_LIMITS, QueryLimits
from metrics_store.promql import Engine
from metrics_store.promql.semantics import PROMETHEUS_3, Semantics
from metrics_store.redact import redacted_dump
from paramedic._rules_api import rules_router

__all__ = ["AlertingService", "load_slos", "rule_files"]

log = logging.getLogger("paramedic.alerting")


def _resolve(base_dir: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else base_dir / p


def rule_files(cfg: RulesConfig, base_dir: Path) -> list[str]:
    """Pack names (resolved by the rules package) then files made absolute against ``base_dir``, then the
    rules generated from ``slo_files`` (written next to the state file by :func:`load_slos`)."""
    out = [*cfg.packs, *(str(_resolve(base_dir, f)) for f in cfg.files)]
    if cfg.slo_files:
        out.append(str(_slo_rules_path(cfg, base_dir)))
    return out


def _slo_rules_path(cfg: RulesConfig, base_dir: Path) -> Path:
    return _resolve(base_dir, cfg.state_file).parent / "slo-rules.generated.yaml"


def load_slos(cfg: RulesConfig, base_dir: Path) -> list[Slo]:
    """The SLOs of ``rules.slo_files``; their rules are written where :func:`rule_files` lists them. A bad
    SLO file raises :class:`~alerting.rules.RuleFileError` (a RuleError: start fails, a reload is refused)."""
    if not cfg.slo_files:
        return []
    try:
        slos = load_slo_files([_resolve(base_dir, f) for f in cfg.slo_files])
    except SloFileError as exc:
        raise RuleFileError([str(p) for p in exc.problems]) from exc
    path = _slo_rules_path(cfg, base_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(rules_yaml(slos), encoding="utf-8")
    tmp.replace(path)
    return slos


class _Renamed:
    """A private registry's families re-exported with a name prefix: the rule engine's PromQL metrics appear
    as ``paramedic_rules_promql_*`` next to the query API's ``paramedic_promql_*`` (same families, so a plain
    second registration would collide)."""

    def __init__(self, source: CollectorRegistry, old: str, new: str) -> None:
        self._source, self._old, self._new = source, old, new

    def collect(self) -> Iterator[Metric]:
        for fam in self._source.collect():
            out = Metric(fam.name.replace(self._old, self._new, 1), fam.documentation, fam.type, fam.unit)
            out.samples = [
                smp._replace(name=smp.name.replace(self._old, self._new, 1)) for smp in fam.samples
            ]
            yield out

    def describe(self) -> Iterator[Metric]:
        return self.collect()


class AlertingService:
    """Dispatcher (with the Alertmanager v2 API) and rule manager for one config.

    ``store`` must outlive :meth:`stop`; ``patterns`` is the log pipeline's pattern stats (or None without
    logs); ``server_url`` is where this server is reached (dashboard links, generatorURL). Samples must be
    appended through :attr:`appender` (the store, or the store then the recent window). ``clock`` (seconds)
    drives rule evaluation and the window's start. :meth:`start` and :meth:`stop` run on the server's event
    loop.
    """

    def __init__(  # noqa: PLR0913 - two config sections and the stores they need, keyword-only
        self,
        rules: RulesConfig | None,
        alerting: AlertingConfig | None,
        *,
        base_dir: Path,
        store: MetricsStore,
        patterns: PatternSource | None,
        server_url: str,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.time,
        query_limits: QueryLimits = DEFAULT_QUERY_LIMITS,
        platform_events: PlatformEventReader | None = None,
        tenant_of: Callable[[str], tuple[str, str] | None] | None = None,
        fence: NotifyFence | None = None,
        state: StateStore | None = None,
        semantics: Semantics = PROMETHEUS_3,
    ) -> None:
        """``fence`` (several replicas): the cluster node; each notification is committed through it first."""
        self.base_dir = base_dir
        self.semantics = semantics
        self.tenant_of = tenant_of
        self.store, self.clock, self.registry = store, clock, registry
        self.slos: list[Slo] = load_slos(rules, base_dir) if rules is not None else []
        self.rules_config, self.alerting_config = rules, alerting
        self.window: RecentWindow | None = None
        self.appender: Appender = store
        cycle_cache: CycleCache | None = None
        if rules is not None and rules.recent_window.enabled:
            retention_ms = round(rules.recent_window.retention_s * 1000)
            self.window = RecentWindow(retention_ms, started_ms=round(clock() * 1000))
            self.appender = WindowTee(store, self.window)
            # the cycle cache reads [t - prefetch, t] once per selector and cycle: inside the window
            cycle_cache = CycleCache(WindowedQuerier(self.window, store), prefetch_ms=retention_ms - 300_000)
        # The query API's engine registers ``paramedic_promql_*`` in ``registry``; this one's are exported
        # there as ``paramedic_rules_promql_*`` (rule queries, and email-chart queries without the window).
        engine_registry = CollectorRegistry()
        self.query_limits = query_limits
        self.engine = Engine.from_limits(
            cycle_cache or store, query_limits, registry=engine_registry, semantics=semantics
        )
        registry.register(_Renamed(engine_registry, "paramedic_promql_", "paramedic_rules_promql_"))
        charts = self.engine
        if cycle_cache is not None:  # the cycle cache is the rule task's alone: charts get their own engine
            charts_registry = CollectorRegistry()
            charts = Engine.from_limits(store, query_limits, registry=charts_registry, semantics=semantics)
            registry.register(_Renamed(charts_registry, "paramedic_promql_", "paramedic_explain_promql_"))
        self.dispatcher: Dispatcher | None = None
        self.rules: RuleManager | None = None
        self._task: asyncio.Task[None] | None = None
        # Signed approve/reject links for the messages receivers get (remediation subscribes its provider).
        self.approval_links = ApprovalLinkProviders()
        if alerting is not None:
            external = alerting.external_url or server_url
            explainer = QueryExplainer(
                charts, patterns=patterns, platform_events=platform_events, dashboard_url=external
            )
            deps = NotifierDeps(explainer=explainer, approval_links=self.approval_links)
            metrics = DeliveryMetrics(registry)

            def build(options: dict[str, Any]) -> Notifier:
                glob = (self.alerting_config or alerting).global_  # the reloaded config's smtp_* defaults
                return build_notifier(notifier_config(options, glob), deps)

            async def send(notifier: Notifier, notification: Notification) -> NotifyResult:
                return await deliver(notifier, notification, metrics=metrics)

            data_dir = _resolve(base_dir, alerting.data_dir)
            data_dir.mkdir(parents=True, exist_ok=True)
            self.dispatcher = Dispatcher(
                alerting,
                build,
                data_dir=data_dir,
                registry=registry,
                external_url=external,
                deliver=send,
                fence=fence,
                state=state,
            )
        # Where the rules' alerts go: the dispatcher, and whatever subscribes (the remediation engine).
        self.sink = AlertFanout([self.dispatcher] if self.dispatcher is not None else [])
        if rules is not None:
            self.rules = RuleManager(
                rule_files(rules, base_dir),
                self.engine,
                self.appender,
                self.sink,
                clock,
                registry=registry,
                options=RuleOptions(
                    interval_s=rules.evaluation_interval_s,
                    resend_delay_s=rules.resend_delay_s,
                    state_path=_resolve(base_dir, rules.state_file),
                    external_url=rules.external_url or server_url,
                    detectors={"default": default_detector},  # the same as `paramedic anomaly score`,
                    cycle_cache=cycle_cache,
                    semantics=semantics,
                ),
            )

    def on_commit(self, job: str) -> None:
        """The collector committed a scrape of ``job``: rules evaluate as samples arrive (event loop)."""
        if self.rules is not None:
            self.rules.notify(job)

    def routers(self) -> list[APIRouter]:
        """Mount these before ``metrics_store``'s status router (it answers /api/v1/rules with nothing)."""
        out: list[APIRouter] = []
        if self.rules is not None:
            out.append(rules_router(self.rules))
            # the configured limits (metrics_store.query) bound an SLO read as they bound /api/v1/query
            slo_engine = Engine.from_limits(
                self.store, self.query_limits, registry=CollectorRegistry(), semantics=self.semantics
            )
            out.append(slo_router(lambda: self.slos, slo_engine, self.clock, self.registry))
        if self.dispatcher is not None:
            out.append(am_router(self.dispatcher, config_text=self._config_text(), tenant_of=self.tenant_of))
        return out

    def _config_text(self) -> str:
        if self.alerting_config is None:
            return ""
        data = redacted_dump(self.alerting_config, by_alias=True, exclude={"external_url", "data_dir"})
        return yaml.safe_dump(data, sort_keys=False)

    async def start(self) -> None:
        if self.dispatcher is not None:
            self._task = asyncio.create_task(self.dispatcher.run(), name="alert-dispatcher")
        if self.rules is not None:
            await self.rules.start()
        n_groups = len(self.rules.groups) if self.rules is not None else 0
        log.info("alerting started: %d rule groups, dispatcher %s", n_groups, "on" if self._task else "off")

    async def stop(self) -> None:
        if self.rules is not None:
            await self.rules.stop()
        if self.dispatcher is not None and self._task is not None:
            self.dispatcher.stop()
            try:
                await asyncio.wait_for(self._task, timeout=10.0)
            except TimeoutError:
                log.warning("dispatcher did not finish its flush within 10s; cancelled")
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        log.info("alerting stopped")

    async def apply_config(self, rules: RulesConfig | None, alerting: AlertingConfig | None) -> None:
        """Reload: new rule files and dispatcher config (adding/removing a whole section needs a restart)."""
        if alerting is not None and self.dispatcher is not None:
            self.alerting_config = alerting
            self.dispatcher.apply_config(alerting)
        if rules is not None and self.rules is not None:
            try:
                slos = load_slos(rules, self.base_dir)
                await self.rules.apply_config(rule_files(rules, self.base_dir))
            except RuleError as exc:
                log.error("rule reload refused, keeping the running rules:\n%s", exc)
                if self.rules_config is not None:
                    with contextlib.suppress(RuleError):  # the running SLOs' rules file again
                        load_slos(self.rules_config, self.base_dir)
                return
            self.rules_config, self.slos = rules, slos
