"""Configuration of the platform adapter (section ``platform`` of paramedic.yaml).

``PlatformConfig`` is a tagged union on ``type``: ``local`` (:class:`LocalPlatformConfig`) or ``cloudfoundry``
(:class:`CloudFoundryPlatformConfig`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from platforms.local.errors import LocalPlatformError
from platforms.local.state import StateDir, validate_app_name
from platforms.tenancy import TenancyError, parse_grant

__all__ = [
    "CloudFoundryPlatformConfig",
    "LocalPlatformConfig",
    "LogCacheConfig",
    "LogCacheQuery",
    "PlatformConfig",
]

_METRIC_NAME = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"
_SELECTOR = re.compile(r"^\s*[a-zA-Z_:][a-zA-Z0-9_:]*\s*(\{.*\})?\s*$", re.DOTALL)
# Built-in rule packs, read as data (platforms do not import alerting).
_PACKS_DIR = Path(__file__).resolve().parents[1] / "alerting" / "rules" / "packs"


class LocalPlatformConfig(BaseModel):
    """The local platform: HAProxy router + supervisord cells + node exporter (see platforms/local)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["local"]
    state_dir: str = Field(description="The local platform's state directory (written by `paramedic demo`).")
    timeout_s: float = Field(5.0, gt=0, description="Timeout of each call to HAProxy's runtime API.")
    spaces: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Tenancy: `ORG/SPACE: [app, ...]` groups apps into spaces; their series, logs and alerts "
        "carry `org` and `space`. An app in no space (and everything when empty) is foundation-only. Read "
        "at start (the platform section is not reloaded); the router's per-app series need the matching "
        "metric_relabel_configs (collector.presets.router_relabel_rules with the same tenants).",
    )

    @field_validator("spaces")
    @classmethod
    def _spaces_valid(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        owner: dict[str, str] = {}
        for tenant, apps in value.items():
            try:
                grant = parse_grant(tenant, "viewer")
            except TenancyError as exc:
                raise ValueError(str(exc)) from exc
            if grant.space is None:
                raise ValueError(f"{tenant!r}: name a space, ORG/SPACE (an app belongs to one space)")
            for i, app in enumerate(apps):
                try:
                    validate_app_name(app)
                except LocalPlatformError as exc:
                    raise ValueError(f"{tenant}[{i}]: app {app!r} is not a valid app name") from exc
                if app in owner:
                    raise ValueError(f"{tenant}[{i}]: app {app!r} is already in space {owner[app]}")
                owner[app] = tenant
        return value

    @model_validator(mode="after")
    def _apps_known(self) -> LocalPlatformConfig:
        """Apps of ``spaces`` must exist when the platform's state is there to ask (an absolute
        ``state_dir`` with a ``state.json``; the demo writes it before its config)."""
        paths = StateDir(Path(self.state_dir))
        if not self.spaces or not Path(self.state_dir).is_absolute() or not paths.state_file.is_file():
            return self
        try:
            known = {a.name for a in paths.load().apps}
        except LocalPlatformError:
            return self  # an unreadable state is the adapter's error to report, not the config's
        for tenant, apps in self.spaces.items():
            for i, app in enumerate(apps):
                if app not in known:
                    raise ValueError(
                        f"spaces.{tenant}[{i}]: no app {app!r} on the local platform in {self.state_dir} "
                        f"(apps: {', '.join(sorted(known)) or 'none'})"
                    )
        return self

    def tenants(self) -> dict[str, tuple[str, str]]:
        """app -> (org, space) from ``spaces``."""
        out: dict[str, tuple[str, str]] = {}
        for tenant, apps in self.spaces.items():
            org, _, space = tenant.partition("/")
            out.update({app: (org, space) for app in apps})
        return out


class LogCacheQuery(BaseModel):
    """One PromQL expression sent to Log Cache's ``/api/v1/query`` every interval.

    ``per_app: true`` runs the expression once per app with ``{app_guid}`` replaced by the app's GUID (its
    Log Cache source_id), e.g. ``cpu{source_id="{app_guid}"}``; the app's name is added as label ``app``
    (and ``source_id`` = the GUID when the result has none). ``per_app: false`` runs it once as written
    (platform metrics such as ``CapacityRemainingMemory{source_id="rep"}``).

    ``name`` stores the result under that metric name (the result's labels kept): an aggregation Log Cache
    evaluates over every point it holds, e.g. ``quantile_over_time(0.95, latency{source_id="gorouter"}[1m])``
    named ``gorouter_latency_p95``. An expression that is not a plain selector must be named.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    expr: str = Field(
        min_length=1, max_length=2000, description="PromQL expression; `{app_guid}` is replaced when per_app."
    )
    per_app: bool = Field(False, description="Run once per app (substituting `{app_guid}`).")
    name: str | None = Field(
        None, pattern=_METRIC_NAME, description="Store the result under this metric name (labels kept)."
    )

    @model_validator(mode="after")
    def _named_unless_selector(self) -> LogCacheQuery:
        if self.name is None and not _SELECTOR.match(self.expr):
            raise ValueError(
                f"expr {self.expr!r} is not a plain selector: give it a 'name' to store it under"
            )
        if self.per_app and "{app_guid}" not in self.expr:
            raise ValueError("a per_app expr must contain {app_guid}")
        return self


def _pack_path(name: str) -> Path:
    """A built-in rule pack by name (alerting/rules/packs/<name>.yaml, read as data), or a file path."""
    if "/" in name or name.endswith((".yaml", ".yml")):
        return Path(name)
    return _PACKS_DIR / f"{name}.yaml"


class LogCacheConfig(BaseModel):
    """The Log Cache poller (platforms.cloudfoundry.log_cache.LogCacheSource)."""

    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl = Field(description="Log Cache base URL, e.g. https://log-cache.sys.example.com.")
    interval_s: float = Field(30.0, gt=0, description="Seconds between two polls of every query.")
    timeout_s: float = Field(10.0, gt=0, description="Timeout of each Log Cache query.")
    queries: list[LogCacheQuery] | None = Field(
        None,
        description="Expressions to poll. Default (absent): derived from `packs` - every metric the packs' "
        "rules select, the named queries of the KPI catalogue, and per-app cpu/memory/disk/quotas and "
        "request rate, 5xx rate and p95 latency.",
    )
    packs: list[str] = Field(
        default_factory=lambda: ["cloudfoundry", "cloudfoundry-apps", "capacity-cloudfoundry"],
        description="Rule packs (built-in names or rule file paths) the default queries are derived from.",
    )
    backfill_s: float = Field(
        3600.0,
        ge=0,
        le=86400,
        description="On start and after failed polls, fill the gap (at most this far back) with query_range.",
    )
    max_samples_per_query: int = Field(
        200_000, gt=0, description="A Log Cache answer with more samples than this is refused (counted)."
    )

    @field_validator("packs")
    @classmethod
    def _packs_exist(cls, value: list[str]) -> list[str]:
        for i, name in enumerate(value):
            if not _pack_path(name).is_file():
                known = sorted(p.stem for p in _PACKS_DIR.glob("*.yaml"))
                raise ValueError(f"[{i}] {name!r}: no such rule pack or file (built-in packs: {known})")
        return value

    def pack_paths(self) -> list[Path]:
        """The rule files of ``packs``."""
        return [_pack_path(name) for name in self.packs]


class CloudFoundryPlatformConfig(BaseModel):
    """A Cloud Foundry foundation reached through the Cloud Controller v3 API (see platforms/cloudfoundry)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["cloudfoundry"]
    api_url: AnyHttpUrl = Field(description="Cloud Controller URL, e.g. https://api.sys.example.com.")
    uaa_url: AnyHttpUrl = Field(description="UAA URL that issues client-credentials tokens.")
    client_id: str = Field(min_length=1, description="UAA client with cloud_controller.read/write scopes.")
    client_secret: SecretStr = Field(description="Secret of `client_id`; redacted in logs and dumps.")
    verify_tls: bool = Field(True, description="Verify the API's TLS certificates (false only for labs).")
    timeout_s: float = Field(10.0, gt=0, description="Timeout of each HTTP call to the CC API and UAA.")
    retries: int = Field(3, ge=0, le=10, description="Retries of an idempotent call on 5xx/timeouts.")
    app_cache_ttl_s: float = Field(
        60.0, ge=0, description="How long an app name (or org/space/name) -> GUID lookup is cached."
    )
    process_type: str = Field(
        "web", min_length=1, description="Default process type of app_instances/restart_instance/scale."
    )
    restart_strategy: Literal["rolling", "restart"] = Field(
        "rolling",
        description="restart_app: `rolling` = a rolling deployment of the current droplet (no downtime); "
        "`restart` = POST actions/restart (stop + start, downtime; for CCs without deployments).",
    )
    max_requests_per_s: float = Field(
        10.0, gt=0, le=1000, description="Request budget: CC calls per second (discovery + remediation)."
    )
    request_burst: int = Field(20, ge=1, le=10000, description="Request budget: calls allowed in a burst.")
    discovery_reserve: int = Field(
        5,
        ge=0,
        le=10000,
        description="Request budget tokens discovery leaves for remediation calls (discovery waits first).",
    )
    rate_limit_retries: int = Field(
        3, ge=0, le=10, description="Times a 429 is waited out (its Retry-After) and the call repeated."
    )
    max_retry_after_s: float = Field(
        120.0, gt=0, le=3600, description="Longest Retry-After / rate-limit reset honoured in one wait."
    )
    full_resync_s: float = Field(
        300.0,
        gt=0,
        description="Discovery: full app/process listing (sees deletions) every this many seconds.",
    )
    stats_ttl_s: float = Field(30.0, ge=0, description="Discovery: how long a process's stats are cached.")
    job_timeout_s: float = Field(
        120.0, gt=0, description="How long an async operation's /v3/jobs/:guid is polled to COMPLETE."
    )
    canary_steps_pct: list[Annotated[int, Field(ge=1, le=100)]] = Field(
        default_factory=list,
        description="Further canary steps (instance weight %) after the first one start_deployment sets.",
    )
    deployment_timeout_s: float = Field(
        300.0, gt=0, description="How long restart_app / promote_deployment wait for a deployment to finish."
    )
    max_events: int = Field(
        1000, ge=1, le=100000, description="events(): most audit events read in one call, whatever `limit`."
    )
    log_cache: LogCacheConfig | None = Field(None, description="Poll Log Cache for metrics; absent = off.")


PlatformConfig = Annotated[LocalPlatformConfig | CloudFoundryPlatformConfig, Field(discriminator="type")]
