"""Alertmanager-compatible configuration: route tree, receivers, inhibit rules, time intervals.

An existing ``alertmanager.yml`` loads unchanged. Receivers list their integrations either Paramedic-style
(``notifiers: [{type: webhook, ...}]``) or Alertmanager-style (``webhook_configs: [...]``, ``email_configs``);
both become opaque ``{"type": ..., **options}`` dicts for the injected ``build_notifier``, with every
secret option (``bearer_token``, ``auth_password``, ``password``, ...) held as a :class:`~pydantic.SecretStr`.
The dispatcher itself reads ``send_resolved`` (default true) and ``max_alerts`` (0 = no limit) from each.
Durations use Alertmanager's syntax (``30s``, ``5m``, ``1h30m``, ``1d``) and are held in seconds.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from alerting.base import AlertingError
from alerting.dispatch._matchers import Matcher, MatcherError, parse_matchers
from alerting.dispatch._timeinterval import CompiledInterval, compile_spec
from metrics_store.redact import is_secret_key
from metrics_store.yaml_errors import MAX_PROBLEMS, YamlProblem, key_path, load_yaml

__all__ = [
    "ConfigError",
    "DispatchConfig",
    "InhibitRuleConfig",
    "LimitsConfig",
    "NamedTimeInterval",
    "ReceiverConfig",
    "RouteConfig",
    "TimeIntervalSpec",
    "load_config",
    "parse_config",
    "parse_duration",
    "send_resolved_default",
]

_DURATION_RE = re.compile(r"^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$")
_UNITS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)
_AM_INTEGRATIONS = (
    "webhook",
    "email",
    "slack",
    "pagerduty",
    "opsgenie",
    "victorops",
    "pushover",
    "wechat",
    "sns",
    "telegram",
    "webex",
    "discord",
    "msteams",
)


# Alertmanager's send_resolved default where it is not true (the dispatcher reads it per integration).
_SEND_RESOLVED_DEFAULT = {"slack": False, "wechat": False}


def send_resolved_default(kind: str) -> bool:
    """Alertmanager's default ``send_resolved`` of an integration type (Paramedic's email: true)."""
    return _SEND_RESOLVED_DEFAULT.get(kind, True)


class ConfigError(AlertingError):
    """The dispatch configuration is invalid; the message names the file and the key path."""


def parse_duration(value: object) -> float:
    """Alertmanager/Prometheus duration (``1h30m``) or a number of seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"not a duration: {value!r}")
    text = value.strip()
    if text == "0":
        return 0.0
    m = _DURATION_RE.match(text)
    if m is None or not text:
        raise ValueError(f"not a duration: {value!r} (want e.g. 30s, 5m, 1h30m)")
    return float(sum(int(m.group(2 * i + 2)) * u for i, u in enumerate(_UNITS) if m.group(2 * i + 2)))


Duration = Annotated[float, BeforeValidator(parse_duration)]


def _secrets_typed(value: Any, key: str | None = None) -> Any:
    """``value`` (an untyped integration or HTTP config) with every string under a secret-named key
    (:func:`~metrics_store.redact.is_secret_key`: ``password``, ``auth_password``, ``bearer_token``,
    ``credentials``, ...) wrapped in :class:`SecretStr`, recursively, so it never prints in clear."""
    if isinstance(value, dict):
        return {k: _secrets_typed(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_secrets_typed(v) for v in value]
    if key is not None and is_secret_key(key) and isinstance(value, str):
        return SecretStr(value)
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _compile_matchers(
    match: dict[str, str], match_re: dict[str, str], matchers: list[str], where: str
) -> list[Matcher]:
    out = [Matcher.create(k, "=", v) for k, v in match.items()]
    out += [Matcher.create(k, "=~", v) for k, v in match_re.items()]
    for text in matchers:
        try:
            out += parse_matchers(text)
        except MatcherError as e:
            raise ValueError(f"{where}: {e}") from e
    return out


class GlobalConfig(_Model):
    resolve_timeout: Duration = 300.0
    smtp_from: str | None = None
    smtp_smarthost: str | None = None
    smtp_hello: str | None = None
    smtp_auth_username: str | None = None
    smtp_auth_password: SecretStr | None = None
    smtp_auth_identity: str | None = None
    smtp_require_tls: bool | None = None
    http_config: dict[str, Any] | None = None
    # the receivers' defaults (Alertmanager's names)
    slack_api_url: str | None = None
    slack_api_url_file: str | None = None
    pagerduty_url: str | None = None
    opsgenie_api_url: str | None = None
    opsgenie_api_key: SecretStr | None = None
    opsgenie_api_key_file: str | None = None
    telegram_api_url: str | None = None

    @field_validator("http_config")
    @classmethod
    def _typed_secrets(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _secrets_typed(value)


class RouteConfig(_Model):
    receiver: str | None = None
    group_by: list[str] | None = None
    continue_: bool = Field(False, alias="continue")
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    matchers: list[str] = Field(default_factory=list)
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    mute_time_intervals: list[str] = Field(default_factory=list)
    active_time_intervals: list[str] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> RouteConfig:
        self.compiled_matchers()
        if self.group_by is not None and "..." in self.group_by and len(self.group_by) > 1:
            raise ValueError("group_by: cannot have '...' together with other labels")
        return self

    def compiled_matchers(self) -> list[Matcher]:
        """Legacy match/match_re then matchers, sorted like Alertmanager (this order shapes the route key)."""
        ms = _compile_matchers(self.match, self.match_re, self.matchers, "matchers")
        return sorted(ms, key=Matcher.sort_key)


class ReceiverConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    notifiers: list[dict[str, Any]] = Field(default_factory=list)
    webhook_configs: list[dict[str, Any]] = Field(default_factory=list)
    email_configs: list[dict[str, Any]] = Field(default_factory=list)
    slack_configs: list[dict[str, Any]] = Field(default_factory=list)
    pagerduty_configs: list[dict[str, Any]] = Field(default_factory=list)
    opsgenie_configs: list[dict[str, Any]] = Field(default_factory=list)
    victorops_configs: list[dict[str, Any]] = Field(default_factory=list)
    pushover_configs: list[dict[str, Any]] = Field(default_factory=list)
    wechat_configs: list[dict[str, Any]] = Field(default_factory=list)
    sns_configs: list[dict[str, Any]] = Field(default_factory=list)
    telegram_configs: list[dict[str, Any]] = Field(default_factory=list)
    webex_configs: list[dict[str, Any]] = Field(default_factory=list)
    discord_configs: list[dict[str, Any]] = Field(default_factory=list)
    msteams_configs: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("notifiers", *(f"{kind}_configs" for kind in _AM_INTEGRATIONS))
    @classmethod
    def _typed_secrets(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Secret options (``bearer_token``, ``auth_password``, ``password``, ...) as :class:`SecretStr`."""
        return [_secrets_typed(c) for c in value]

    @model_validator(mode="after")
    def _check(self) -> ReceiverConfig:
        for i, n in enumerate(self.notifiers):
            if not isinstance(n.get("type"), str):
                raise ValueError(f"notifiers[{i}]: missing 'type' (e.g. type: webhook)")
            if "max_alerts" in n and (not isinstance(n["max_alerts"], int) or n["max_alerts"] < 0):
                raise ValueError(f"notifiers[{i}].max_alerts: want an integer >= 0")
        return self

    def integrations(self) -> list[dict[str, Any]]:
        """Every integration as ``{"type": ..., **options}``, Paramedic-style ones first."""
        out = [dict(n) for n in self.notifiers]
        for kind in _AM_INTEGRATIONS:
            out += [{"type": kind, **c} for c in getattr(self, f"{kind}_configs")]
        return out


class InhibitRuleConfig(_Model):
    source_matchers: list[str] = Field(default_factory=list)
    target_matchers: list[str] = Field(default_factory=list)
    source_match: dict[str, str] = Field(default_factory=dict)
    source_match_re: dict[str, str] = Field(default_factory=dict)
    target_match: dict[str, str] = Field(default_factory=dict)
    target_match_re: dict[str, str] = Field(default_factory=dict)
    equal: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> InhibitRuleConfig:
        self.sources()
        self.targets()
        return self

    def sources(self) -> list[Matcher]:
        return _compile_matchers(
            self.source_match, self.source_match_re, self.source_matchers, "source_matchers"
        )

    def targets(self) -> list[Matcher]:
        return _compile_matchers(
            self.target_match, self.target_match_re, self.target_matchers, "target_matchers"
        )


class TimeRange(_Model):
    start_time: str
    end_time: str


class TimeIntervalSpec(_Model):
    times: list[TimeRange] | None = None
    weekdays: list[str] | None = None
    days_of_month: list[str] | None = None
    months: list[str] | None = None
    years: list[str] | None = None
    location: str | None = None

    @model_validator(mode="after")
    def _check(self) -> TimeIntervalSpec:
        self.compile()
        return self

    def compile(self) -> CompiledInterval:
        times = [(t.start_time, t.end_time) for t in self.times] if self.times is not None else None
        return compile_spec(
            times=times,
            weekdays=self.weekdays,
            days_of_month=self.days_of_month,
            months=self.months,
            years=self.years,
            location=self.location,
        )


class NamedTimeInterval(_Model):
    name: str
    time_intervals: list[TimeIntervalSpec]


class LimitsConfig(_Model):
    """``limits``: bounds on what alert senders can make the dispatcher hold (Paramedic's own section)."""

    max_alerts: int = Field(
        10_000,
        ge=1,
        description="Active (unresolved) alerts held at once; while this many are, a new alert is refused "
        "(POST /api/v2/alerts answers 429; counted in paramedic_alerting_alerts_refused_total, logged).",
    )
    max_alerts_per_tenant: int = Field(
        1_000,
        ge=1,
        description="Active alerts that principals scoped to orgs/spaces may hold via POST /api/v2/alerts, "
        "per scope (its spaces' active alerts count, whoever sent them), so one team cannot fill max_alerts "
        "for every other; refusals as for max_alerts (reason max_alerts_per_tenant). Foundation senders (the "
        "rules, Prometheus) only meet max_alerts.",
    )
    max_silences: int = Field(
        10_000,
        ge=1,
        description="Active and pending silences held at once (Alertmanager's --silences.max-silences); a "
        "new silence beyond it is refused (POST /api/v2/silences answers 429; counted in "
        "paramedic_alerting_silences_refused_total{reason}); updates of held silences are still accepted.",
    )
    max_silences_per_tenant: int = Field(
        1_000,
        ge=1,
        description="Active and pending silences of the spaces of a principal scoped to orgs/spaces (the "
        "silences it sees, whoever created them) beyond which it may create no new one (429), so one team "
        "cannot fill max_silences, or slow every silence write and alert match, for every other.",
    )


class TenancyConfig(_Model):
    """``tenancy``: how org/space tenants shape aggregation groups (Paramedic's own section)."""

    group_by_tenant: bool = Field(
        True,
        description="Add an alert's org and space labels to every route's group_by, so that no group (and no "
        "notification) mixes two spaces' alerts. Off: Alertmanager's groupKeys exactly.",
    )


class DispatchConfig(_Model):
    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    tenancy: TenancyConfig = Field(default_factory=TenancyConfig)
    route: RouteConfig
    receivers: list[ReceiverConfig]
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=list)
    time_intervals: list[NamedTimeInterval] = Field(default_factory=list)
    mute_time_intervals: list[NamedTimeInterval] = Field(default_factory=list)
    templates: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> DispatchConfig:
        names = [r.name for r in self.receivers]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"receivers: duplicate name(s) {sorted(dup)}")
        if self.route.receiver is None:
            raise ValueError("route.receiver: the root route must name a receiver")
        if self.route.compiled_matchers():
            raise ValueError("route: the root route must not have matchers")
        if self.route.mute_time_intervals or self.route.active_time_intervals:
            raise ValueError("route: the root route cannot have mute/active time intervals")
        intervals = set(self.intervals())
        if len(intervals) != len(self.time_intervals) + len(self.mute_time_intervals):
            raise ValueError("time_intervals: duplicate interval name")

        def walk(r: RouteConfig, path: str) -> None:
            if r.receiver is not None and r.receiver not in names:
                raise ValueError(f"{path}.receiver: undefined receiver {r.receiver!r}")
            for n in (*r.mute_time_intervals, *r.active_time_intervals):
                if n not in intervals:
                    raise ValueError(f"{path}: undefined time interval {n!r}")
            for i, c in enumerate(r.routes):
                walk(c, f"{path}.routes[{i}]")

        walk(self.route, "route")
        return self

    def intervals(self) -> dict[str, list[CompiledInterval]]:
        return {
            n.name: [s.compile() for s in n.time_intervals]
            for n in (*self.time_intervals, *self.mute_time_intervals)
        }

    def receiver(self, name: str) -> ReceiverConfig:
        for r in self.receivers:
            if r.name == name:
                return r
        raise KeyError(name)


def parse_config(text: str, source: str = "<config>") -> DispatchConfig:
    try:
        data = load_yaml(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: want a mapping with route and receivers")
    try:
        return DispatchConfig.model_validate(data)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        problems = [
            str(
                YamlProblem(
                    source, None, key_path(tuple(_yaml_key(p) for p in err["loc"])) or "(top)", err["msg"]
                )
            )
            for err in errors[:MAX_PROBLEMS]
        ]
        if len(errors) > MAX_PROBLEMS:  # aliases repeat a bad mapping: a short file, 100,000 problems
            problems.append(f"{source}: ... and {len(errors) - MAX_PROBLEMS:,} more problems (not listed)")
        raise ConfigError("\n".join(problems)) from e


def _yaml_key(part: int | str) -> int | str:
    return "global" if part == "global_" else part  # the field is global_ (a keyword in Python)


def load_config(path: str | Path) -> DispatchConfig:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(f"{p}: cannot read: {e}") from e
    return parse_config(text, p.name)
