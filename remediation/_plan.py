"""Alert -> action requests: which policies match, with what target and request id (pure)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from alerting.dispatch import Matcher, matchers_match, parse_matcher
from alerting.model import Alert
from platforms.tenancy import ORG_LABEL, SPACE_LABEL, Scope
from remediation.actions import is_per_instance
from remediation.config import Policy
from remediation.model import ActionRequest, Target, request_id

__all__ = ["CompiledPolicy", "Planned", "compile_policy", "plan_alert", "policy_version"]

_MAX_INDEX_DIGITS = 9  # an instance index: no platform runs a billion instances of one app


def policy_version(policy: Policy) -> str:
    """sha256 of the policy's canonical JSON, first 12 hex digits (a policy without ``scope`` hashes as it
    did before tenancy, so its version, and the rails' history keyed by it, stay the same)."""
    dumped = policy.model_dump(mode="json", exclude={"scope"} if policy.scope is None else None)
    canon = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class CompiledPolicy:
    policy: Policy
    matchers: tuple[Matcher, ...]
    version: str
    scope: Scope  # the tenants the policy acts in (FOUNDATION: any)


def compile_policy(policy: Policy) -> CompiledPolicy:
    matchers = tuple(parse_matcher(m) for m in policy.trigger.matchers)
    return CompiledPolicy(policy, matchers, policy_version(policy), policy.tenant_scope())


def _alert_tenant(policy: Policy, labels: dict[str, str]) -> tuple[str | None, str | None]:
    """The org/space the alert claims for its target app (the engine checks the claim against the platform);
    (None, None) when it names none, or when the policy acts on a fixed app (the alert's tenant is not the
    target's)."""
    org = labels.get(ORG_LABEL) or None
    if org is None or policy.target.app is not None:
        return None, None
    return org, labels.get(SPACE_LABEL) or None


@dataclass(frozen=True, slots=True)
class Planned:
    """A request, and why it must be refused before any rail (target labels missing), if so."""

    request: ActionRequest
    refusal: str | None = None


def _target(policy: Policy, labels: dict[str, str]) -> tuple[Target, str | None]:
    spec = policy.target
    app = spec.app if spec.app is not None else labels.get(spec.app_label)
    if app is None:
        return Target(""), f"alert lacks label {spec.app_label}"
    if not is_per_instance(policy.action.type):
        return Target(app), None  # app-level actions target the app, whatever instance alerted
    if spec.instance_label is None:
        return Target(app), f"policy target.instance_label is not set ({policy.action.type} needs it)"
    raw = labels.get(spec.instance_label)
    if raw is None:
        return Target(app), f"alert lacks label {spec.instance_label}"
    # ASCII digits only, bounded: str.isdigit() also accepts "²" (int() refuses it) and int() refuses more
    # than 4300 digits; either would raise here and lose the rest of the engine's batch of alerts.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > _MAX_INDEX_DIGITS:
        return Target(app), f"label {spec.instance_label}={raw[:40]!r} is not an instance index"
    return Target(app, int(raw)), None


def plan_alert(
    policies: list[CompiledPolicy], alert: Alert, now: datetime, modes: dict[str, Literal["dry_run", "live"]]
) -> list[Planned]:
    status = alert.status(now)
    out: list[Planned] = []
    fp = alert.fingerprint()
    start = alert.starts_at.isoformat() if alert.starts_at is not None else ""
    for cp in policies:
        p = cp.policy
        if not cp.matchers or (status == "resolved" and not p.trigger.on_resolved):
            continue
        if not matchers_match(cp.matchers, alert.labels):
            continue
        org, space = _alert_tenant(p, alert.labels)
        if org is not None and not cp.scope.sees(org, space):
            continue  # a space policy does not match another tenant's alert
        target, refusal = _target(p, alert.labels)
        key = f"{fp}@{start}" + ("/resolved" if status == "resolved" else "")
        req = ActionRequest(
            id=request_id(p.name, target, key),
            policy=p.name,
            policy_version=cp.version,
            action=p.action.type,
            target=target,
            params=p.action.model_dump(mode="json"),
            mode=modes.get(p.name, p.mode),
            created_at=now,
            trigger={
                "alert": dict(alert.labels),
                "annotations": dict(alert.annotations),
                "fingerprint": fp,
                "starts_at": start,
                "status": status,
            },
            org=org,
            space=space,
        )
        out.append(Planned(req, refusal))
    return out
