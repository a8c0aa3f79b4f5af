"""The dispatcher: Alertmanager's alert store, routing, aggregation groups and notification pipeline.

``put`` (the :class:`~alerting.base.AlertSink` seam, thread-safe) merges alerts by fingerprint and inserts
them into one aggregation group per matching route and ``group_by`` label values; at most
``limits.max_alerts`` alerts are active at once (:meth:`Dispatcher.accept` refuses, counts and logs the
rest). A group first flushes after ``group_wait`` (at once if the alert is older than that), then every
``group_interval``. A flush runs the pipeline per receiver integration: mute/active time intervals →
inhibition → silences → dedup against the notification log (new firing alerts, newly resolved ones when
``send_resolved``, or ``repeat_interval`` elapsed; acked alerts do not repeat) → truncation to
``max_alerts`` → delivery with the retry policy → log. A muted flush logs nothing, so the first flush after
the window ends notifies again.

Time comes from ``clock``; :meth:`Dispatcher.flush_due` does one round (tests call it after moving their
clock); :meth:`Dispatcher.run` loops it in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from prometheus_client import CollectorRegistry

from alerting.base import AlertingError, Notifier, NotifyFence, NotifyResult
from alerting.dispatch._inhibit import InhibitIndex, InhibitRule
from alerting.dispatch._matchers import label_set_string
from alerting.dispatch._metrics import DispatchMetrics
from alerting.dispatch._persist import StateStore, utc_now
from alerting.dispatch._route import Route, build_route
from alerting.dispatch._state import AckStore, LogEntry, NotificationLog
from alerting.dispatch._store import AlertStore, StoredAlert, stored_from_alert
from alerting.dispatch.config import DispatchConfig, send_resolved_default
from alerting.dispatch.silences import Silences
from alerting.dispatch.tenancy import TenantRefusedError
from alerting.model import Alert, Notification
from alerting.notify.retry import deliver as retry_deliver
from platforms.tenancy import FOUNDATION, Scope

__all__ = ["AlertState", "AlertView", "Deliver", "Dispatcher", "GroupView"]

log = logging.getLogger(__name__)

Deliver = Callable[[Notifier, Notification], Awaitable[NotifyResult]]
BuildNotifier = Callable[[dict[str, Any]], Notifier]


async def _default_deliver(notifier: Notifier, notification: Notification) -> NotifyResult:
    return await retry_deliver(notifier, notification)


@dataclass(frozen=True, slots=True)
class AlertState:
    state: Literal["unprocessed", "active", "suppressed"]
    silenced_by: list[str]
    inhibited_by: list[str]


@dataclass(frozen=True, slots=True)
class AlertView:
    alert: StoredAlert
    receivers: list[str]
    status: AlertState


@dataclass(frozen=True, slots=True)
class GroupView:
    group_key: str
    labels: dict[str, str]
    receiver: str
    alerts: list[AlertView]


@dataclass(eq=False)
class _Group:
    key: str
    route: Route
    labels: dict[str, str]
    next_flush: datetime
    alerts: dict[str, StoredAlert] = field(default_factory=dict)
    has_flushed: bool = False


@dataclass(frozen=True, slots=True)
class _Integration:
    kind: str
    notifier: Notifier
    send_resolved: bool
    max_alerts: int


def _sort_key(a: StoredAlert) -> tuple[Any, ...]:
    """Alertmanager's alertsSlice order: job, then instance (present first), then the label set."""
    key: list[Any] = []
    for name in ("job", "instance"):
        v = a.labels.get(name)
        key += [v is None, v or ""]
    return (*key, len(a.labels), sorted(a.labels.items()))


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    out = dict(maps[0])
    for m in maps[1:]:
        for k in [k for k, v in out.items() if m.get(k) != v]:
            del out[k]
    return out


class Dispatcher:
    def __init__(  # noqa: PLR0913 - config and notifier builder; the rest keyword-only with defaults
        self,
        config: DispatchConfig,
        build_notifier: BuildNotifier,
        *,
        silences: Silences | None = None,
        data_dir: Path | None = None,
        clock: Callable[[], datetime] = utc_now,
        registry: CollectorRegistry | None = None,
        external_url: str = "http://127.0.0.1:9093",
        deliver: Deliver = _default_deliver,
        fence: NotifyFence | None = None,
        state: StateStore | None = None,
    ) -> None:
        """``state`` keeps silences, acks and the notification log (default: JSON files under ``data_dir``);
        ``fence`` (several replicas) records each notification before it is sent."""
        self._clock = clock
        self._fence = fence
        self._build_notifier = build_notifier
        self._deliver = deliver
        self.external_url = external_url
        self.silences = silences if silences is not None else Silences(data_dir, clock=clock, state=state)
        self._lock = threading.RLock()
        self._store = AlertStore()
        self._groups: dict[tuple[int, str], _Group] = {}
        self._nflog = NotificationLog(data_dir, state=state)
        self._acks = AckStore(data_dir, state=state)
        self._metrics = DispatchMetrics(registry)
        self._metrics.watch(self.silences.count, lambda: len(self._groups))  # type: ignore[arg-type]
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self.apply_config(config)

    # -- configuration ---------------------------------------------------------------------------------------
    def apply_config(self, config: DispatchConfig) -> None:
        """Startup and reload: rebuild the route tree, rules and notifiers; regroup the current alerts."""
        integrations = {
            r.name: [
                _Integration(
                    kind=str(c.get("type", "")),
                    notifier=self._build_notifier(c),
                    send_resolved=bool(c.get("send_resolved", send_resolved_default(str(c.get("type", ""))))),
                    max_alerts=int(c.get("max_alerts", 0) or 0),
                )
                for c in r.integrations()
            ]
            for r in config.receivers
        }
        with self._lock:
            self.config = config
            self._route = build_route(config.route, group_by_tenant=config.tenancy.group_by_tenant)
            self._inhibit = [InhibitRule.from_config(r) for r in config.inhibit_rules]
            self._intervals = config.intervals()
            self._resolve_timeout = timedelta(seconds=config.global_.resolve_timeout)
            self._max_alerts = config.limits.max_alerts
            self._max_tenant_alerts = config.limits.max_alerts_per_tenant
            self._integrations = integrations
            self._groups.clear()
            now = self._clock()
            for a in self._store.all():
                if not a.resolved(now):
                    self._route_alert(a, now)
        self._poke()

    def now(self) -> datetime:
        return self._clock()

    @property
    def route(self) -> Route:
        return self._route

    def receivers(self) -> list[str]:
        return [r.name for r in self.config.receivers]

    # -- ingestion -------------------------------------------------------------------------------------------
    def put(self, alerts: Sequence[Alert]) -> None:
        """:meth:`accept` for the :class:`~alerting.base.AlertSink` seam (refusals are counted and logged)."""
        self.accept(alerts)

    def accept(self, alerts: Sequence[Alert], scope: Scope = FOUNDATION) -> int:
        """Store and route ``alerts``; returns how many were refused. At most ``limits.max_alerts`` alerts
        are active (unresolved) at once: while that many are, an alert that is not one of them is refused
        (counted in ``paramedic_alerting_alerts_refused_total``, logged once per call); updates of active
        alerts, resolving ones included, are always accepted. Alerts sent by a tenant ``scope`` also meet
        ``limits.max_alerts_per_tenant`` (the active alerts that scope sees)."""
        now = self._clock()
        refused = 0
        with self._lock:
            limit = self._max_alerts
            active = self._store.active_count(now)
            tenant_limit = None if scope.is_foundation else self._max_tenant_alerts
            tenant = self._tenant_active(scope, now) if tenant_limit is not None else 0
            for alert in alerts:
                new = stored_from_alert(alert, now, self._resolve_timeout)
                old = self._store.get(new.fingerprint)
                was_active = old is not None and not old.resolved(now)
                full = active >= limit or (tenant_limit is not None and tenant >= tenant_limit)
                if not was_active and full:
                    refused += 1
                    continue
                stored = self._store.put(new)
                change = int(not stored.resolved(now)) - int(was_active)
                active += change
                tenant += change
                self._metrics.alerts_received.labels("resolved" if stored.resolved(now) else "firing").inc()
                self._route_alert(stored, now)
        if refused and scope.is_foundation:
            self._metrics.alerts_refused.labels("max_alerts").inc(refused)
            log.warning(
                "refused %d of %d alerts: %d alerts are active, the limit (alerting.limits.max_alerts)",
                refused,
                len(alerts),
                limit,
            )
        elif refused:
            self._metrics.alerts_refused.labels("max_alerts_per_tenant").inc(refused)
            log.warning(
                "refused %d of %d alerts from %s: at the limit (alerting.limits.max_alerts_per_tenant %d, "
                "alerting.limits.max_alerts %d)",
                refused,
                len(alerts),
                scope.describe(),
                self._max_tenant_alerts,
                limit,
            )
        self._poke()
        return refused

    def _tenant_active(self, scope: Scope, now: datetime) -> int:
        """Active alerts that ``scope`` sees (call with the lock held; linear in the alerts)."""
        return sum(1 for a in self._store.all() if not a.resolved(now) and scope.sees_labels(a.labels))

    def _route_alert(self, alert: StoredAlert, now: datetime) -> None:
        for route in self._route.match(alert.labels):
            labels = route.group_labels(alert.labels)
            key = f"{route.key()}:{label_set_string(labels)}"
            group = self._groups.get((route.index, key))
            if group is None:
                group = _Group(key, route, labels, now + timedelta(seconds=route.group_wait))
                self._groups[(route.index, key)] = group
            group.alerts[alert.fingerprint] = alert
            if not group.has_flushed and alert.starts_at < now - timedelta(seconds=route.group_wait):
                group.next_flush = min(group.next_flush, now)

    def _poke(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    # -- status ----------------------------------------------------------------------------------------------
    def _inhibition(self, now: datetime) -> InhibitIndex:
        """The inhibiting alerts of the current store, indexed once (call with the lock held)."""
        return InhibitIndex(self._inhibit, self._store.all(), now)

    def _state(self, labels: Mapping[str, str], inhibition: InhibitIndex) -> AlertState:
        inhibitors = inhibition.inhibited_by(labels)
        silencers = self.silences.mutes(labels)
        return AlertState("suppressed" if silencers or inhibitors else "active", silencers, inhibitors)

    def alert_state(self, labels: Mapping[str, str]) -> AlertState:
        with self._lock:
            inhibition = self._inhibition(self._clock())
        return self._state(labels, inhibition)

    def alerts(self, scope: Scope = FOUNDATION) -> list[AlertView]:
        """Unresolved alerts with their receivers and state, by fingerprint (linear in the alerts); only
        those whose org/space ``scope`` covers."""
        now = self._clock()
        with self._lock:
            current = sorted(
                (a for a in self._store.all() if not a.resolved(now) and scope.sees_labels(a.labels)),
                key=lambda a: a.fingerprint,
            )
            inhibition = self._inhibition(now)
            route = self._route
        return [
            AlertView(a, [r.receiver for r in route.match(a.labels)], self._state(a.labels, inhibition))
            for a in current
        ]

    def groups(self, scope: Scope = FOUNDATION) -> list[GroupView]:
        """Aggregation groups with their unresolved alerts that ``scope`` covers; a group with none is left
        out (its labels are then another tenant's)."""
        now = self._clock()
        with self._lock:
            groups = [
                (g.key, dict(g.labels), g.route.receiver, list(g.alerts.values()))
                for g in self._groups.values()
            ]
            inhibition = self._inhibition(now)
            route = self._route
        out = []
        for key, labels, receiver, alerts in groups:
            views = [
                AlertView(a, [r.receiver for r in route.match(a.labels)], self._state(a.labels, inhibition))
                for a in sorted(alerts, key=_sort_key)
                if not a.resolved(now) and scope.sees_labels(a.labels)
            ]
            if views:
                out.append(GroupView(key, labels, receiver, views))
        return sorted(out, key=lambda g: (g.receiver, g.group_key))

    def notification_log(self, scope: Scope = FOUNDATION) -> list[LogEntry]:
        """The notification log; for a tenant's ``scope`` only the entries of groups it covers (groups are
        per org/space, see :meth:`Route.group_labels`; older entries have no labels: foundation's)."""
        with self._lock:
            entries = self._nflog.entries()
        return [e for e in entries if scope.sees_labels(e.group_labels)]

    # -- acknowledgement -------------------------------------------------------------------------------------
    def ack_group(self, group_key: str, scope: Scope = FOUNDATION) -> int:
        """Acknowledge the firing alerts of every group with this key: no repeats until the group changes.
        ``scope``: only alerts it covers count (none: :class:`AlertingError`, as if there were no such group);
        it must operate them (else :class:`TenantRefusedError`)."""
        now = self._clock()
        with self._lock:
            alerts = [
                a
                for g in self._groups.values()
                if g.key == group_key
                for a in g.alerts.values()
                if not a.resolved(now)
            ]
            return self._ack(alerts, scope, f"no firing alerts in group {group_key}")

    def ack_alert(self, fingerprint: str, scope: Scope = FOUNDATION) -> int:
        """Acknowledge one firing alert, with ``scope`` checked like :meth:`ack_group`."""
        now = self._clock()
        with self._lock:
            a = self._store.get(fingerprint)
            alerts = [a] if a is not None and not a.resolved(now) else []
            return self._ack(alerts, scope, f"no firing alert with fingerprint {fingerprint}")

    def _ack(self, alerts: list[StoredAlert], scope: Scope, missing: str) -> int:
        seen = [a for a in alerts if scope.sees_labels(a.labels)]
        if not seen:
            raise AlertingError(missing)
        mine = [(a.fingerprint, a.starts_at) for a in seen if scope.operates_labels(a.labels)]
        if not mine:
            self._metrics.tenant_refusals.labels("ack").inc()
            raise TenantRefusedError(f"acknowledging: you do not operate these alerts ({scope.describe()})")
        return self._acks.ack(mine)

    def count_silence_refusal(self, reason: str) -> None:
        """Count a new silence refused by a limit (``paramedic_alerting_silences_refused_total``)."""
        self._metrics.silences_refused.labels(reason).inc()

    def count_tenant_refusal(self, action: str) -> None:
        """Count a request refused for its tenant scope (``paramedic_alerting_tenant_refusals_total``)."""
        self._metrics.tenant_refusals.labels(action).inc()

    # -- flushing --------------------------------------------------------------------------------------------
    def next_flush(self) -> datetime | None:
        with self._lock:
            return min((g.next_flush for g in self._groups.values()), default=None)

    async def flush_due(self) -> int:
        """Flush every group whose time has come; returns how many were flushed."""
        now = self._clock()
        with self._lock:
            due = [g for g in self._groups.values() if g.next_flush <= now]
            for g in due:
                g.next_flush = now + timedelta(seconds=g.route.group_interval)
                g.has_flushed = True
        if due:
            await asyncio.gather(*(self._flush(g) for g in due))
        return len(due)

    def _muted(self, route: Route, now: datetime) -> bool:
        def hit(names: list[str]) -> bool:
            return any(iv.contains(now) for n in names for iv in self._intervals.get(n, []))

        if route.mute_time_intervals and hit(route.mute_time_intervals):
            return True
        return bool(route.active_time_intervals) and not hit(route.active_time_intervals)

    def _needs_update(
        self,
        *,
        entry: LogEntry | None,
        firing: frozenset[str],
        resolved: frozenset[str],
        send_resolved: bool,
        repeat_s: float,
        now: datetime,
        acked: bool,
    ) -> bool:
        if entry is None:
            return bool(firing)
        if not firing <= entry.firing:
            return True
        if not firing:
            return bool(entry.firing)
        if send_resolved and not resolved <= entry.resolved:
            return True
        if acked:
            return False
        return entry.timestamp < now - timedelta(seconds=repeat_s)

    async def _flush(self, group: _Group) -> None:
        now = self._clock()
        with self._lock:
            alerts = sorted(group.alerts.values(), key=_sort_key)
            route = group.route
            integrations = self._integrations.get(route.receiver, [])
            muted = self._muted(route, now)
            inhibition = self._inhibition(now) if not muted else None
        ok = True
        if inhibition is None:
            self._metrics.notifications_muted.labels(route.receiver).inc()
        else:
            kept = [a for a in alerts if self._state(a.labels, inhibition).state == "active"]
            firing = frozenset(a.fingerprint for a in kept if not a.resolved(now))
            resolved = frozenset(a.fingerprint for a in kept if a.resolved(now))
            with self._lock:
                acked = all(
                    self._acks.is_acked(a.fingerprint, a.starts_at) for a in kept if not a.resolved(now)
                )
            # concurrently, as Alertmanager's fan-out: a slow receiver never delays another one
            results = await asyncio.gather(
                *(
                    self._notify_one(
                        group, idx, integ, kept=kept, firing=firing, resolved=resolved, acked=acked, now=now
                    )
                    for idx, integ in enumerate(integrations)
                )
            )
            ok = all(results)
        if ok:
            with self._lock:
                for a in alerts:
                    if a.resolved(now) and group.alerts.get(a.fingerprint) is a:
                        del group.alerts[a.fingerprint]
                if not group.alerts:
                    self._groups.pop((route.index, group.key), None)

    async def _notify_one(
        self,
        group: _Group,
        idx: int,
        integ: _Integration,
        *,
        kept: list[StoredAlert],
        firing: frozenset[str],
        resolved: frozenset[str],
        acked: bool,
        now: datetime,
    ) -> bool:
        receiver = group.route.receiver
        with self._lock:
            entry = self._nflog.get(group.key, receiver, idx)
        if not self._needs_update(
            entry=entry,
            firing=firing,
            resolved=resolved,
            send_resolved=integ.send_resolved,
            repeat_s=group.route.repeat_interval,
            now=now,
            acked=acked,
        ):
            return True
        send = kept if integ.send_resolved else [a for a in kept if not a.resolved(now)]
        if send:
            shown = send[: integ.max_alerts] if integ.max_alerts else send
            model = [a.to_alert(now) for a in shown]
            notification = Notification(
                receiver=receiver,
                status="firing" if any(a.ends_at is None for a in model) else "resolved",
                alerts=model,
                group_labels=dict(group.labels),
                common_labels=_common([a.labels for a in model]),
                common_annotations=_common([a.annotations for a in model]),
                external_url=self.external_url,
                group_key=group.key,
                truncated_alerts=len(send) - len(shown),
            )
            if not self._fenced(
                LogEntry(group.key, receiver, idx, firing, resolved, now, dict(group.labels))
            ):
                self._metrics.notifications.labels(receiver, integ.kind, "fenced").inc()
                return False
            try:
                result = await self._deliver(integ.notifier, notification)
            except Exception as e:  # a notifier bug must not stop the other groups
                log.exception("notifier %s for %s raised", integ.kind, receiver)
                result = NotifyResult(ok=False, retry=True, reason=f"{type(e).__name__}: {e}")
            self._metrics.notifications.labels(receiver, integ.kind, "sent" if result.ok else "failed").inc()
            if not result.ok:
                log.warning("notify %s/%s failed for %s: %s", receiver, integ.kind, group.key, result.reason)
                return False
        with self._lock:
            self._nflog.log(LogEntry(group.key, receiver, idx, firing, resolved, now, dict(group.labels)))
            self._acks.unack(resolved)
        return True

    def reload_state(self) -> None:
        """Re-read silences, acks and the notification log from the state store (a new leader)."""
        self.silences.reload()
        with self._lock:
            self._nflog.reload()
            self._acks.reload()

    def _fenced(self, entry: LogEntry) -> bool:
        """In a cluster: commit the notification log entry (with the leader's fencing token) before sending;
        False when the shared journal refuses it (a deposed leader never notifies). True without a fence."""
        if self._fence is None:
            return True
        key = hashlib.sha256(f"{entry.group_key}\0{entry.receiver}\0{entry.integration}".encode()).hexdigest()
        doc = {**entry.to_json(), "key": f"{key}-{entry.timestamp.timestamp():.6f}"}
        return self._fence.commit("nflog", doc["key"], doc, ttl_s=self._nflog.retention_s)

    # -- lifecycle -------------------------------------------------------------------------------------------
    def maintenance(self) -> None:
        """Drop resolved alerts no group holds, old log entries and old silences."""
        now = self._clock()
        with self._lock:
            held = {fp for g in self._groups.values() for fp in g.alerts}
            self._store.gc(now, held)
            self._nflog.gc(now)
        self.silences.gc()

    async def run(self, max_sleep_s: float = 1.0, maintenance_s: float = 60.0) -> None:
        """Flush due groups until :meth:`stop`; wakes early when alerts arrive."""
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        last_gc = self._clock()
        while not self._stopping:
            await self.flush_due()
            now = self._clock()
            if (now - last_gc).total_seconds() >= maintenance_s:
                last_gc = now
                try:
                    self.maintenance()
                except Exception:  # this loop is every notification's: housekeeping must not end it
                    log.exception("alert dispatcher: maintenance failed (notifications go on)")
            nxt = self.next_flush()
            wait = max_sleep_s if nxt is None else min(max_sleep_s, max(0.0, (nxt - now).total_seconds()))
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    def stop(self) -> None:
        self._stopping = True
        self._poke()
