"""Metric-gated blue-green deployment with automatic rollback (action ``blue_green``).

:class:`BlueGreenAction` starts ``revision`` beside the live one with ``steps[0]`` percent of the traffic and
walks the weights in ``steps``. At each step it observes for ``step_duration``, gathers per-revision samples
of every gate metric over the step's window and judges new against old with :class:`MannWhitneyJudge`:

* ``error_ratio`` — 5xx share of requests per instance; fails when significantly higher *and* the mean rises
  by more than ``max_error_ratio_increase`` (absolute);
* ``latency`` — per-instance p90 from the request-duration histogram; fails when significantly higher *and*
  the median rises by more than ``max_latency_increase_pct`` percent.

Each step is recorded as a ``step`` audit event (``weight``, ``passed``, ``verdicts`` with the judge's
``reason`` and ``stats``). A failed gate, or any failed platform call, cancels the deployment (all traffic
back to the previous revision, new instances stopped) and the result is ``ok=False`` with the reason. After
the last step the deployment is promoted and the result carries a ``revert`` that rolls the app back to the
previous revision (``platform.rollback``).

Gates: ``params.gates`` is ``local`` (the default: the two gates above, judged as described here) or
``cloudfoundry`` / a :class:`~remediation.gates.CanaryGates` mapping: threshold gates over PromQL templates
evaluated for the new and the old revision's instances at the end of each observation
(:meth:`remediation.gates.ThresholdGates.evaluate`). There, too little traffic to the new instances is
inconclusive (the step waits, then ``on_inconclusive``), a failed gate cancels, and a new revision with no
instance reported by the platform fails; the revision may also come from the triggering alert's ``revision``
label.

Samples (``local`` gates) come from a :class:`SampleSource`; the default :class:`PromQLSamples` runs one
``query_range`` per metric over the step window (``sample_step_s`` apart, so each instance's series gives
many points) and groups the points by the series' ``revision`` label — or, when a series has none, by the
revision the platform says its ``app_instance`` runs. Points of one series are autocorrelated (overlapping
rate windows), which inflates the test's significance; the effect-size and tolerance bounds are what keeps
that from failing good releases.

Inconclusive gates (too few samples on a side, Kayenta's NODATA): when the old revision has too few samples
(at 100 % it gets no traffic) the last step's old samples are the baseline; otherwise the action keeps
observing for up to ``max_inconclusive_waits`` more ``step_duration``s, then applies ``on_inconclusive``
(``"pass"`` by default, recorded in the verdict's reason; ``"fail"`` cancels) — except that a new revision
with no samples at all for every metric fails (absence is not scarcity: it crashed or is not scraped).

In a simulation (the engine answers mutating calls with ``None``) the action makes the calls of a run whose
gates all pass, without waiting or judging, and says so (``data["simulated"]``). When the engine stops
mid-deployment (``ctx.sleep`` raises), the deployment is cancelled like on any other failure.
"""

from __future__ import annotations

import asyncio
import math
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, Field

from alerting.dispatch.config import Duration
from platforms.base import Deployment
from remediation.base import ActionContext, ActionParams, ActionResult, Verdict
from remediation.gates import CanaryGates, ThresholdGates
from remediation.judge import MannWhitneyJudge, is_inconclusive
from remediation.model import Target

__all__ = [
    "DEFAULT_ERROR_RATIO_EXPR",
    "DEFAULT_LATENCY_EXPR",
    "BlueGreenAction",
    "BlueGreenParams",
    "GateSamples",
    "PromQLSamples",
    "SampleSource",
]


class BlueGreenParams(ActionParams):
    """Metric-gated blue-green: start ``revision`` beside the live one, shift traffic through ``steps``
    (percent of traffic to the new revision), judging the new against the old at each step."""

    type: Literal["blue_green"]
    revision: str | None = Field(None, description="Revision to deploy (default: given by the request).")
    steps: list[Annotated[int, Field(gt=0, le=100)]] = Field(default_factory=lambda: [10, 50, 100])
    step_duration: Duration = Field(30.0, description="Observation time per step before judging.")
    max_error_ratio_increase: float = Field(
        0.01, ge=0, description="Fail when new error ratio exceeds old by more than this (absolute)."
    )
    max_latency_increase_pct: float = Field(20.0, ge=0, description="Fail when median latency rises more.")
    alpha: float = Field(0.05, gt=0, lt=1, description="Significance level of the Mann-Whitney U test.")
    min_effect_size: float = Field(
        0.2, ge=0, le=1, description="Minimum rank-biserial effect size for a significant difference to fail."
    )
    gates: Literal["local", "cloudfoundry"] | CanaryGates = Field(
        "local",
        description="local: the sample gates above over http_requests_total; cloudfoundry or a mapping: "
        "threshold gates over PromQL templates (remediation.gates).",
    )

    def problems(self) -> list[tuple[tuple[str, ...], str]]:
        if not isinstance(self.gates, CanaryGates):
            return []
        return [(("gates", *path), msg) for path, msg in ThresholdGates.problems_of(self.gates)]


# Samples of one gate: {metric: {revision: values}}.
GateSamples = dict[str, dict[str, list[float]]]

_NOT_SERVED = 'route!~"/metrics|/healthz|/_.*"'  # scrapes, health checks and fault control are not traffic
_BY = "app_instance, revision"
# Per-instance 5xx ratio; "or ... * 0" keeps instances without any 5xx series (ratio 0, not absent).
DEFAULT_ERROR_RATIO_EXPR = (
    f'(sum by ({_BY}) (rate(http_requests_total{{app="$app", code=~"5..", {_NOT_SERVED}}}[$window]))'
    f' or sum by ({_BY}) (rate(http_requests_total{{app="$app", {_NOT_SERVED}}}[$window])) * 0)'
    f' / sum by ({_BY}) (rate(http_requests_total{{app="$app", {_NOT_SERVED}}}[$window]))'
)
DEFAULT_LATENCY_EXPR = (
    f"histogram_quantile(0.9, sum by ({_BY}, le) "
    f'(rate(http_request_duration_seconds_bucket{{app="$app", {_NOT_SERVED}}}[$window])))'
)


class SampleSource(Protocol):
    """Gathers the gate samples of ``app`` between ``start`` and ``end``: ``{metric: {revision: values}}``
    for the metrics ``error_ratio`` and ``latency``. Called from the action's task only."""

    async def samples(self, ctx: ActionContext, app: str, start: datetime, end: datetime) -> GateSamples: ...


class PromQLSamples:
    """:class:`SampleSource` over the metrics store. Expressions are templates: ``$app`` is the app's name,
    ``$window`` the rate window; each must return one series per instance with ``revision_label`` (or at
    least ``instance_label``, mapped to a revision through ``platform.app_instances``)."""

    def __init__(
        self,
        *,
        error_ratio_expr: str = DEFAULT_ERROR_RATIO_EXPR,
        latency_expr: str = DEFAULT_LATENCY_EXPR,
        rate_window: str = "30s",
        step_s: float = 5.0,
        revision_label: str = "revision",
        instance_label: str = "app_instance",
    ) -> None:
        self.exprs = {"error_ratio": error_ratio_expr, "latency": latency_expr}
        self.rate_window = rate_window
        self.step_s = step_s
        self.revision_label = revision_label
        self.instance_label = instance_label

    def expr(self, metric: str, app: str) -> str:
        return string.Template(self.exprs[metric]).safe_substitute(app=app, window=self.rate_window)

    async def samples(self, ctx: ActionContext, app: str, start: datetime, end: datetime) -> GateSamples:
        out: GateSamples = {}
        by_instance: dict[str, str] | None = None
        for metric in self.exprs:
            per_rev: dict[str, list[float]] = {}
            for labels, points in await ctx.query_range(self.expr(metric, app), start, end, self.step_s):
                revision = labels.get(self.revision_label)
                if not revision:
                    if by_instance is None:
                        instances = await ctx.call("app_instances", ctx.platform.app_instances, app)
                        by_instance = {str(i.index): i.revision for i in instances}
                    revision = by_instance.get(labels.get(self.instance_label, ""), "")
                if revision:
                    per_rev.setdefault(revision, []).extend(v for _, v in points)
            out[metric] = per_rev
        return out


@dataclass(frozen=True, slots=True)
class _Gate:
    judge: MannWhitneyJudge
    higher_is_worse: bool = True


_SIMULATED = "(simulated)"  # deployment id in a simulation, where start_deployment answers nothing


class _StepError(Exception):
    """A platform call of the deployment failed (the cause is chained)."""

    def __init__(self, call: str, weight: int) -> None:
        super().__init__(call)
        self.call = call
        self.weight = weight


def _jsonable(stats: Mapping[str, float]) -> dict[str, float | str]:
    return {k: v if math.isfinite(v) else str(v) for k, v in stats.items()}


def _verdict_data(v: Verdict) -> dict[str, Any]:
    return {"passed": v.passed, "reason": v.reason, "stats": _jsonable(v.stats)}


class BlueGreenAction:
    """Implements :class:`remediation.base.Action`; see the module docstring."""

    name = "blue_green"
    params_model: type[ActionParams] = BlueGreenParams
    # rollback: the revert after a promotion
    mutates = frozenset(
        {"start_deployment", "set_deployment_weight", "promote_deployment", "cancel_deployment", "rollback"}
    )
    per_instance = False
    needs_instance_count = False

    def instances_down(self, params: BaseModel, instances: int) -> int:
        return 0  # the new revision runs beside the old one

    def __init__(  # noqa: PLR0913 - the analysis settings of a blue-green policy, keyword-only, each with its default
        self,
        *,
        samples: SampleSource | None = None,
        error_ratio_expr: str = DEFAULT_ERROR_RATIO_EXPR,
        latency_expr: str = DEFAULT_LATENCY_EXPR,
        rate_window: str = "30s",
        sample_step_s: float = 5.0,
        revision_label: str = "revision",
        min_samples: int = 5,
        max_inconclusive_waits: int = 2,
        on_inconclusive: Literal["pass", "fail"] = "pass",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.samples: SampleSource = samples or PromQLSamples(
            error_ratio_expr=error_ratio_expr,
            latency_expr=latency_expr,
            rate_window=rate_window,
            step_s=sample_step_s,
            revision_label=revision_label,
        )
        self.min_samples = min_samples
        self.max_inconclusive_waits = max_inconclusive_waits
        self.on_inconclusive = on_inconclusive
        self._now = now

    def _gates(self, p: BlueGreenParams) -> dict[str, _Gate]:
        common: dict[str, Any] = {
            "alpha": p.alpha,
            "min_effect_size": p.min_effect_size,
            "min_samples": self.min_samples,
        }
        return {
            "error_ratio": _Gate(
                MannWhitneyJudge(max_increase=p.max_error_ratio_increase, tolerance="absolute", **common)
            ),
            "latency": _Gate(
                MannWhitneyJudge(max_increase=p.max_latency_increase_pct, tolerance="relative_pct", **common)
            ),
        }

    def _sample_verdicts(
        self, got: GateSamples, dep: Deployment, gates: dict[str, _Gate], baseline: dict[str, list[float]]
    ) -> dict[str, Verdict]:
        """The ``local`` gates: each metric's samples, new revision against old (or the carried baseline)."""
        verdicts: dict[str, Verdict] = {}
        for metric, gate in gates.items():
            per_rev = got.get(metric, {})
            old = [v for v in per_rev.get(dep.previous_revision, []) if math.isfinite(v)]
            new = per_rev.get(dep.revision, [])
            carried = len(old) < self.min_samples and metric in baseline
            if carried:
                old = baseline[metric]
            elif len(old) >= self.min_samples:
                baseline[metric] = old
            v = gate.judge.judge(old, new, higher_is_worse=gate.higher_is_worse)
            if carried:
                v = Verdict(v.passed, f"{v.reason} [old: previous step's samples]", v.stats)
            verdicts[metric] = v
        return verdicts

    async def _observe(
        self,
        ctx: ActionContext,
        app: str,
        *,
        dep: Deployment,
        params: BlueGreenParams,
        gates: dict[str, _Gate],
        baseline: dict[str, list[float]],
        threshold_baseline: dict[str, float],
    ) -> dict[str, Verdict]:
        """Watch one step; the verdict of every gate (waiting longer while one is inconclusive)."""
        start = self._now()
        await ctx.sleep(params.step_duration)
        verdicts: dict[str, Verdict] = {}
        thresholds = None if params.gates == "local" else ThresholdGates.resolve(params.gates)
        for attempt in range(self.max_inconclusive_waits + 1):
            if thresholds is not None:
                outcome = await thresholds.evaluate(ctx, app, dep, self._now(), threshold_baseline)
                verdicts = outcome.verdicts
                if outcome.decision == "cancel":
                    return verdicts
            else:
                got = await self.samples.samples(ctx, app, start, self._now())
                verdicts = self._sample_verdicts(got, dep, gates, baseline)
            if not any(is_inconclusive(v) for v in verdicts.values()):
                break
            if attempt < self.max_inconclusive_waits:
                await ctx.sleep(params.step_duration)
        if thresholds is None and all(v.stats.get("n_new", 0.0) == 0 for v in verdicts.values()):
            # Absence is not scarcity: a new revision that never reports (crashed, not scraped) fails.
            why = f"no samples of {dep.revision} at all: is it running, and are its instances scraped?"
            return {m: Verdict(False, why, v.stats) for m, v in verdicts.items()}
        if self.on_inconclusive == "fail":
            verdicts = {
                m: Verdict(False, v.reason, v.stats) if is_inconclusive(v) else v for m, v in verdicts.items()
            }
        return verdicts

    async def _cancel(self, ctx: ActionContext, deployment: str) -> str:
        """Cancel (automatic rollback); what happened, for the result's detail."""
        try:
            await ctx.call("cancel_deployment", ctx.platform.cancel_deployment, deployment)
        except Exception as exc:  # reported, never raised: the failure that led here is the result
            return f"cancel_deployment failed too: {exc}"
        return "deployment canceled, traffic back on the previous revision"

    async def _simulated(
        self, ctx: ActionContext, revision: str, params: BlueGreenParams, data: dict[str, Any]
    ) -> ActionResult:
        """The calls a live run makes when every gate passes, without observing (nothing was deployed)."""
        for i, weight in enumerate(params.steps):
            if i > 0:
                await ctx.call(
                    "set_deployment_weight", ctx.platform.set_deployment_weight, _SIMULATED, weight
                )
            step = {"weight": weight, "simulated": True, "passed": True, "verdicts": {}}
            data["steps"].append(step)
            ctx.event("step", step)
        await ctx.call("promote_deployment", ctx.platform.promote_deployment, _SIMULATED)
        data["simulated"] = True
        return ActionResult(True, f"simulated: {revision} through {params.steps}, gates not judged", data)

    async def run(self, ctx: ActionContext, target: Target, params: BaseModel) -> ActionResult:
        if not isinstance(params, BlueGreenParams):
            raise TypeError(f"blue_green needs BlueGreenParams, not {type(params).__name__}")
        alert = ctx.request.trigger.get("alert")
        from_alert = alert.get("revision") if isinstance(alert, dict) else None
        revision = params.revision or ctx.request.params.get("revision") or from_alert
        if not revision:
            return ActionResult(
                False,
                "blue_green: no revision (set action.revision, the request's revision or the alert's "
                "`revision` label)",
            )
        app, steps = target.app, params.steps
        data: dict[str, Any] = {"app": app, "revision": str(revision), "steps": []}
        try:
            started: Deployment | None = await ctx.call(
                "start_deployment", ctx.platform.start_deployment, app, str(revision), steps[0]
            )
        except Exception as exc:
            return ActionResult(False, f"start_deployment of {revision} failed: {exc}", data)
        if started is None:  # a simulating engine answers no mutating call: record the plan, judge nothing
            return await self._simulated(ctx, str(revision), params, data)
        dep = started
        data |= {"deployment": dep.id, "previous_revision": dep.previous_revision}
        gates = self._gates(params)
        baseline: dict[str, list[float]] = {}
        threshold_baseline: dict[str, float] = {}
        weight = steps[0]
        try:
            for i, weight in enumerate(steps):
                if i > 0:
                    try:
                        dep = await ctx.call(
                            "set_deployment_weight", ctx.platform.set_deployment_weight, dep.id, weight
                        )
                    except Exception as exc:
                        raise _StepError("set_deployment_weight", weight) from exc
                verdicts = await self._observe(
                    ctx,
                    app,
                    dep=dep,
                    params=params,
                    gates=gates,
                    baseline=baseline,
                    threshold_baseline=threshold_baseline,
                )
                passed = all(v.passed for v in verdicts.values())
                step = {
                    "weight": weight,
                    "deployment": dep.id,
                    "passed": passed,
                    "verdicts": {m: _verdict_data(v) for m, v in verdicts.items()},
                }
                data["steps"].append(step)
                ctx.event("step", step)
                if not passed:
                    failed = "; ".join(f"{m}: {v.reason}" for m, v in verdicts.items() if not v.passed)
                    outcome = await self._cancel(ctx, dep.id)
                    data["failed_weight"] = weight
                    return ActionResult(
                        False, f"{revision} failed the gate at {weight}% ({failed}); {outcome}", data
                    )
            try:
                dep = await ctx.call("promote_deployment", ctx.platform.promote_deployment, dep.id)
            except Exception as exc:
                raise _StepError("promote_deployment", weight) from exc
        except _StepError as exc:
            outcome = await self._cancel(ctx, dep.id)
            data["failed_weight"] = exc.weight
            return ActionResult(
                False, f"{exc.call} at {exc.weight}% failed: {exc.__cause__}; {outcome}", data
            )
        except Exception as exc:  # e.g. the metrics store failed: the gate cannot be judged
            outcome = await self._cancel(ctx, dep.id)
            data["failed_weight"] = weight
            return ActionResult(False, f"judging {revision} at {weight}% failed: {exc!r}; {outcome}", data)
        except asyncio.CancelledError:  # shutdown mid-deployment: do not leave two revisions serving
            await asyncio.shield(self._cancel(ctx, dep.id))
            raise

        previous = str(data["previous_revision"])

        async def revert() -> None:
            await ctx.call("rollback", ctx.platform.rollback, app, previous)

        data["state"] = dep.state
        return ActionResult(True, f"{revision} promoted through {steps} (was {previous})", data, revert)
