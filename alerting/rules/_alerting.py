"""The alert state machine of one alerting rule, with Prometheus' ``rules/alerting.go`` semantics.

Each evaluation gets the rule's *activations* (label set + value, from a PromQL query or a Paramedic kind
evaluator) and moves every alert (identified by its label set after rule labels and ``alertname``)::

    inactive ──active──▶ pending ──active for ≥ for──▶ firing
       ▲                   │ not active                  │ not active (and keep_firing_for elapsed)
       └── dropped ◀───────┘                             ▼
                                      resolved (state inactive, resolved_at set; kept 15m to be sent)

A resolved alert that becomes active again starts over as pending with a new ``active_at``. Alerts are sent
(:meth:`AlertingRule.alerts_to_send`) when firing and unsent for ``resend_delay``, or when resolved since the
last send; ``ends_at`` is ``resolved_at`` or ``valid_until = now + 4 * max(resend_delay, interval)``.
Not thread-safe: one group evaluates its rules in order on one thread.
"""

from __future__ import annotations

import math
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from alerting.model import Alert
from alerting.rules._load import RuleSpec
from alerting.rules._template import QueryResult, Template
from alerting.rules.errors import RuleEvalError, TemplateError
from metrics_store.model import METRIC_NAME, Labels, labels_from

__all__ = [
    "GRACE_PERIOD_MS",
    "OUTAGE_TOLERANCE_MS",
    "RESOLVED_RETENTION_MS",
    "Activation",
    "ActiveAlert",
    "AlertState",
    "AlertingRule",
]

RESOLVED_RETENTION_MS = 15 * 60_000
OUTAGE_TOLERANCE_MS = 3600_000  # Prometheus' --rules.alert.for-outage-tolerance
GRACE_PERIOD_MS = 600_000  # Prometheus' --rules.alert.for-grace-period


class AlertState(StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


@dataclass(frozen=True, slots=True)
class Activation:
    """One active element of a rule's condition: the series labels, its value and the "why" (threshold,
    window, ...: added to the template data as ``$why`` and to the alert's annotations when not set)."""

    labels: Labels
    value: float
    why: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ActiveAlert:
    labels: dict[str, str]
    annotations: dict[str, str]
    state: AlertState
    value: float
    active_at_ms: int
    fired_at_ms: int = 0
    resolved_at_ms: int = 0
    last_sent_at_ms: int | None = None  # None: never sent
    valid_until_ms: int = 0
    keep_firing_since_ms: int = 0

    def key(self) -> Labels:
        return labels_from(self.labels)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class AlertingRule:
    def __init__(
        self,
        spec: RuleSpec,
        *,
        external_labels: Mapping[str, str] | None = None,
        external_url: str = "",
        template_query: Callable[[str], list[QueryResult]] | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.hold_ms = spec.for_ms
        self.keep_firing_for_ms = spec.keep_firing_for_ms
        self.active: dict[Labels, ActiveAlert] = {}
        self.restored = False  # ALERTS/ALERTS_FOR_STATE are written only after the first evaluation
        self.last_error: Exception | None = None
        self._external_labels = dict(external_labels or {})
        self._external_url = external_url
        self._query = template_query
        self._label_tmpl = {k: Template(v) for k, v in spec.labels.items()}
        self._ann_tmpl = {k: Template(v) for k, v in spec.annotations.items()}

    # --- evaluation -----------------------------------------------------------------------------------

    def _expand(self, tmpl: Template, labels: Mapping[str, str], value: float, why: Mapping[str, str]) -> str:
        try:
            return tmpl.expand(
                labels,
                value,
                external_labels=self._external_labels,
                external_url=self._external_url,
                query=self._query,
                extra={"why": dict(why)},
            )
        except TemplateError as exc:
            # Prometheus puts the error text in place of the expansion and keeps evaluating.
            return f"<error expanding template: {exc}>"

    def eval(
        self, ts_ms: int, activations: Sequence[Activation], limit: int = 0
    ) -> list[tuple[Labels, float]]:
        """Advance the state machine to ``ts_ms``; returns the ALERTS / ALERTS_FOR_STATE samples."""
        fresh: dict[Labels, ActiveAlert] = {}
        for act in activations:
            smpl = dict(act.labels)
            lbs = {k: v for k, v in smpl.items() if k != METRIC_NAME}
            for k, t in self._label_tmpl.items():
                lbs[k] = self._expand(t, smpl, act.value, act.why)
            lbs["alertname"] = self.name
            anns = {k: self._expand(t, smpl, act.value, act.why) for k, t in self._ann_tmpl.items()}
            for k, v in act.why.items():
                anns.setdefault(k, v)
            key = labels_from(lbs)
            if key in fresh:
                raise RuleEvalError(
                    "vector contains metrics with the same labelset after applying alert labels"
                )
            fresh[key] = ActiveAlert(
                {k: v for k, v in key}, anns, AlertState.PENDING, act.value, active_at_ms=ts_ms
            )
        for key, new in fresh.items():
            old = self.active.get(key)
            if old is not None and old.state is not AlertState.INACTIVE:
                old.value, old.annotations = new.value, new.annotations
                continue
            self.active[key] = new

        out: list[tuple[Labels, float]] = []
        n_active = 0
        for key, a in list(self.active.items()):
            if key not in fresh:
                keep = False
                if a.state is AlertState.FIRING and self.keep_firing_for_ms > 0:
                    if a.keep_firing_since_ms == 0:
                        a.keep_firing_since_ms = ts_ms
                    keep = ts_ms - a.keep_firing_since_ms < self.keep_firing_for_ms
                if not keep:
                    if a.state is AlertState.PENDING or (
                        a.resolved_at_ms and ts_ms - a.resolved_at_ms > RESOLVED_RETENTION_MS
                    ):
                        del self.active[key]
                    if a.state is not AlertState.INACTIVE:
                        a.state, a.resolved_at_ms = AlertState.INACTIVE, ts_ms
                    continue
            else:
                a.keep_firing_since_ms = 0
            n_active += 1
            if a.state is AlertState.PENDING and ts_ms - a.active_at_ms >= self.hold_ms:
                a.state, a.fired_at_ms = AlertState.FIRING, ts_ms
            if self.restored:
                out.append(
                    (labels_from({**a.labels, METRIC_NAME: "ALERTS", "alertstate": a.state.value}), 1.0)
                )
                out.append(
                    (
                        labels_from({**a.labels, METRIC_NAME: "ALERTS_FOR_STATE"}),
                        float(a.active_at_ms // 1000),
                    )
                )
        if limit > 0 and n_active > limit:
            self.active = {}
            raise RuleEvalError(f"exceeded limit of {limit} with {n_active} alerts")
        return out

    # --- notification ---------------------------------------------------------------------------------

    def alerts_to_send(self, ts_ms: int, resend_delay_ms: int, interval_ms: int) -> list[Alert]:
        out: list[Alert] = []
        for a in self.active.values():
            if a.state is AlertState.PENDING:
                continue
            last = a.last_sent_at_ms
            if last is not None and not (a.resolved_at_ms > last or last + resend_delay_ms < ts_ms):
                continue
            a.last_sent_at_ms = ts_ms
            a.valid_until_ms = ts_ms + 4 * max(resend_delay_ms, interval_ms)
            ends = a.resolved_at_ms if a.resolved_at_ms else a.valid_until_ms
            labels = {**self._external_labels, **a.labels}
            out.append(
                Alert(
                    labels=labels,
                    annotations=dict(a.annotations),
                    starts_at=_dt(a.fired_at_ms),
                    ends_at=_dt(ends),
                    generator_url=self._generator_url(),
                )
            )
        return out

    def _generator_url(self) -> str:
        if not self._external_url or not self.spec.expr:
            return ""
        q = urllib.parse.urlencode({"g0.expr": self.spec.expr, "g0.tab": "1"})
        return f"{self._external_url.rstrip('/')}/graph?{q}"

    # --- queries on state -----------------------------------------------------------------------------

    def firing(self) -> list[ActiveAlert]:
        return [a for a in self.active.values() if a.state is AlertState.FIRING]

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in AlertState}
        for a in self.active.values():
            out[a.state.value] += 1
        return out

    # --- persistence and for-state restoration ----------------------------------------------------------

    def snapshot(self) -> list[dict[str, Any]]:
        return [
            {
                "labels": a.labels,
                "state": a.state.value,
                "active_at_ms": a.active_at_ms,
                "fired_at_ms": a.fired_at_ms,
                "resolved_at_ms": a.resolved_at_ms,
                "last_sent_at_ms": a.last_sent_at_ms,
                "value": a.value if math.isfinite(a.value) else None,
            }
            for a in self.active.values()
        ]

    def restore(
        self,
        saved: Sequence[Mapping[str, Any]],
        down_at_ms: int,
        ts_ms: int,
        *,
        outage_tolerance_ms: int = OUTAGE_TOLERANCE_MS,
        grace_period_ms: int = GRACE_PERIOD_MS,
    ) -> int:
        """Prometheus' ``RestoreForState`` after the first evaluation: the ``active_at`` of alerts that are
        pending or firing now and were active when the state was saved at ``down_at_ms`` is restored (with
        the outage moved forward, and at least ``grace_period_ms`` left before firing). Returns how many."""
        self.restored = True
        if self.hold_ms < grace_period_ms or ts_ms - down_at_ms > outage_tolerance_ms:
            return 0
        by_key = {labels_from(s["labels"]): s for s in saved if s.get("state") != AlertState.INACTIVE.value}
        n = 0
        for key, a in self.active.items():
            s = by_key.get(key)
            if s is None or a.state is AlertState.INACTIVE:
                continue
            restored_at = int(s["active_at_ms"]) // 1000 * 1000
            remaining = self.hold_ms - (down_at_ms - restored_at)
            if remaining <= 0:
                pass
            elif remaining < grace_period_ms:
                restored_at = ts_ms + grace_period_ms - self.hold_ms
            else:
                restored_at += ts_ms - down_at_ms
            a.active_at_ms = restored_at
            n += 1
        return n
