"""``reports:``: scheduled reports (APScheduler cron schedules), who receives which tenant's report, and the
alerting receiver whose email notifier's SMTP settings (host, port, security, credentials, sender) send them.

    reports:
      smtp_receiver: ops            # an alerting.receivers entry with an email notifier
      schedules:
        - {name: daily, cron: "0 7 * * *", period_s: 86400}
        - {name: weekly, cron: "0 7 * * mon", period_s: 604800}
      recipients:
        - {tenant: foundation, to: [platform-team@example.com]}
        - {tenant: acme/prod, to: [acme-prod@example.com], schedules: [weekly]}

``tenant`` is ``foundation`` (everything), ``ORG`` (every space of the org) or ``ORG/SPACE``: the report
holds only that tenant's data. That ``smtp_receiver`` names an email receiver is checked with the alerting
section (``paramedic.config``).
"""

from __future__ import annotations

import zoneinfo
from typing import Annotated

from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from platforms.tenancy import Grant, Scope, TenancyError, parse_grant

__all__ = ["FOUNDATION_TENANT", "RecipientsConfig", "ReportsConfig", "ScheduleConfig", "tenant_scope"]

FOUNDATION_TENANT = "foundation"
_Address = Annotated[str, StringConstraints(min_length=3, max_length=254, pattern=r"^[^@\s<>,]+@[^@\s<>,]+$")]
_Name = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


def tenant_scope(tenant: str) -> Scope:
    """The scope a tenant's report is read with (``foundation``, ``ORG`` or ``ORG/SPACE``, viewer)."""
    if tenant == FOUNDATION_TENANT:
        return Scope()
    grant: Grant = parse_grant(tenant, "viewer")
    return Scope.of([grant])


class ScheduleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: _Name
    cron: str = Field(description="When to send, in crontab syntax (minute hour day month weekday).")
    period_s: float = Field(
        gt=0, le=90 * 86400, description="The window a report covers, ending when it is sent (86400: a day)."
    )

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str) -> str:
        try:
            CronTrigger.from_crontab(v, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"{v!r}: not a crontab expression ({exc})") from None
        return v


class RecipientsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(description="foundation, ORG or ORG/SPACE: whose data the report holds.")
    to: list[_Address] = Field(min_length=1, max_length=100)
    schedules: list[str] | None = Field(None, description="Names of schedules; default: every schedule.")

    @field_validator("tenant")
    @classmethod
    def _tenant(cls, v: str) -> str:
        try:
            tenant_scope(v)
        except TenancyError as exc:
            raise ValueError(f"{exc} (or 'foundation')") from None
        return v


class ReportsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    smtp_receiver: str = Field(
        min_length=1,
        description="An alerting receiver with an email notifier: its SMTP settings send reports.",
    )
    timezone: str = Field("UTC", description="Time zone of the cron schedules (IANA name).")
    schedules: list[ScheduleConfig] = Field(min_length=1, max_length=20)
    recipients: list[RecipientsConfig] = Field(min_length=1, max_length=1000)
    top_n: int = Field(10, ge=1, le=50, description="Length of every ranking in a report.")
    max_period_s: float = Field(
        90 * 86400, gt=0, description="Longest window a report may cover (preview and render included)."
    )
    render_timeout_s: float = Field(120.0, gt=0, le=3600, description="Longest time one report may take.")

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r}: not an IANA time zone (e.g. UTC, Europe/Berlin)") from None
        return v

    @model_validator(mode="after")
    def _known_schedules(self) -> ReportsConfig:
        names = [s.name for s in self.schedules]
        if len(set(names)) != len(names):
            raise ValueError(
                f"schedules: duplicate name(s) {sorted({n for n in names if names.count(n) > 1})}"
            )
        for i, r in enumerate(self.recipients):
            unknown = sorted(set(r.schedules or []) - set(names))
            if unknown:
                raise ValueError(f"recipients[{i}].schedules: unknown schedule(s) {unknown} (known: {names})")
        return self
