"""Threshold gates of a canary (blue-green) deployment, as PromQL templates over each revision's instances.

A blue-green policy's ``action.gates`` is ``local`` (the default: the Mann-Whitney sample gates of
:mod:`remediation.actions.bluegreen` over the app's own ``http_requests_total``, unchanged), ``cloudfoundry``
(the preset below, over the Log Cache router data Paramedic stores per app instance) or a
:class:`CanaryGates` mapping::

    gates:
      preset: cloudfoundry          # optional: where checks without a query and `requests` come from
      min_requests: 20              # fewer requests to the new instances in the window: wait, no verdict
      window: 1m
      checks:
        - {name: error_ratio, max: 0.05, max_vs_baseline: 2, min_increase: 0.01}
        - {name: p95_latency_s, query: 'max(max_over_time(my_p95{app=$app, instance=~$instances}[$window]))',
           max: 1.5}

Placeholders in a query template: ``$app`` (the app key, a quoted PromQL string), ``$revision`` (quoted),
``$instances`` (a quoted regex matching exactly the instance indexes of one revision, for ``=~``),
``$window`` (a PromQL duration) and ``$window_s`` (the same in seconds). Values are quoted here, never
pasted raw, so an app key with quotes or regex metacharacters cannot change the query. Each template must
give one number (an aggregation over the instances). A check's value is computed twice, over the new
revision's instances (those the platform reports running ``deployment.revision``) and over the old one's;
it fails when the new value is above ``max``, or above ``max_vs_baseline`` times the old one *and* more
than ``min_increase`` above it (the judge: :class:`remediation.judge.ThresholdJudge`). No verdict while the
new instances saw fewer than ``min_requests`` requests in the window (``requests`` template): the action
waits (and applies its ``on_inconclusive`` after its waits). A new revision with no instance at all fails.

The ``cloudfoundry`` preset reads the per-instance series Paramedic stores from Log Cache (metric naming
contract: gorouter's ``http`` timer per app, ``source_id`` = the app GUID, ``instance_id`` = the index),
aggregated at Log Cache over one minute and stored under these names (see :data:`CF_STORED_SERIES`):
``cf_app_http_requests_per_second`` (requests), ``cf_app_http_5xx_per_second`` (5xx responses) and
``cf_app_http_latency_p95_ns`` (p95 duration, nanoseconds), per instance.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alerting.dispatch.config import Duration
from metrics_store.promql import QueryParseError, parse
from platforms.base import Deployment
from remediation.base import ActionContext, Verdict
from remediation.judge import INCONCLUSIVE, ThresholdJudge

__all__ = [
    "CF_STORED_SERIES",
    "PRESETS",
    "CanaryGates",
    "GateCheck",
    "GateOutcome",
    "GatePreset",
    "ThresholdGates",
    "promql_string",
    "render",
]

_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
_PLACEHOLDERS = frozenset({"app", "revision", "instances", "window", "window_s"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GateCheck(_Model):
    """One gate: a value per revision (``query``, a template) and when the new one fails."""

    name: str = Field(pattern=_NAME, description="Gate name (a preset's check when query is omitted).")
    query: str | None = Field(None, description="PromQL template giving one number for a set of instances.")
    max: float | None = Field(None, description="Fail when the new revision's value is above this.")
    max_vs_baseline: float | None = Field(
        None, gt=0, description="Fail when the new value is above this many times the old revision's ..."
    )
    min_increase: float = Field(0.0, ge=0, description="... and more than this above it (absolute).")


class CanaryGates(_Model):
    """The gates of a canary: checks over the new and the old revision's instances, see the module doc."""

    preset: Literal["cloudfoundry"] | None = None
    requests: str | None = Field(
        None, description="PromQL template: requests to the instances in the window."
    )
    min_requests: int = Field(
        20, ge=0, description="No verdict below this many requests to the new revision."
    )
    window: Duration = Field(60.0, description="Window of the gate queries ($window).")
    checks: list[GateCheck] = Field(default_factory=list, description="Default: the preset's checks.")


@dataclass(frozen=True, slots=True)
class GatePreset:
    requests: str
    checks: Mapping[str, GateCheck]


def _cf(metric: str, inner: str = "avg_over_time") -> str:
    return f"{inner}({metric}{{source_id=$app, instance_id=~$instances}}[$window])"


# The series the Cloud Foundry preset reads: name -> the Log Cache query (per app, {app_guid} its GUID) whose
# per-instance result the Log Cache poller stores under that name. They are the per-app queries of the KPI
# catalogue (platforms/cloudfoundry/kpis.yaml, `app_queries`; a test keeps the two equal).
_BY_INSTANCE = "by (source_id, instance_id)"
CF_STORED_SERIES: Mapping[str, str] = {
    "cf_app_http_requests_per_second": (
        f'sum {_BY_INSTANCE} (count_over_time(http{{source_id="{{app_guid}}"}}[1m])) / 60'
    ),
    "cf_app_http_5xx_per_second": (
        f'sum {_BY_INSTANCE} (count_over_time(http{{source_id="{{app_guid}}",status_code=~"5.."}}[1m])) / 60'
    ),
    "cf_app_http_latency_p95_ns": (
        f'max {_BY_INSTANCE} (quantile_over_time(0.95, http{{source_id="{{app_guid}}"}}[1m]))'
    ),
}
_CF_5XX = _cf("cf_app_http_5xx_per_second")
_CF_REQUESTS = _cf("cf_app_http_requests_per_second")

PRESETS: Mapping[str, GatePreset] = {
    "cloudfoundry": GatePreset(
        requests=f"sum({_CF_REQUESTS}) * $window_s",
        checks={
            "error_ratio": GateCheck(
                name="error_ratio",
                query=f"(sum({_CF_5XX}) or vector(0)) / sum({_CF_REQUESTS})",
                max=0.05,
                max_vs_baseline=2.0,
                min_increase=0.01,
            ),
            "p95_latency_s": GateCheck(
                name="p95_latency_s",
                query=f"max({_cf('cf_app_http_latency_p95_ns', 'max_over_time')}) / 1e9",
                max=2.0,
                max_vs_baseline=1.5,
                min_increase=0.1,
            ),
        },
    ),
}


def promql_string(value: str) -> str:
    """``value`` as a double-quoted PromQL string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _duration(seconds: float) -> str:
    return f"{int(seconds)}s" if seconds == int(seconds) else f"{round(seconds * 1000)}ms"


def render(template: str, *, app: str, revision: str, instances: Sequence[int], window_s: float) -> str:
    """``template`` with its placeholders replaced by safely quoted values (see the module docstring)."""
    alternation = "|".join(re.escape(str(int(i))) for i in sorted(set(instances)))
    return string.Template(template).safe_substitute(
        app=promql_string(app),
        revision=promql_string(revision),
        instances=promql_string(alternation),
        window=_duration(window_s),
        window_s=repr(float(window_s)),
    )


def _template_problems(template: str, where: tuple[str, ...]) -> list[tuple[tuple[str, ...], str]]:
    unknown = {
        m.group("named") or m.group("braced")
        for m in string.Template.pattern.finditer(template)
        if (m.group("named") or m.group("braced"))
    } - _PLACEHOLDERS
    if unknown:
        return [(where, f"unknown placeholder(s) {sorted(unknown)}; known: {sorted(_PLACEHOLDERS)}")]
    try:
        parse(render(template, app="app", revision="r", instances=[0, 1], window_s=60.0))
    except (QueryParseError, ValueError) as exc:
        return [(where, f"not PromQL: {exc}")]
    return []


@dataclass(frozen=True, slots=True)
class ThresholdGates:
    """:class:`CanaryGates` with the preset applied: the requests template and every check's query."""

    requests: str
    min_requests: int
    window_s: float
    checks: tuple[GateCheck, ...]

    @staticmethod
    def problems_of(spec: CanaryGates) -> list[tuple[tuple[str, ...], str]]:
        """Cross-field problems of ``spec`` (key paths under ``gates``), for the policy loader."""
        preset = PRESETS.get(spec.preset) if spec.preset else None
        out: list[tuple[tuple[str, ...], str]] = []
        if spec.requests is None and preset is None:
            out.append((("requests",), "needed without a preset (requests to the instances in the window)"))
        elif spec.requests is not None:
            out += _template_problems(spec.requests, ("requests",))
        if not spec.checks and preset is None:
            out.append((("checks",), "needed without a preset: at least one check"))
        names = [c.name for c in spec.checks]
        for i, c in enumerate(spec.checks):
            where = ("checks", str(i))
            if names.count(c.name) > 1:
                out.append(((*where, "name"), f"check {c.name!r} given twice"))
            if c.query is None and (preset is None or c.name not in preset.checks):
                known = sorted(preset.checks) if preset else []
                out.append(
                    ((*where, "query"), f"needed: no preset check named {c.name!r} (preset has {known})")
                )
            elif c.query is not None:
                out += _template_problems(c.query, (*where, "query"))
            if c.max is None and c.max_vs_baseline is None and c.query is not None:
                out.append((where, "give max and/or max_vs_baseline"))
        return out

    @classmethod
    def resolve(cls, spec: CanaryGates | Literal["cloudfoundry"]) -> ThresholdGates:
        """The gates ``spec`` names (assumed free of :meth:`problems_of`)."""
        if isinstance(spec, str):
            spec = CanaryGates(preset=spec)
        preset = PRESETS.get(spec.preset) if spec.preset else None
        checks: list[GateCheck] = []
        for given in spec.checks or list(preset.checks.values() if preset else []):
            base = preset.checks.get(given.name) if preset and given.query is None else None
            if base is None:
                checks.append(given)
            else:  # a preset's check with the thresholds given here
                checks.append(base.model_copy(update=given.model_dump(exclude_unset=True, exclude={"name"})))
        requests = spec.requests or (preset.requests if preset else "")
        return cls(requests, spec.min_requests, spec.window, tuple(checks))

    async def _value(
        self,
        ctx: ActionContext,
        template: str,
        app: str,
        revision: str,
        instances: Sequence[int],
        at: datetime,
    ) -> float:
        expr = render(template, app=app, revision=revision, instances=instances, window_s=self.window_s)
        found = await ctx.query_range(expr, at, at, 1.0)
        values = [v for _, points in found for _, v in points[-1:] if math.isfinite(v)]
        return math.fsum(values) if values else math.nan

    async def evaluate(
        self, ctx: ActionContext, app: str, dep: Deployment, at: datetime, baseline: dict[str, float]
    ) -> GateOutcome:
        """Judge ``dep``'s new revision against the old one at ``at``. ``baseline`` holds the old revision's
        last values with enough traffic (updated here), used when the old revision serves too little."""
        instances = await ctx.call("app_instances", ctx.platform.app_instances, app)
        new = [i.index for i in instances if i.revision == dep.revision]
        old = [i.index for i in instances if i.revision == dep.previous_revision]
        if not new:
            why = f"no instance of revision {dep.revision} reported by the platform: is it running?"
            return GateOutcome("cancel", {c.name: Verdict(False, why, {}) for c in self.checks})
        req_new = await self._value(ctx, self.requests, app, dep.revision, new, at)
        req_old = await self._value(ctx, self.requests, app, dep.previous_revision, old, at) if old else 0.0
        req_new = 0.0 if math.isnan(req_new) else req_new
        traffic = {"requests_new": req_new, "requests_old": 0.0 if math.isnan(req_old) else req_old}
        if req_new < self.min_requests:
            why = (
                f"{INCONCLUSIVE}: {req_new:.0f} requests to {dep.revision} in the window, "
                f"need {self.min_requests}"
            )
            stats = traffic | {INCONCLUSIVE: 1.0}
            return GateOutcome("wait", {c.name: Verdict(True, why, dict(stats)) for c in self.checks})
        old_enough = bool(old) and traffic["requests_old"] >= self.min_requests
        verdicts: dict[str, Verdict] = {}
        for c in self.checks:
            query = c.query or ""
            v_new = await self._value(ctx, query, app, dep.revision, new, at)
            if old_enough:
                v_old = await self._value(ctx, query, app, dep.previous_revision, old, at)
                if math.isfinite(v_old):
                    baseline[c.name] = v_old
            judge = ThresholdJudge(
                name=c.name, max_value=c.max, max_ratio=c.max_vs_baseline, min_increase=c.min_increase
            )
            old_values = [baseline[c.name]] if c.name in baseline else []
            v = judge.judge(old_values, [v_new])
            verdicts[c.name] = Verdict(v.passed, v.reason, v.stats | traffic)
        if all(v.passed for v in verdicts.values()):
            decision: Literal["continue", "cancel", "wait"] = "continue"
            if any(v.stats.get(INCONCLUSIVE, 0.0) == 1.0 for v in verdicts.values()):
                decision = "wait"
        else:
            decision = "cancel"
        return GateOutcome(decision, verdicts)


@dataclass(frozen=True, slots=True)
class GateOutcome:
    """What the gates say at one point: ``continue`` (all passed), ``cancel`` (one failed) or ``wait``
    (too little traffic or no value yet: no verdict), with each gate's verdict (values in ``stats``)."""

    decision: Literal["continue", "cancel", "wait"]
    verdicts: dict[str, Verdict]
