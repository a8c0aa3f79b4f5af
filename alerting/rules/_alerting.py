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

import itertools
import math
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
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


NO_WHY: Mapping[str, str] = MappingProxyType({})  # an activation without a "why" (shared, read-only)
_tokens = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Activation:
    """One active element of a rule's condition: the series labels, its value and the "why" (threshold,
    window, ...: added to the template data as ``$why`` and to the alert's annotations when not set)."""

    labels: Labels
    value: float
    why: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ActiveAlert:
    """One alert of a rule. Its annotations are expanded when first read if the rule's templates do not
    ``query`` (the text depends only on the activation then, so it is the text of evaluation time): most
    pending alerts are never sent. Only the evaluating thread keeps an expansion (:meth:`materialize`)."""

    labels: dict[str, str]
    # the annotations; None: ``_rule`` expands them from (expanded_labels, value, expanded_why) when read
    _annotations: dict[str, str] | None = field(repr=False)
    state: AlertState
    value: float
    active_at_ms: int
    fired_at_ms: int = 0
    resolved_at_ms: int = 0
    last_sent_at_ms: int | None = None  # None: never sent
    valid_until_ms: int = 0
    keep_firing_since_ms: int = 0
    # the ALERTS series of ``series_state`` and the ALERTS_FOR_STATE series, built once per alert and state
    series_state: AlertState | None = field(default=None, repr=False, compare=False)
    alerts_series: Labels = field(default=(), repr=False, compare=False)
    for_state_series: Labels = field(default=(), repr=False, compare=False)
    # what ``annotations`` were expanded from (with ``value``): the rule's template set (a token), the
    # activation's labels and why; the same inputs expand to the same text (templates without ``query``)
    expanded_by: int = field(default=0, repr=False, compare=False)
    expanded_labels: Labels = field(default=(), repr=False, compare=False)
    expanded_why: Mapping[str, str] | None = field(default=None, repr=False, compare=False)  # None: empty
    _rule: AlertingRule | None = field(default=None, repr=False, compare=False)

    def key(self) -> Labels:
        return labels_from(self.labels)

    def _expand_annotations(self) -> dict[str, str]:
        rule = self._rule
        if rule is None:
            return {}
        return rule.expand_annotations(
            Activation(self.expanded_labels, self.value, self.expanded_why or NO_WHY)
        )

    @property
    def annotations(self) -> dict[str, str]:
        ann = self._annotations
        return self._expand_annotations() if ann is None else ann

    @annotations.setter
    def annotations(self, value: dict[str, str]) -> None:
        self._annotations = value

    def set_inputs(
        self, rule: AlertingRule, token: int, act: Activation, annotations: dict[str, str] | None
    ) -> None:
        """Annotations of ``act`` by ``rule`` (whose templates are ``token``): given, or None to expand them
        from ``act`` (with :attr:`value` set to its value) when read."""
        self.expanded_by, self.expanded_labels = token, act.labels
        self.expanded_why = act.why if act.why else None
        self._rule, self._annotations = rule, annotations

    def materialize(self) -> dict[str, str]:
        """The annotations, kept expanded from now on (call on the evaluating thread only)."""
        ann = self._annotations
        if ann is None:
            ann = self._annotations = self._expand_annotations()
        return ann


_PENDING, _FIRING, _INACTIVE = AlertState.PENDING, AlertState.FIRING, AlertState.INACTIVE
_STATE_TEXT = {s: s.value for s in AlertState}  # plain str: the enum's ``.value`` is a slow property


def _same_value(a: float, b: float) -> bool:
    """Bit-for-bit the same float for template purposes (NaN never is; -0.0 is not 0.0)."""
    return a == b and (a != 0.0 or math.copysign(1.0, a) == math.copysign(1.0, b))


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
        # Label templates without actions expand to their text: the alert's labels then depend only on the
        # activation's labels. Annotations depend on (labels, value, why) unless a template queries the
        # store (``query``): those are expanded at every evaluation.
        self._static_labels = all(t.is_constant for t in self._label_tmpl.values())
        self._pure_annotations = not any("query" in t.text for t in self._ann_tmpl.values())
        self._keys: dict[Labels, Labels] = {}  # activation labels -> alert key (static labels only)
        self._token = next(_tokens)  # marks annotations expanded by this rule's templates
        self._generator_url_text: str | None = None

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

    def expand_annotations(self, act: Activation) -> dict[str, str]:
        smpl = dict(act.labels)
        anns = {k: self._expand(t, smpl, act.value, act.why) for k, t in self._ann_tmpl.items()}
        for k, v in act.why.items():
            anns.setdefault(k, v)
        return anns

    def _alert_key(self, act: Activation) -> Labels:
        smpl = dict(act.labels)
        lbs = {k: v for k, v in smpl.items() if k != METRIC_NAME}
        for k, t in self._label_tmpl.items():
            lbs[k] = self._expand(t, smpl, act.value, act.why)
        lbs["alertname"] = self.name
        return labels_from(lbs)

    def _set_annotations(self, a: ActiveAlert, act: Activation) -> None:
        """``a.annotations`` for ``act``, expanded again only when an input changed (or ``query`` is used)."""
        if not (
            a.expanded_by == self._token
            and self._pure_annotations
            and _same_value(act.value, a.value)
            and (act.labels is a.expanded_labels or act.labels == a.expanded_labels)
            and (act.why == a.expanded_why if a.expanded_why is not None else not act.why)
        ):
            # templates without ``query`` are expanded when read (from the inputs recorded here)
            a.set_inputs(
                self, self._token, act, None if self._pure_annotations else self.expand_annotations(act)
            )
        a.value = act.value

    def eval(
        self, ts_ms: int, activations: Sequence[Activation], limit: int = 0
    ) -> list[tuple[Labels, float]]:
        """Advance the state machine to ``ts_ms``; returns the ALERTS / ALERTS_FOR_STATE samples."""
        fresh = self._activate(ts_ms, activations)
        out: list[tuple[Labels, float]] = []
        n_active = 0
        restored = self.restored
        for key, a in list(self.active.items()):
            if key in fresh:
                a.keep_firing_since_ms = 0
            elif not self._keeps_firing(a, ts_ms):
                self._resolve(key, a, ts_ms)
                continue
            n_active += 1
            if a.state is _PENDING and ts_ms - a.active_at_ms >= self.hold_ms:
                a.state, a.fired_at_ms = _FIRING, ts_ms
            if restored:
                out.extend(self._samples(a))
        if limit > 0 and n_active > limit:
            self.active = {}
            raise RuleEvalError(f"exceeded limit of {limit} with {n_active} alerts")
        return out

    def _activate(self, ts_ms: int, activations: Sequence[Activation]) -> dict[Labels, Activation]:
        """The alerts of this evaluation by alert key; new ones become pending, known ones get the value."""
        fresh: dict[Labels, Activation] = {}
        static = self._static_labels
        memo = self._keys
        keys: dict[Labels, Labels] = {}
        for act in activations:
            key = memo.get(act.labels) if static else None
            if key is None:
                key = self._alert_key(act)
            if key in fresh:
                raise RuleEvalError(
                    "vector contains metrics with the same labelset after applying alert labels"
                )
            fresh[key] = act
            if static:
                keys[act.labels] = key
        self._keys = keys
        for key, act in fresh.items():
            old = self.active.get(key)
            if old is not None and old.state is not _INACTIVE:
                self._set_annotations(old, act)
                continue
            new = self.active[key] = ActiveAlert(dict(key), None, _PENDING, act.value, active_at_ms=ts_ms)
            self._set_annotations(new, act)
        return fresh

    def _keeps_firing(self, a: ActiveAlert, ts_ms: int) -> bool:
        """A firing alert whose condition cleared keeps firing for ``keep_firing_for`` from the first miss."""
        if a.state is _FIRING and self.keep_firing_for_ms > 0:
            if a.keep_firing_since_ms == 0:
                a.keep_firing_since_ms = ts_ms
            return ts_ms - a.keep_firing_since_ms < self.keep_firing_for_ms
        return False

    def _resolve(self, key: Labels, a: ActiveAlert, ts_ms: int) -> None:
        """Condition cleared: a pending alert is dropped, a resolved one kept for RESOLVED_RETENTION_MS."""
        if a.state is _PENDING or (a.resolved_at_ms and ts_ms - a.resolved_at_ms > RESOLVED_RETENTION_MS):
            del self.active[key]
        if a.state is not _INACTIVE:
            a.state, a.resolved_at_ms = _INACTIVE, ts_ms

    @staticmethod
    def _samples(a: ActiveAlert) -> tuple[tuple[Labels, float], tuple[Labels, float]]:
        """The alert's ALERTS and ALERTS_FOR_STATE samples (series labels built once per state)."""
        if a.series_state is not a.state:
            a.alerts_series = labels_from(
                {**a.labels, METRIC_NAME: "ALERTS", "alertstate": _STATE_TEXT[a.state]}
            )
            if a.series_state is None:
                a.for_state_series = labels_from({**a.labels, METRIC_NAME: "ALERTS_FOR_STATE"})
            a.series_state = a.state
        return (a.alerts_series, 1.0), (a.for_state_series, float(a.active_at_ms // 1000))

    # --- notification ---------------------------------------------------------------------------------

    def alerts_to_send(self, ts_ms: int, resend_delay_ms: int, interval_ms: int) -> list[Alert]:
        out: list[Alert] = []
        for a in self.active.values():
            if a.state is _PENDING:
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
                    annotations=dict(a.materialize()),
                    starts_at=_dt(a.fired_at_ms),
                    ends_at=_dt(ends),
                    generator_url=self._generator_url(),
                )
            )
        return out

    def _generator_url(self) -> str:
        if self._generator_url_text is None:
            if not self._external_url or not self.spec.expr:
                self._generator_url_text = ""
            else:
                q = urllib.parse.urlencode({"g0.expr": self.spec.expr, "g0.tab": "1"})
                self._generator_url_text = f"{self._external_url.rstrip('/')}/graph?{q}"
        return self._generator_url_text

    # --- queries on state -----------------------------------------------------------------------------

    def firing(self) -> list[ActiveAlert]:
        return [a for a in self.active.values() if a.state is AlertState.FIRING]

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in AlertState}
        for a in self.active.values():
            out[a.state] += 1  # a StrEnum member is its value as a key
        return out

    # --- persistence and for-state restoration ----------------------------------------------------------

    def snapshot(self) -> list[dict[str, Any]]:
        return [
            {
                "labels": a.labels,
                "state": _STATE_TEXT[a.state],
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
