"""Load and validate the one Paramedic YAML config file.

Sections are owned by the packages they configure (``collector.config``, ``metrics_store.config``,
``platforms.config``, ``log_pipeline.config``, ``alerting.config``, ``remediation.config``); this module only
composes them, checks what spans sections, and turns validation failures into errors that name the file, the
line, the key path and what to do::

    paramedic.yaml:12: collector.jobs[1].interval_s: Input should be greater than 0 (fix: ...)
"""

from __future__ import annotations

import dataclasses
import logging
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    IPvAnyNetwork,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alerting.config import AlertingConfig, RulesConfig
from collector.config import CollectorConfig
from collector.promconfig import load_prometheus_config
from dashboard.config import DashboardConfig
from dashboard.reports.config import ReportsConfig
from log_pipeline.config import LogsConfig
from metrics_store.config import EmbeddedStoreConfig, StoreConfig
from metrics_store.promql.config import PromqlConfig
from metrics_store.yaml_errors import (
    YamlProblem,
    errors_with_lines,
    key_path,
    line_for,
    line_index,
    load_yaml,
    yaml_syntax_error,
)
from paramedic.cluster.config import LEADER_PROXY_CONNECTIONS, ClusterConfig
from platforms.config import PlatformConfig
from remediation.config import RemediationConfig

__all__ = [
    "AuthConfig",
    "ConfigError",
    "ConfigProblem",
    "LimitsConfig",
    "LoginThrottleConfig",
    "ParamedicConfig",
    "ServerConfig",
    "UaaConfig",
    "load_config",
    "load_config_report",
    "parse_config",
]


log = logging.getLogger("paramedic.config")

_LOOPBACK_NETWORKS: list[IPv4Network | IPv6Network] = [IPv4Network("127.0.0.1/32"), IPv6Network("::1/128")]


class LoginThrottleConfig(BaseModel):
    """``server.auth.login``: password guessing is slowed per client address and per user name, and the
    argon2 hashes (64 MiB each) are bounded in number."""

    model_config = ConfigDict(extra="forbid")

    free_failures: int = Field(5, ge=1, description="Failed log-ins (per client, per user) before lockouts.")
    lockout_initial_s: float = Field(
        1.0, gt=0, description="First lockout; doubles on every further failure."
    )
    lockout_max_s: float = Field(900.0, gt=0, description="Longest lockout.")
    max_concurrent_hashes: int = Field(2, ge=1, description="Password hashes verified at once.")
    hash_wait_s: float = Field(
        2.0, ge=0, description="How long a log-in waits for a hash slot before 503 (Retry-After)."
    )
    verdict_ttl_s: float = Field(
        60.0,
        ge=0,
        description="How long what a password verification said is remembered (the same name, unchanged "
        "user and password again: no second hash); 0 turns it off.",
    )
    verdict_max_entries: int = Field(10_000, ge=1, description="Verdicts remembered at most.")

    @model_validator(mode="after")
    def _max_after_initial(self) -> LoginThrottleConfig:
        if self.lockout_max_s < self.lockout_initial_s:
            raise ValueError("lockout_max_s must be at least lockout_initial_s")
        return self


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")) or value != value.strip() or "?" in value:
        raise ValueError(f"{value!r}: an http(s) URL without a query")
    return value.rstrip("/")


class UaaConfig(BaseModel):
    """``server.auth.uaa``: web UI log-in through Cloud Foundry's UAA (OAuth2 authorization code + PKCE);
    the user's Paramedic scope mirrors their CF roles (CC ``/v3/roles``, read with the user's own token)."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="UAA's base URL (https://uaa.sys.example.com).")
    client_id: str = Field(min_length=1, max_length=255, description="The UAA client (authorization_code).")
    client_secret_file: str = Field(
        min_length=1,
        description="File holding the client secret (first line), relative to the config file's folder; "
        "the secret is never written in the config itself.",
    )
    cc_api_url: str = Field(description="The Cloud Controller's base URL (https://api.sys.example.com).")
    scopes: list[str] = Field(
        default_factory=lambda: ["openid", "cloud_controller.read"],
        min_length=1,
        description="Scopes asked of UAA; cloud_controller.read is needed to read the user's roles.",
    )
    issuer: str | None = Field(None, description="Expected token issuer; default <url>/oauth/token.")
    redirect_url: str | None = Field(
        None,
        description="This server's callback as registered in UAA (https://paramedic.example.com/login/uaa/"
        "callback); default: derived from the request's Host (set it behind a reverse proxy).",
    )
    max_session_s: float = Field(
        3600.0,
        gt=0,
        le=86400,
        description="Longest SSO session; it also ends when the UAA token expires. CF roles are read again "
        "at the next log-in, so a role removed in CF stops applying within this time.",
    )
    timeout_s: float = Field(10.0, gt=0, le=120, description="Timeout of each call to UAA and the CC.")
    label: str = Field("Cloud Foundry (UAA)", min_length=1, max_length=80, description="Log-in button text.")

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secret(cls, data: object) -> object:
        if isinstance(data, dict) and "client_secret" in data:
            raise ValueError(
                "client_secret: never inline; write the secret to a file (mode 0600) and name it in "
                "client_secret_file"
            )
        return data

    @field_validator("url", "cc_api_url", "issuer", "redirect_url")
    @classmethod
    def _urls(cls, v: str | None) -> str | None:
        return None if v is None else _http_url(v)

    @field_validator("scopes")
    @classmethod
    def _scope_names(cls, v: list[str]) -> list[str]:
        for scope in v:
            if not scope or not scope.isprintable() or " " in scope:
                raise ValueError(f"{scope!r}: a UAA scope name (no spaces)")
        return v


class AuthConfig(BaseModel):
    """``server.auth``: API tokens (``paramedic token create``) and whether reads need one."""

    model_config = ConfigDict(extra="forbid")

    tokens_file: str = Field(
        "data/tokens.json",
        min_length=1,
        description="Token file (mode 0600), relative to the config file's folder.",
    )
    anonymous_read: StrictBool = Field(
        False,
        description="Serve GETs and query POSTs without a token (viewer). Default false: reading needs a "
        "viewer token or a UI session; the demo turns it on so its curl examples work.",
    )

    secure_cookies: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Mark the session cookie Secure: always, never, or auto (when the request came over "
        "https, or a server.trusted_proxies peer says so with X-Forwarded-Proto: https).",
    )
    login: LoginThrottleConfig = Field(default_factory=LoginThrottleConfig)
    uaa: UaaConfig | None = Field(None, description="Log in through Cloud Foundry's UAA; absent = off.")
    metrics: Literal["open", "viewer"] = Field(
        "open",
        description="GET /metrics (Paramedic's own metrics; they name receivers, policies and rule groups, "
        "and an SLO's group names its org/space): open, for a scraper on a network tenants do not reach, or "
        "viewer: a foundation-wide viewer, operator or admin token or session (alert-sender and "
        "metrics-writer tokens get 403, a scoped principal 404).",
    )

    @field_validator("tokens_file")
    @classmethod
    def _file_not_dir(cls, v: str) -> str:
        if v.endswith(("/", "\\")) or v.strip() != v:
            raise ValueError("must be a file path (no trailing slash or surrounding spaces)")
        return v


DEFAULT_ROUTE_MAX_BODY_BYTES: dict[str, int] = {
    "/login": 16 * 1024,  # a user name, a password, a CSRF token
    "/api/v1/actions/": 64 * 1024,  # approve/reject (signed links included): a reason
    "/api/v2/alerts": 8 * 1024 * 1024,  # Prometheus sends alerts in batches (64 per request by default)
    "/api/v1/write": 32 * 1024 * 1024,  # remote write (snappy; decompressed: collector.push limits)
    "/api/v1/otlp/": 32 * 1024 * 1024,  # OTLP/HTTP metrics and logs (gzip or none)
    "/api/v1/query": 4 * 1024 * 1024,  # form posts: query, query_range, query_exemplars
    "/api/v1/series": 4 * 1024 * 1024,  # many match[] selectors
    "/api/v1/labels": 4 * 1024 * 1024,
}


class LimitsConfig(BaseModel):
    """``server.limits``: request bodies over these sizes are refused with 413 before they are read."""

    model_config = ConfigDict(extra="forbid")

    max_body_bytes: int = Field(1024 * 1024, ge=0, description="Largest request body of any other route.")
    max_connections: int = Field(
        512,
        ge=1,
        le=1_000_000,
        description="Open HTTP connections from clients other than loopback and trusted proxies (those "
        "may open 64 more); at the cap the oldest connection waiting for a request head is closed, else "
        "the new one (_http_conns). Counted in the open-files budget (paramedic.fds).",
    )
    max_connections_per_client: int = Field(
        64,
        ge=1,
        le=1_000_000,
        description="Open HTTP connections of one client address, IPv6 by /64 (trusted proxies: exempt); "
        "at most max_connections; with cluster: at least 32 (another replica's leader proxy pool). Size it "
        "for clients behind one NAT.",
    )
    request_head_timeout_s: float = Field(
        30.0,
        ge=0.1,
        le=3600,
        description="A connection must send a whole request head within this time of being accepted (or of "
        "its last response); else it is closed. A request body must also arrive at 1 KiB/s or more over "
        "each window this long.",
    )

    @field_validator("max_connections_per_client")
    @classmethod
    def _per_client_within_total(cls, v: int, info: ValidationInfo) -> int:
        total = info.data.get("max_connections")
        if total is not None and v > total:
            raise ValueError(f"{v} is more than max_connections ({total}): at most that")
        return v

    route_max_body_bytes: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_ROUTE_MAX_BODY_BYTES),
        description="Path prefix -> largest body; the longest matching prefix wins. Setting this key "
        "replaces the whole default table.",
    )

    @field_validator("route_max_body_bytes")
    @classmethod
    def _prefixes(cls, v: dict[str, int]) -> dict[str, int]:
        for prefix, limit in v.items():
            if not prefix.startswith("/"):
                raise ValueError(f"{prefix!r}: a path prefix must start with '/'")
            if limit < 0:
                raise ValueError(f"{prefix}: a limit must be >= 0 bytes")
        return v


class ServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    listen_host: str = Field("127.0.0.1", description="Address the HTTP API binds to; loopback by default.")
    listen_port: int = Field(9300, ge=0, le=65535, description="HTTP API port (0 = pick a free port).")
    auth: AuthConfig = Field(default_factory=AuthConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=_LOOPBACK_NETWORKS.copy,
        description="Reverse proxies (addresses or networks) whose X-Forwarded-For and X-Forwarded-Proto "
        "are believed: the client address log-ins are throttled by, and https for Secure cookies.",
    )
    trusted_hosts: list[str] | None = Field(
        None,
        description="Host header values served (a port is ignored; '*.example.com' matches subdomains, "
        "'*' anything). Default: localhost, 127.0.0.1, ::1, listen_host, and any IP address literal "
        "(DNS rebinding needs a name). Other hosts get 400.",
    )
    shutdown_grace_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="On SIGTERM/SIGINT: how long open requests may finish before they are cancelled (live "
        "tails end at once).",
    )
    latency_slice_us: int = Field(
        500,
        ge=0,
        le=100_000,
        description="EEVDF slice (Linux >= 6.12) the event-loop thread and its read threads ask for, in "
        "microseconds: a read that wakes them preempts background work (search workers, log-in hashes) "
        "instead of waiting out its ~3 ms slice. 0 = the kernel's default; 100-100000 otherwise. No "
        "privilege needed; an older kernel just logs that it was not applied. Read at start (as all of "
        "server.*), not on reload.",
    )

    @field_validator("latency_slice_us", mode="before")
    @classmethod
    def _slice_not_bool(cls, v: object) -> object:
        # YAML's true/false would pass as 1/0 (0 silently turns the slice off): a slice is a number
        if isinstance(v, bool):
            raise ValueError(
                f"{str(v).lower()}: a number of microseconds, 0 (the kernel's default) or 100-100000"
            )
        return v

    @field_validator("latency_slice_us")
    @classmethod
    def _slice(cls, v: int) -> int:
        if 0 < v < 100:
            raise ValueError(f"{v}: 0 (the kernel's default) or 100-100000 microseconds (the kernel's range)")
        return v

    @field_validator("trusted_hosts")
    @classmethod
    def _hosts(cls, v: list[str] | None) -> list[str] | None:
        for host in v or []:
            if not host or host != host.strip() or "/" in host or ("*" in host and not _wildcard(host)):
                raise ValueError(f"{host!r}: a host name, '*.domain' or '*'")
        return v


def _wildcard(host: str) -> bool:
    return host == "*" or (host.startswith("*.") and "*" not in host[2:] and len(host) > 2)


class ParamedicConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    server: ServerConfig = Field(default_factory=ServerConfig)
    collector: CollectorConfig = Field(default_factory=CollectorConfig)
    metrics_store: StoreConfig = Field(default_factory=EmbeddedStoreConfig)
    promql: PromqlConfig = Field(
        default_factory=PromqlConfig,
        description='Which Prometheus\' PromQL every query speaks: semantics "3" (default) or "2" (2.42).',
    )
    platform: PlatformConfig | None = None
    logs: LogsConfig | None = Field(
        None, description="Log listeners, spool, pipeline and search store; absent = no log ingest."
    )
    rules: RulesConfig | None = Field(None, description="Rule files and packs; absent = no rule evaluation.")
    alerting: AlertingConfig | None = Field(
        None, description="Alertmanager-style route, receivers, inhibition; absent = no notifications."
    )
    remediation: RemediationConfig | None = Field(
        None, description="Remediation policies, rails and audit trail; absent = no automated actions."
    )
    dashboard: DashboardConfig = Field(
        default_factory=DashboardConfig, description="What the dashboard's pages show (optional)."
    )
    reports: ReportsConfig | None = Field(
        None, description="Scheduled report emails (schedules, per-tenant recipients); absent = none sent."
    )
    cluster: ClusterConfig | None = Field(
        None,
        description="Several replicas through etcd (leader lease, sharded scraping); absent = one process.",
    )


ConfigProblem = YamlProblem  # file:line: key.path: message (fix)


class ConfigError(Exception):
    """The config file is unreadable, not YAML, or fails validation. ``problems`` lists every issue (past
    ``MAX_PROBLEMS`` validation errors, the first ones and a count)."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def parse_config(text: str, filename: str = "<config>") -> ParamedicConfig:
    """Validate YAML ``text``; raise :class:`ConfigError` naming ``filename``, line and key on failure."""
    try:
        data = load_yaml(text)
    except yaml.YAMLError as exc:
        line, message = yaml_syntax_error(exc)
        raise ConfigError([ConfigProblem(filename, line, "", message)]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigProblem(filename, 1, "", "the top level must be a YAML mapping")])
    try:
        config = ParamedicConfig.model_validate(data)
    except ValidationError as exc:
        found = errors_with_lines(exc, data, line_index(text), model=ParamedicConfig)
        raise ConfigError([ConfigProblem(filename, line, key, msg) for line, key, msg in found]) from exc
    if config.remediation is not None and config.platform is None:
        line = line_for(line_index(text), ("remediation",))
        raise ConfigError(
            [
                ConfigProblem(
                    filename,
                    line,
                    "remediation",
                    "needs a platform to act on (fix: add a platform: section, e.g. type: local)",
                )
            ]
        )
    _check_reports(config, text, filename)
    _check_cluster_limits(config, text, filename)
    return config


def _check_cluster_limits(config: ParamedicConfig, text: str, filename: str) -> None:
    """With a cluster, the leader counts a follower's whole leader-proxy pool against one client address:
    a per-client cap below the pool refuses proxied calls (alerts, silences) under load."""
    per_client = config.server.limits.max_connections_per_client
    if config.cluster is None or per_client >= LEADER_PROXY_CONNECTIONS:
        return
    key = ("server", "limits", "max_connections_per_client")
    raise ConfigError(
        [
            ConfigProblem(
                filename,
                line_for(line_index(text), key),
                ".".join(key),
                f"{per_client} is below the {LEADER_PROXY_CONNECTIONS} connections another replica's "
                f"leader proxy opens to the leader (fix: set it to {LEADER_PROXY_CONNECTIONS} or more)",
            )
        ]
    )


def _check_reports(config: ParamedicConfig, text: str, filename: str) -> None:
    """``reports.smtp_receiver`` names an alerting receiver with an email notifier."""
    if config.reports is None:
        return
    from paramedic.reports import smtp_settings  # noqa: PLC0415 -- the wiring imports this module

    try:
        smtp_settings(config.reports, config.alerting)
    except ValueError as exc:
        line = line_for(line_index(text), ("reports", "smtp_receiver"))
        raise ConfigError([ConfigProblem(filename, line, "reports.smtp_receiver", str(exc))]) from None


def load_config(path: Path) -> ParamedicConfig:
    """Load and validate ``path`` (and the Prometheus file ``collector.prometheus_config`` names); keys that
    file has and Paramedic ignores are logged as warnings."""
    config, warnings = load_config_report(path)
    for warning in warnings:
        log.warning("%s", warning)
    return config


def load_config_report(path: Path) -> tuple[ParamedicConfig, list[ConfigProblem]]:
    """:func:`load_config` that returns the warnings instead of logging them."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(path), None, "", f"cannot read: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(str(path), None, "", f"not UTF-8 text: {exc.reason}")]) from exc
    config = parse_config(text, str(path))
    return _with_prometheus_jobs(config, path, text)


def _with_prometheus_jobs(
    config: ParamedicConfig, path: Path, text: str
) -> tuple[ParamedicConfig, list[ConfigProblem]]:
    """Append the scrape jobs of ``collector.prometheus_config`` (its problems refuse the config)."""
    rel = config.collector.prometheus_config
    if rel is None:
        return config, []
    prom = load_prometheus_config(path.parent / rel)
    key = ("collector", "prometheus_config")
    where = ConfigProblem(str(path), line_for(line_index(text), key), key_path(key), "")
    problems = list(prom.problems)
    taken = {job.name for job in config.collector.jobs}
    for job in prom.config.jobs:
        if job.name in taken:
            problems.append(
                dataclasses.replace(
                    where, message=f"job {job.name!r} is also in collector.jobs (fix: rename one)"
                )
            )
    if problems:
        head = dataclasses.replace(where, message=f"{rel}: {len(problems)} problem(s), listed below")
        raise ConfigError([head, *problems])
    jobs = [*config.collector.jobs, *prom.config.jobs]
    collector = config.collector.model_copy(update={"jobs": jobs})
    return config.model_copy(update={"collector": collector}), prom.ignored
