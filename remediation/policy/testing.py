"""``paramedic policy test``: unit tests for policies, in a promtool-like YAML format::

    policy_files: [policies.yaml]          # relative to this file
    global_rails: {cooldown: 5m}           # optional, remediation.global_rails
    tests:
      - name: second outage within the cooldown is refused
        platform: {apps: {checkout: {instances: 4, revisions: [v1, v2]}}}
        history:                           # actions already in the audit trail, relative to the start
          - {policy: restart-hung-instance, target: checkout/1, at: -2m, status: verified}
        alerts:                            # sent at start + at, in order
          - at: 0s
            labels: {alertname: LocalInstanceDown, app: checkout, app_instance: "1"}
            status: firing                 # or resolved (ends the alert with the same labels)
        expect:                            # every decision, in any order; params are a subset
          - {policy: restart-hung-instance, action: restart_instance, target: checkout/1,
             decision: deferred, rail: cooldown}

Each test runs the alerts through a :class:`~remediation.engine.RemediationEngine` in simulation (rails and
decisions as if live, no mutating platform call) over an in-memory platform and audit trail, with a virtual
clock starting at 2024-01-01T00:00:00Z. Decisions: ``executed``, ``dry_run``, ``refused`` (budget or circuit
breaker, with ``rail``), ``deferred`` (lock, cooldown, blast radius or max_concurrent said "not now", with
``rail``; still waiting when the test ends), ``expired`` (deferred, with ``rail``, until the alert resolved or
``max_defer`` passed), ``pending_approval``. Deferred requests are re-checked when an action finishes and
before each alert of the test, at its time: a request deferred by a cooldown is ``executed`` if a later alert
entry comes after the cooldown while the alert still fires.
"""

from __future__ import annotations

import asyncio
import difflib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from alerting.dispatch.config import parse_duration
from alerting.model import Alert
from metrics_store.yaml_errors import errors_with_lines, line_index, load_yaml
from remediation.audit import MemoryAuditLog
from remediation.config import GlobalRails, Policy
from remediation.model import ActionRequest, AuditEvent, EventKind, Target, request_id
from remediation.policy._sim import Decision, VirtualClock, decision_of, simulation_engine
from remediation.policy.loader import PolicyError, load_policies, policy_version
from remediation.sim import SimPlatform

__all__ = ["CaseResult", "FileResult", "run_policy_tests"]

T0 = datetime(2024, 1, 1, tzinfo=UTC)
_HISTORY_EVENTS: dict[str, tuple[EventKind, ...]] = {
    "verified": ("started", "succeeded", "verified"),
    "succeeded": ("started", "succeeded"),
    "failed": ("started", "failed"),
    "escalated": ("started", "succeeded", "verification_failed", "escalated"),
    "refused": ("refused",),
    "dry_run": ("dry_run",),
}


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _offset(value: str | float) -> timedelta:
    """``-2m``, ``30s``, ``0`` or seconds -> a signed offset from the start."""
    if isinstance(value, str):
        text = value.strip()
        secs = parse_duration(text.lstrip("+-"))
        return timedelta(seconds=-secs if text.startswith("-") else secs)
    return timedelta(seconds=float(value))


class AppSpec(_M):
    instances: int = Field(1, ge=0)
    revisions: list[str] = Field(default_factory=lambda: ["v1", "v2"])


class PlatformSpec(_M):
    apps: dict[str, AppSpec] = Field(default_factory=dict)


class HistoryEntry(_M):
    policy: str
    target: str
    at: str | float = "-1m"
    status: Literal["verified", "succeeded", "failed", "escalated", "refused", "dry_run"] = "verified"


class AlertEntry(_M):
    at: str | float = "0s"
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    status: Literal["firing", "resolved"] = "firing"


class Expectation(_M):
    policy: str
    action: str | None = None
    target: str | None = None
    decision: Literal["executed", "dry_run", "refused", "deferred", "expired", "pending_approval"]
    rail: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class TestCase(_M):
    name: str
    platform: PlatformSpec = Field(default_factory=PlatformSpec)
    history: list[HistoryEntry] = Field(default_factory=list)
    alerts: list[AlertEntry] = Field(default_factory=list)
    expect: list[Expectation] = Field(default_factory=list)


class TestFile(_M):
    policy_files: list[str]
    global_rails: GlobalRails = Field(default_factory=GlobalRails)
    tests: list[TestCase]


@dataclass
class CaseResult:
    name: str
    expected: list[dict[str, Any]]
    got: list[Decision]
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def diff(self) -> str:
        """Unified diff of expected vs got decisions (YAML, one decision per block)."""
        exp = yaml.safe_dump(sorted(self.expected, key=_sort_key), sort_keys=True).splitlines()
        got = yaml.safe_dump(
            sorted((d.as_dict() for d in self.got), key=_sort_key), sort_keys=True
        ).splitlines()
        return "\n".join(difflib.unified_diff(exp, got, "expected", "got", lineterm=""))


@dataclass
class FileResult:
    file: str
    cases: list[CaseResult]
    errors: list[str] = field(default_factory=list)  # file-level: unreadable, invalid, bad policies

    @property
    def ok(self) -> bool:
        return not self.errors and all(c.ok for c in self.cases)


def _sort_key(d: dict[str, Any]) -> tuple[str, str, str]:
    return (str(d.get("policy")), str(d.get("target")), str(d.get("decision")))


def _target(text: str) -> Target:
    app, _, idx = text.partition("/")
    return Target(app, int(idx)) if idx else Target(app)


def _matches(exp: Expectation, got: Decision) -> bool:
    if exp.policy != got.policy or exp.decision != got.decision:
        return False
    if exp.action is not None and exp.action != got.action:
        return False
    if exp.target is not None and exp.target != got.target:
        return False
    if exp.rail is not None and exp.rail != got.rail:
        return False
    return all(got.params.get(k) == v for k, v in exp.params.items())


def _seed_history(
    audit: MemoryAuditLog, policies: dict[str, Policy], case: TestCase, where: str
) -> list[str]:
    errors = []
    for i, h in enumerate(case.history):
        policy = policies.get(h.policy)
        if policy is None:
            errors.append(f"{where}: history[{i}].policy: no policy named {h.policy!r}")
            continue
        at = T0 + _offset(h.at)
        target = _target(h.target)
        req = ActionRequest(
            id=request_id(policy.name, target, f"history:{i}"),
            policy=policy.name,
            policy_version=policy_version(policy),
            action=policy.action.type,
            target=target,
            params=policy.action.model_dump(mode="json"),
            mode="live",
            created_at=at,
            trigger={"history": True},
        )
        audit.record(req)
        for kind in _HISTORY_EVENTS[h.status]:
            data = {"rail": "history", "reason": "seeded"} if kind == "refused" else {}
            audit.append(AuditEvent(req.id, kind, at, data))
    return errors


async def _run_case(case: TestCase, policies: list[Policy], rails: GlobalRails, where: str) -> CaseResult:
    expected = [e.model_dump(exclude_defaults=True) for e in case.expect]
    platform = SimPlatform()
    for app, spec in case.platform.apps.items():
        platform.add_app(app, spec.instances, spec.revisions)
    audit = MemoryAuditLog()
    errors = _seed_history(audit, {p.name: p for p in policies}, case, where)
    clock = VirtualClock(T0)
    engine = simulation_engine(policies, platform, audit, clock, rails)
    order: list[str] = []
    firing_since: dict[tuple[tuple[str, str], ...], datetime] = {}
    for entry in sorted(case.alerts, key=lambda a: _offset(a.at)):
        clock.now = now = T0 + _offset(entry.at)
        key = tuple(sorted(entry.labels.items()))
        if entry.status == "firing":
            starts = firing_since.setdefault(key, now)
            alert = Alert(dict(entry.labels), dict(entry.annotations), starts_at=starts)
        else:
            starts = firing_since.pop(key, now - timedelta(seconds=1))
            alert = Alert(dict(entry.labels), dict(entry.annotations), starts_at=starts, ends_at=now)
        for rec in await engine.handle([alert]):
            if rec.request.id not in order:
                order.append(rec.request.id)
    got = [decision_of(r) for r in (audit.get(i) for i in order) if r is not None]
    unmatched = list(got)
    missing = []
    for exp in case.expect:
        hit = next((g for g in unmatched if _matches(exp, g)), None)
        if hit is None:
            missing.append(exp)
        else:
            unmatched.remove(hit)
    if missing or unmatched:
        errors.append(f"{where}: {len(missing)} expected decisions missing, {len(unmatched)} unexpected")
    return CaseResult(case.name, expected, got, errors)


def _load(path: Path) -> tuple[TestFile | None, list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
        data = load_yaml(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return None, [f"{path}: cannot load: {exc}"]
    if not isinstance(data, dict):
        return None, [f"{path}: the top level must be a mapping {{policy_files, tests}}"]
    try:
        return TestFile.model_validate(data), []
    except ValidationError as exc:
        index = line_index(text)
        return None, [
            f"{path}:{ln}: {key}: {msg}" if ln is not None else f"{path}: {key}: {msg}"
            for ln, key, msg in errors_with_lines(exc, data, index, model=TestFile)
        ]


def run_policy_tests(path: Path | str) -> FileResult:
    """Run every test of the file at ``path``; never raises for bad input (errors are in the result)."""
    path = Path(path)
    spec, errors = _load(path)
    if spec is None:
        return FileResult(str(path), [], errors)
    try:
        loaded = load_policies([path.parent / f for f in spec.policy_files])
    except PolicyError as exc:
        return FileResult(str(path), [], [str(p) for p in exc.problems])
    policies = [lp.policy for lp in loaded]

    async def run_all() -> list[CaseResult]:
        return [
            await _run_case(case, policies, spec.global_rails, f"{path}: tests[{i}] {case.name!r}")
            for i, case in enumerate(spec.tests)
        ]

    return FileResult(str(path), asyncio.run(run_all()))
