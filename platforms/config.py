"""Configuration of the platform adapter (section ``platform`` of paramedic.yaml).

``PlatformConfig`` is a tagged union on ``type``: ``local`` (:class:`LocalPlatformConfig`) or ``cloudfoundry``
(:class:`CloudFoundryPlatformConfig`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "CloudFoundryPlatformConfig",
    "LocalPlatformConfig",
    "LogCacheConfig",
    "LogCacheQuery",
    "PlatformConfig",
]


class LocalPlatformConfig(BaseModel):
    """The local platform: HAProxy router + supervisord cells + node exporter (see platforms/local)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["local"]
    state_dir: str = Field(description="The local platform's state directory (written by `paramedic demo`).")
    timeout_s: float = Field(5.0, gt=0, description="Timeout of each call to HAProxy's runtime API.")


class LogCacheQuery(BaseModel):
    """One PromQL expression sent to Log Cache's ``/api/v1/query`` every interval.

    ``per_app: true`` runs the expression once per app with ``{app_guid}`` replaced by the app's GUID (its
    Log Cache source_id), e.g. ``cpu{source_id="{app_guid}"}``; the app's name is added as label ``app``.
    ``per_app: false`` runs it once as written (platform metrics such as ``CapacityRemainingMemory
    {source_id="rep"}``).
    """

    model_config = ConfigDict(extra="forbid")

    expr: str = Field(min_length=1, description="PromQL expression; `{app_guid}` is replaced when per_app.")
    per_app: bool = Field(False, description="Run once per app (substituting `{app_guid}`).")


def _default_queries() -> list[LogCacheQuery]:
    return [
        LogCacheQuery(expr='cpu{source_id="{app_guid}"}', per_app=True),
        LogCacheQuery(expr='memory{source_id="{app_guid}"}', per_app=True),
        LogCacheQuery(expr='disk{source_id="{app_guid}"}', per_app=True),
        LogCacheQuery(expr='CapacityRemainingMemory{source_id="rep"}'),
        LogCacheQuery(expr='CapacityRemainingDisk{source_id="rep"}'),
        LogCacheQuery(expr='LRPsMissing{source_id="bbs"}'),
        LogCacheQuery(expr='CrashedActualLRPs{source_id="bbs"}'),
        LogCacheQuery(expr='bad_gateways{source_id="gorouter"}'),
    ]


class LogCacheConfig(BaseModel):
    """The Log Cache poller (platforms.cloudfoundry.log_cache.LogCacheSource)."""

    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl = Field(description="Log Cache base URL, e.g. https://log-cache.sys.example.com.")
    interval_s: float = Field(30.0, gt=0, description="Seconds between two polls of every query.")
    timeout_s: float = Field(10.0, gt=0, description="Timeout of each Log Cache query.")
    queries: list[LogCacheQuery] = Field(
        default_factory=_default_queries,
        description="Expressions to poll; default: per-app cpu/memory/disk plus rep, bbs and gorouter KPIs.",
    )


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
