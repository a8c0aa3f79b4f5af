"""Convert a Cloud Foundry App Autoscaler policy (``policy.json``) into Paramedic rules and policies.

* every ``scaling_rules[i]`` becomes one alerting rule (PromQL over the mapped metric, compared with the
  threshold, ``for: breach_duration_secs``) and one ``scale`` policy triggered by it (``adjustment``,
  ``instance_min_count``..``instance_max_count``, ``rails.cooldown = cool_down_secs``, ``mode: dry_run``);
* every recurring or specific-date schedule becomes two scheduled policies: at the start, scale to the
  schedule's ``initial_min_instance_count`` (else ``instance_min_count``); at the end, back to the policy's
  default ``instance_min_count``.

The autoscaler's metric types map to PromQL through a table (``$app`` and ``$metric`` are substituted);
``--metric-map`` overrides entries. Days of week are ISO (1 = Monday .. 7 = Sunday) as in the autoscaler.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from metrics_store.promql import QueryParseError, parse
from metrics_store.yaml_errors import key_path, load_yaml
from remediation.base import RemediationError
from remediation.config import PolicyFile

__all__ = [
    "DEFAULT_METRIC_MAP",
    "AutoscalerError",
    "AutoscalerPolicy",
    "Conversion",
    "convert",
    "load_autoscaler_policy",
]

DEFAULT_METRIC_MAP: dict[str, str] = {
    "memoryused": 'avg by (org, space, app) (memory{app="$app"}) / 1048576',  # MB
    "memoryutil": 'avg by (org, space, app) (memory{app="$app"} / memory_quota{app="$app"}) * 100',
    "cpu": 'avg by (org, space, app) (cpu{app="$app"})',
    "cpuutil": 'avg by (org, space, app) (cpu_entitlement{app="$app"})',
    "diskutil": 'avg by (org, space, app) (disk{app="$app"} / disk_quota{app="$app"}) * 100',
    # ms
    "responsetime": (
        'avg by (org, space, app) (haproxy_backend_response_time_average_seconds{app="$app"}) * 1000'
    ),
    # req/s
    "throughput": 'sum by (org, space, app) (rate(haproxy_backend_http_responses_total{app="$app"}[1m]))',
    "custom": 'avg by (org, space, app) ($metric{app="$app"})',
}
_BUILTIN = set(DEFAULT_METRIC_MAP) - {"custom"}
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class AutoscalerError(RemediationError):
    """The autoscaler policy or metric map is unreadable or invalid; the message names the JSON key."""


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScalingRule(_M):
    metric_type: str = Field(pattern=r"^[a-zA-Z0-9_]+$")
    threshold: float
    operator: Literal["<", ">", "<=", ">="]
    adjustment: str = Field(pattern=r"^[-+][1-9]+[0-9]*%?$")
    breach_duration_secs: int = Field(120, ge=60, le=3600)
    cool_down_secs: int = Field(300, ge=60, le=3600)


class RecurringSchedule(_M):
    start_date: str | None = None
    end_date: str | None = None
    start_time: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end_time: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    days_of_week: list[int] | None = None
    days_of_month: list[int] | None = None
    instance_min_count: int = Field(ge=1)
    instance_max_count: int = Field(ge=1)
    initial_min_instance_count: int | None = Field(None, ge=1)

    @field_validator("days_of_week")
    @classmethod
    def _week(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (not v or any(not 1 <= d <= 7 for d in v)):
            raise ValueError("days_of_week must be a non-empty list of 1 (Monday) .. 7 (Sunday)")
        return v

    @field_validator("days_of_month")
    @classmethod
    def _month(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (not v or any(not 1 <= d <= 31 for d in v)):
            raise ValueError("days_of_month must be a non-empty list of 1 .. 31")
        return v


class SpecificDate(_M):
    start_date_time: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")
    end_date_time: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")
    instance_min_count: int = Field(ge=1)
    instance_max_count: int = Field(ge=1)
    initial_min_instance_count: int | None = Field(None, ge=1)


class Schedules(_M):
    timezone: str
    recurring_schedule: list[RecurringSchedule] = Field(default_factory=list)
    specific_date: list[SpecificDate] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v


class AutoscalerPolicy(_M):
    instance_min_count: int = Field(ge=1)
    instance_max_count: int = Field(ge=1)
    scaling_rules: list[ScalingRule] = Field(default_factory=list)
    schedules: Schedules | None = None


@dataclass
class Conversion:
    """The converted documents (plain data, ready for YAML) and anything that did not carry over."""

    rules: dict[str, Any]
    policies: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def load_autoscaler_policy(path: Path | str) -> AutoscalerPolicy:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AutoscalerError(f"{path}: cannot read: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise AutoscalerError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    return parse_autoscaler_policy(data, str(path))


def parse_autoscaler_policy(data: Any, filename: str = "<policy.json>") -> AutoscalerPolicy:
    try:
        policy = AutoscalerPolicy.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{filename}: {key_path(tuple(e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors()
        ]
        raise AutoscalerError("\n".join(lines)) from exc
    problems = []
    if policy.instance_min_count > policy.instance_max_count:
        problems.append(f"{filename}: instance_min_count: is above instance_max_count")
    if not policy.scaling_rules and policy.schedules is None:
        problems.append(f"{filename}: (top level): give scaling_rules or schedules")
    scheds = policy.schedules
    for i, r in enumerate(scheds.recurring_schedule if scheds else []):
        if r.days_of_week is not None and r.days_of_month is not None:
            problems.append(
                f"{filename}: schedules.recurring_schedule[{i}]: give days_of_week or days_of_month"
            )
    items: list[tuple[str, RecurringSchedule | SpecificDate]] = []
    if scheds is not None:
        items += [(f"recurring_schedule[{i}]", r) for i, r in enumerate(scheds.recurring_schedule)]
        items += [(f"specific_date[{i}]", d) for i, d in enumerate(scheds.specific_date)]
    for where, sched in items:
        if sched.instance_min_count > sched.instance_max_count:
            problems.append(f"{filename}: schedules.{where}.instance_min_count: is above instance_max_count")
    if problems:
        raise AutoscalerError("\n".join(problems))
    return policy


def load_metric_map(path: Path | str) -> dict[str, str]:
    """A YAML/JSON mapping ``{metric_type: PromQL template}``; merged over :data:`DEFAULT_METRIC_MAP`."""
    import yaml  # noqa: PLC0415 -- only the CLI path needs it

    path = Path(path)
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AutoscalerError(f"{path}: cannot load the metric map: {exc}") from exc
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise AutoscalerError(f"{path}: the metric map must be a mapping of metric type to a PromQL template")
    return {**DEFAULT_METRIC_MAP, **data}


def _slug(text: str) -> str:
    out = "".join(c if c.isalnum() else "_" for c in text)
    return out.strip("_") or "app"


def _expr(metric_map: Mapping[str, str], rule: ScalingRule, app: str, where: str) -> str:
    template = metric_map.get(rule.metric_type)
    if template is None:
        if rule.metric_type in _BUILTIN:
            raise AutoscalerError(
                f"{where}.metric_type: no PromQL for {rule.metric_type!r} in the metric map"
            )
        template = metric_map["custom"]
    base = template.replace("$app", app).replace("$metric", rule.metric_type)
    expr = f"{base} {rule.operator} {rule.threshold:g}"
    try:
        parse(expr)  # guarded: no stack-overflowing text or regex reaches the native parser
    except QueryParseError as exc:
        raise AutoscalerError(
            f"{where}.metric_type: the mapped PromQL {expr!r} does not parse: {exc}"
        ) from exc
    return expr


def _cron(minute_hour: str, r: RecurringSchedule) -> str:
    minute, hour = (int(x) for x in minute_hour.split(":")[::-1])
    if r.days_of_month:
        return f"{minute} {hour} {','.join(str(d) for d in sorted(r.days_of_month))} * *"
    days = ",".join(_DAYS[d - 1] for d in sorted(r.days_of_week or [])) or "*"
    return f"{minute} {hour} * * {days}"


def _at(local: str, tz: str) -> str:
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(tz)).isoformat()


def _scale_to(
    name: str, app: str, count: int, *, lo: int, hi: int, trigger: dict[str, str], text: str
) -> dict[str, Any]:
    return {
        "name": name,
        "description": text,
        "mode": "dry_run",
        "trigger": {"schedule": trigger},
        "target": {"app": app},
        "action": {"type": "scale", "instances": count, "min_instances": lo, "max_instances": hi},
        "rails": {"cooldown": "0s"},
        "verify": {"on_failure": "none"},
    }


def _schedule_policies(
    policy: AutoscalerPolicy, s: Schedules, app: str, slug: str, warnings: list[str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    base_min, base_max = policy.instance_min_count, policy.instance_max_count
    windows: list[tuple[str, RecurringSchedule | SpecificDate, dict[str, str], dict[str, str]]] = []
    for i, rs in enumerate(s.recurring_schedule):
        start = {"cron": _cron(rs.start_time, rs), "timezone": s.timezone}
        end = {"cron": _cron(rs.end_time, rs), "timezone": s.timezone}
        windows.append((f"recurring_schedule[{i}]", rs, start, end))
        if rs.start_date or rs.end_date:
            warnings.append(
                f"schedules.recurring_schedule[{i}]: start_date/end_date are not carried over "
                "(cron schedules have no date range); remove the policies when the range ends"
            )
    for i, sd in enumerate(s.specific_date):
        start = {"at": _at(sd.start_date_time, s.timezone), "timezone": s.timezone}
        end = {"at": _at(sd.end_date_time, s.timezone), "timezone": s.timezone}
        windows.append((f"specific_date[{i}]", sd, start, end))
    for where, sched, start, end in windows:
        name = f"{slug}-schedule-{where.replace('_', '-').replace('[', '-').rstrip(']')}"
        text = f"Imported from App Autoscaler schedules.{where}"
        count = sched.initial_min_instance_count or sched.instance_min_count
        out.append(_scale_to(
            f"{name}-start", app, count, lo=sched.instance_min_count, hi=sched.instance_max_count,
            trigger=start, text=f"{text} (start)",
        ))  # fmt: skip
        out.append(_scale_to(
            f"{name}-end", app, base_min, lo=base_min, hi=base_max, trigger=end, text=f"{text} (end)"
        ))  # fmt: skip
    return out


def convert(policy: AutoscalerPolicy, app: str, metric_map: Mapping[str, str] | None = None) -> Conversion:
    """Convert ``policy`` for ``app``; raises :class:`AutoscalerError` when a mapped expression is invalid."""
    mmap = {**DEFAULT_METRIC_MAP, **(metric_map or {})}
    slug = _slug(app)
    rules: list[dict[str, Any]] = []
    policies: list[dict[str, Any]] = []
    warnings: list[str] = []
    for i, r in enumerate(policy.scaling_rules):
        direction = "out" if r.adjustment.startswith("+") else "in"
        alertname = f"Autoscaler_{slug}_{_slug(r.metric_type)}_{direction}_{i}"
        expr = _expr(mmap, r, app, f"scaling_rules[{i}]")
        rules.append({
            "alert": alertname,
            "expr": expr,
            "for": f"{r.breach_duration_secs}s",
            "labels": {"app": app, "autoscaler_rule": str(i), "severity": "info"},
            "annotations": {
                "summary": f"{app}: {r.metric_type} {r.operator} {r.threshold:g}"
                f" for {r.breach_duration_secs}s",
                "description": f"App Autoscaler rule {i}: scale {r.adjustment}",
            },
        })  # fmt: skip
        policies.append({
            "name": f"{slug}-autoscale-{_slug(r.metric_type)}-{direction}-{i}",
            "description": f"Imported from App Autoscaler scaling_rules[{i}]",
            "mode": "dry_run",
            "trigger": {"matchers": [f'alertname="{alertname}"']},
            "target": {"app": app, "app_label": "app"},
            "action": {
                "type": "scale",
                "adjustment": r.adjustment,
                "min_instances": policy.instance_min_count,
                "max_instances": policy.instance_max_count,
            },
            "rails": {"cooldown": f"{r.cool_down_secs}s"},
            "verify": {"on_failure": "none"},
        })  # fmt: skip
    if policy.scaling_rules:
        warnings.append(
            "a breach that persists scales once per alert occurrence (the autoscaler re-scales after each "
            "cool-down); shorten the rule's `for:` or add more rules if you need repeated steps"
        )
    if policy.schedules is not None:
        policies.extend(_schedule_policies(policy, policy.schedules, app, slug, warnings))
    policies_doc = {"policies": policies}
    PolicyFile.model_validate(policies_doc)  # the output must load; a failure here is a bug
    rules_doc = {"groups": [{"name": f"autoscaler-{slug}", "rules": rules}]} if rules else {"groups": []}
    return Conversion(rules_doc, policies_doc, warnings)
