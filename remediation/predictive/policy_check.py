"""What the policy loader checks of a ``predictive:`` block beyond its model: a scale action without a fixed
step or count (the forecast sets the count), apps to scale, and a ``query`` that is PromQL for every app."""

from __future__ import annotations

from metrics_store.promql import QueryParseError, parse
from remediation.actions.scale import ScaleParams
from remediation.config import Policy

__all__ = ["app_query", "predictive_apps", "predictive_problems"]

Loc = tuple[str | int, ...]


def app_query(query: str, app: str) -> str:
    """``query`` with ``$app`` replaced by ``app``, quoted as a PromQL string body (no label injection)."""
    return query.replace("$app", app.replace("\\", "\\\\").replace('"', '\\"'))


def predictive_apps(policy: Policy) -> list[str]:
    """The apps a predictive policy scales: ``predictive.apps``, else ``target.app``."""
    spec = policy.predictive
    if spec is None:
        return []
    if spec.apps:
        return list(dict.fromkeys(spec.apps))
    return [policy.target.app] if policy.target.app is not None else []


def predictive_problems(policy: Policy) -> list[tuple[Loc, str]]:
    """(key path, message) for every problem of ``policy.predictive`` (none without the block)."""
    spec = policy.predictive
    if spec is None:
        return []
    out: list[tuple[Loc, str]] = []
    action = policy.action
    if not isinstance(action, ScaleParams):
        out.append((("predictive",), f"a predictive policy needs action type scale, not {action.type}"))
    elif action.adjustment is not None or action.instances is not None:
        key = "adjustment" if action.adjustment is not None else "instances"
        out.append((("action", key), "the forecast sets the count: remove it from a predictive policy"))
    if policy.trigger.matchers or policy.trigger.schedule is not None:
        out.append((("trigger",), "a predictive policy runs every predictive.interval: remove its trigger"))
    if not predictive_apps(policy):
        out.append((("predictive", "apps"), "name the apps to scale (or a fixed target.app)"))
    if "$app" not in spec.query:
        out.append((("predictive", "query"), "must contain $app (each app's load is queried)"))
    for i, app in enumerate(spec.apps):
        if not app or len(app) > 255 or not app.isprintable():
            out.append((("predictive", "apps", i), f"not an app name: {app!r}"))
    try:
        parse(app_query(spec.query, "app"))
    except QueryParseError as exc:
        out.append((("predictive", "query"), f"not PromQL: {exc}"))
    return out
