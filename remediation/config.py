"""Remediation configuration: the ``remediation:`` section of paramedic.yaml and the policy files it names.

A policy file is YAML ``{policies: [Policy, ...]}``; ``paramedic policy schema`` prints the JSON Schema of
:class:`PolicyFile` for editors. Example::

    policies:
      - name: restart-hung-instance
        mode: live                       # default: dry_run (a new policy only says what it would do)
        trigger:
          matchers: ['alertname="LocalInstanceDown"']   # Alertmanager matcher syntax, all must match
        target: {app_label: app, instance_label: app_instance}
        action: {type: restart_instance}
        rails:
          cooldown: 2m
          budget: {max_actions: 3, window: 1h}
          blast_radius: {max_instances_pct: 50}
          circuit_breaker: {max_failures: 3, window: 1h}
          approval: {required: false}
          max_defer: 10m                 # deferred (lock, cooldown, blast radius, max_concurrent) at most
        verify: {deadline: 60s, on_failure: escalate}

Tenancy: ``scope: {org: acme, space: prod}`` (or a list of them; ``space`` omitted: every space of the org)
makes a **space policy**: it acts only on alerts and apps of those spaces (an alert labelled with another
space does not match it; a target the platform places outside them is refused), and only principals who see
all of its spaces see it. A policy without ``scope`` is a foundation policy (acts on any app; only
foundation-wide roles see it).

A ``scale`` policy with a ``predictive:`` block (:class:`remediation.predictive.policy_config.PredictiveSpec`)
needs no trigger: it forecasts each app's load every ``predictive.interval`` and scales ahead of it.

Durations are Prometheus-style (``30s``, ``5m``, ``1h30m``) or seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alerting.dispatch.config import Duration
from platforms.tenancy import FOUNDATION, Grant, Scope, TenancyError, parse_grant
from remediation.actions import params_union
from remediation.base import ActionParams
from remediation.predictive.policy_config import PredictiveSpec

__all__ = [
    "ActionSpec",
    "ApprovalRailConfig",
    "BlastRadiusRailConfig",
    "BudgetRailConfig",
    "CircuitBreakerRailConfig",
    "GlobalRails",
    "Policy",
    "PolicyFile",
    "PolicyScope",
    "RailsConfig",
    "RemediationConfig",
    "ScheduleTrigger",
    "TargetSpec",
    "TriggerSpec",
    "VerifySpec",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- triggers and targets -----------------------------------------------------------------------------------


class ScheduleTrigger(_Model):
    """Scheduled action (e.g. imported App Autoscaler schedules), run by APScheduler."""

    cron: str | None = Field(None, description="Five-field cron expression, e.g. '0 8 * * 1-5'.")
    at: str | None = Field(None, description="One date-time (ISO 8601, with offset) for a specific-date run.")
    timezone: str = Field("UTC", description="IANA time zone of the cron expression.")


class TriggerSpec(_Model):
    """What sets a policy off: alerts whose labels match every matcher, and/or a schedule."""

    matchers: list[str] = Field(
        default_factory=list,
        description="Alertmanager matchers, all must match the alert's labels: ['alertname=\"X\"', "
        "'severity=~\"critical|page\"'].",
    )
    schedule: ScheduleTrigger | None = None
    on_resolved: bool = Field(False, description="Also act when the alert resolves (default: firing only).")


class TargetSpec(_Model):
    """Which app (and instance) the action acts on, read from the triggering alert's labels."""

    app_label: str = Field("app", description="Alert label naming the app.")
    instance_label: str | None = Field(
        None, description="Alert label naming the instance index (restart_instance needs it)."
    )
    app: str | None = Field(None, description="A fixed app (scheduled triggers; overrides app_label).")


class PolicyScope(_Model):
    """A tenant a space policy acts in: one space of an org, or every space of it (``space`` omitted)."""

    org: str = Field(min_length=1, max_length=255, description="Cloud Foundry org name.")
    space: str | None = Field(
        None, min_length=1, max_length=255, description="Space name (omitted: every space of the org)."
    )

    @field_validator("org", "space")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                if "/" in value:
                    raise TenancyError(value)
                parse_grant(value, "operator")
            except TenancyError as exc:
                raise ValueError(f"{value!r}: expected a printable org or space name without '/'") from exc
        return value

    def grant(self) -> Grant:
        return Grant(self.org, self.space, "operator")


# -- actions ------------------------------------------------------------------------------------------------


# The registered actions' params models (remediation.actions), tagged by ``type``. mypy sees their base.
if TYPE_CHECKING:
    ActionSpec: TypeAlias = ActionParams
else:
    ActionSpec = params_union()


# -- rails --------------------------------------------------------------------------------------------------


class BudgetRailConfig(_Model):
    max_actions: int = Field(ge=0, description="At most this many executed actions per window.")
    window: Duration = 3600.0


class BlastRadiusRailConfig(_Model):
    max_instances_pct: float = Field(
        50.0, gt=0, le=100, description="At most this share of an app's instances acted on at once."
    )
    max_apps: int = Field(3, ge=1, description="At most this many apps being remediated at once.")


class CircuitBreakerRailConfig(_Model):
    max_failures: int = Field(3, ge=1, description="Open after this many actions that did not help.")
    window: Duration = 3600.0
    reset_after: Duration = Field(3600.0, description="Close again (half-open) after this long.")


class ApprovalRailConfig(_Model):
    required: bool = False
    timeout: Duration = Field(900.0, description="A pending action expires unapproved after this long.")


class RailsConfig(_Model):
    """Per-policy rails; any not given falls back to ``remediation.global_rails``."""

    cooldown: Duration | None = Field(None, description="Minimum time between actions on the same target.")
    budget: BudgetRailConfig | None = None
    blast_radius: BlastRadiusRailConfig | None = None
    circuit_breaker: CircuitBreakerRailConfig | None = None
    approval: ApprovalRailConfig | None = None
    max_defer: Duration | None = Field(
        None, description="Longest a request deferred by a transient rail waits before it expires."
    )


class VerifySpec(_Model):
    """After the action, the triggering condition must clear (the alert resolves, or ``expr`` returns no
    series) within ``deadline``; otherwise ``on_failure``."""

    deadline: Duration = 120.0
    expr: str | None = Field(None, description="PromQL that must return nothing once recovered.")
    on_failure: Literal["escalate", "revert", "none"] = "escalate"


class Policy(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]+$")
    description: str = ""
    mode: Literal["dry_run", "live"] = Field(
        "dry_run", description="New policies only say what they would do."
    )
    trigger: TriggerSpec = Field(default_factory=TriggerSpec)
    target: TargetSpec = Field(default_factory=TargetSpec)
    action: ActionSpec
    rails: RailsConfig = Field(default_factory=RailsConfig)
    verify: VerifySpec = Field(default_factory=VerifySpec)
    scope: PolicyScope | list[PolicyScope] | None = Field(
        None,
        description="Tenancy: the space(s) this policy acts in ({org, space} or a list); omitted: a "
        "foundation policy (any app).",
    )
    predictive: PredictiveSpec | None = Field(
        None,
        description="Scale ahead of a forecast load (scale policies only; runs every predictive.interval).",
    )

    @field_validator("scope")
    @classmethod
    def _scope_not_empty(cls, value: PolicyScope | list[PolicyScope] | None) -> object:
        if isinstance(value, list) and not value:
            raise ValueError("an empty list acts nowhere: omit scope for a foundation policy")
        return value

    def tenant_scope(self) -> Scope:
        """The tenants this policy acts in (:data:`FOUNDATION` when it has no ``scope``)."""
        if self.scope is None:
            return FOUNDATION
        scopes = self.scope if isinstance(self.scope, list) else [self.scope]
        return Scope.of(s.grant() for s in scopes)


class PolicyFile(_Model):
    policies: list[Policy]


class GlobalRails(_Model):
    """Defaults for every policy's rails, and global limits across all policies."""

    cooldown: Duration = 300.0
    budget: BudgetRailConfig = Field(default_factory=lambda: BudgetRailConfig(max_actions=20, window=3600.0))
    blast_radius: BlastRadiusRailConfig = Field(default_factory=BlastRadiusRailConfig)
    circuit_breaker: CircuitBreakerRailConfig = Field(default_factory=CircuitBreakerRailConfig)
    approval: ApprovalRailConfig = Field(default_factory=ApprovalRailConfig)
    max_concurrent: int = Field(4, ge=1, description="Actions running at once across all policies.")
    max_defer: Duration = Field(
        600.0,
        description="A request deferred by lock, cooldown, blast radius or max_concurrent expires after "
        "waiting this long (or earlier, when its alert resolves).",
    )


class RemediationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy_files: list[str] = Field(
        default_factory=list, description="Policy YAML files (relative: config dir)."
    )
    data_dir: str = Field("data/remediation", description="Audit trail, mode switches, approval key.")
    global_rails: GlobalRails = Field(default_factory=GlobalRails)
    platform_retries: int = Field(3, ge=0, description="Retries of a failed platform call (5xx, timeout).")
    platform_backoff_s: float = Field(0.5, gt=0, description="First retry delay; doubles each retry.")
