"""``/api/v1/rules`` and ``/api/v1/alerts`` in Prometheus 2.42's JSON shapes, over a running RuleManager.

``metrics_store``'s status router answers both with empty lists; the wiring mounts this router first, so
Grafana's alerting view and ``curl`` see the rule engine's groups, rules and active alerts.

Tenancy (:func:`platforms.tenancy.scope_of`): a tenant-scoped principal sees only the alerts whose labels its
scope covers (an alert without ``org`` is the foundation's); the foundation's rules are listed to it (they are
the foundation's configuration) and the rules of the tenants it sees, never another tenant's
(:func:`alerting.rules.tenancy.rule_tenant`: a rule labelled with an org, or whose every selector pins one,
such as the rules of another space's SLO); a group left without rules is left out. A rule's ``alerts`` and
``state`` are computed from the visible alerts only, and its ``lastError`` (which may quote another tenant's
labels) is replaced by a generic text.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from alerting.rules import ActiveAlert, AlertingRule, AlertState, RuleManager
from alerting.rules.tenancy import rule_tenant
from metrics_store.api_common import success
from platforms.tenancy import Scope, scope_of

__all__ = ["rules_router"]


def _time(ms: int) -> str:
    if ms <= 0:
        return "0001-01-01T00:00:00Z"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def _value(v: float) -> str:
    return (
        "NaN" if math.isnan(v) else ("+Inf" if v == math.inf else "-Inf" if v == -math.inf else f"{v:.10g}")
    )


def _alert(a: ActiveAlert) -> dict[str, Any]:
    return {
        "labels": dict(a.labels),
        "annotations": dict(a.annotations),
        "state": a.state.value,
        "activeAt": _time(a.active_at_ms),
        "value": _value(a.value),
    }


_HIDDEN_ERROR = "the rule failed to evaluate (its error is shown to foundation-wide principals only)"


def _live(rule: AlertingRule, scope: Scope) -> list[ActiveAlert]:
    return [
        a for a in rule.active.values() if a.state is not AlertState.INACTIVE and scope.sees_labels(a.labels)
    ]


def _listed(expr: str, labels: Mapping[str, str], scope: Scope) -> bool:
    """Whether ``scope`` is shown the rule: the foundation's rules and its tenants' are."""
    if scope.is_foundation:
        return True
    tenant = rule_tenant(expr, labels)
    return tenant is None or scope.sees(*tenant)


def _rule_state(alerts: list[ActiveAlert]) -> str:
    states = {a.state for a in alerts}
    return "firing" if AlertState.FIRING in states else "pending" if states else "inactive"


def rules_router(manager: RuleManager) -> APIRouter:
    router = APIRouter()

    @router.get("/api/v1/rules")
    def rules(request: Request, type: str | None = Query(None)) -> Response:  # Prometheus' name
        scope = scope_of(request)
        groups = []
        for g in manager.groups:
            last = _time(g.last_eval_ms)
            out: list[dict[str, Any]] = []
            for r in g.rules:
                if not _listed(r.spec.expr, r.spec.labels, scope):
                    continue
                health = "unknown" if g.last_eval_ms < 0 else "ok"
                common = {"name": r.spec.name, "query": r.spec.expr, "labels": dict(r.spec.labels),
                          "health": health, "evaluationTime": 0, "lastEvaluation": last}  # fmt: skip
                if r.alerting is None:
                    if type != "alert":
                        out.append({**common, "type": "recording"})
                    continue
                if type == "record":
                    continue
                ar, live = r.alerting, _live(r.alerting, scope)
                if ar.last_error is not None:
                    error = str(ar.last_error) if scope.is_foundation else _HIDDEN_ERROR
                    common.update(health="err", lastError=error)
                out.append(
                    {
                        **common,
                        "type": "alerting",
                        "state": _rule_state(live),
                        "duration": ar.hold_ms / 1000,
                        "keepFiringFor": ar.keep_firing_for_ms / 1000,
                        "annotations": dict(r.spec.annotations),
                        "alerts": [_alert(a) for a in live],
                    }
                )
            if g.rules and not out and not scope.is_foundation:
                continue  # every rule of the group is another tenant's (its name may name the tenant)
            groups.append({"name": g.name, "file": g.spec.file, "rules": out, "limit": g.spec.limit,
                           "interval": g.interval_ms / 1000, "evaluationTime": 0,
                           "lastEvaluation": last})  # fmt: skip
        return success({"groups": groups})

    @router.get("/api/v1/alerts")
    def alerts(request: Request) -> Response:
        scope = scope_of(request)
        live = [_alert(a) for g in manager.groups for ar in g.alerting_rules() for a in _live(ar, scope)]
        return success({"alerts": live})

    return router
