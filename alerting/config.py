"""The ``rules:`` and ``alerting:`` config sections of paramedic.yaml.

``alerting:`` is an Alertmanager config (:class:`~alerting.dispatch.DispatchConfig`: ``global``, ``route``,
``receivers``, ``inhibit_rules``, ``time_intervals``) plus where Paramedic keeps its state and the URL it is
reached at. Every receiver integration is validated at load against the notifier configs
(:data:`~alerting.notify.NotifierConfig`, tagged by ``type``), so a bad URL or a missing ``to:`` fails the
config file, not the first notification. Alertmanager-style ``email_configs`` (``to``, ``from``,
``smarthost``, ``auth_*``, ``require_tls``, with ``global.smtp_*`` defaults) are translated to Paramedic's
email config; ``webhook_configs`` take Alertmanager's webhook options (``url``, ``send_resolved``,
``max_alerts``, ``http_config``) plus Paramedic's (``timeout_s``, ``bearer_token``, ``body_template``);
``slack_configs``, ``pagerduty_configs``, ``opsgenie_configs``, ``telegram_configs`` and ``msteams_configs``
take Alertmanager's keys, with ``global.http_config``, ``global.slack_api_url``, ``global.pagerduty_url``,
``global.opsgenie_api_url``/``opsgenie_api_key`` and ``global.telegram_api_url`` as their defaults.
Integration types without a notifier (victorops, pushover, ...) are refused at load.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError, model_validator

from alerting.dispatch.config import DispatchConfig, GlobalConfig
from alerting.notify.config import NotifierConfig

__all__ = ["AlertingConfig", "RecentWindowConfig", "RulesConfig", "notifier_config"]

_NOTIFIER = TypeAdapter[NotifierConfig](NotifierConfig)
_DISPATCH_ONLY = ("send_resolved", "max_alerts")


class RecentWindowConfig(BaseModel):
    """``rules.recent_window``: the rule engine reads the newest samples from memory.

    Every sample written while the server runs (scrapes, rule outputs, log pattern counts) is also kept in
    memory for ``retention_s``; a rule query whose range (lookback or ``[range]``, plus ``offset``) lies
    inside that reads it from memory, anything reaching further back (``rate(x[1h])``, the first minutes
    after start, names written before start) reads the store, so results are the store's either way.
    The retention is fixed rather than derived from the loaded rules so a reload never changes memory use:
    the default 15 minutes covers the 5-minute lookback and ``[10m]`` ranges with the rule engine's
    prefetch; rules with longer ranges keep working at store speed. A change takes effect at restart.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Evaluate rules over the in-memory window of recent samples.")
    retention_s: float = Field(
        900.0,
        ge=360.0,
        le=6 * 3600.0,
        description="Samples kept in memory (at least lookback 5m + 1m); longer ranges read the store.",
    )


class RulesConfig(BaseModel):
    """Rule files and built-in packs evaluated by the rule engine."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    files: list[str] = Field(
        default_factory=list, description="Prometheus/Paramedic rule files (relative: to the config file)."
    )
    packs: list[str] = Field(
        default_factory=list, description="Built-in rule packs by name: local, cloudfoundry, paramedic."
    )
    evaluation_interval_s: float = Field(
        15.0, gt=0, description="Interval of groups that do not set `interval:`."
    )
    resend_delay_s: float = Field(
        60.0, gt=0, description="Re-send firing alerts to the dispatcher this often."
    )
    state_file: str = Field(
        "rules-state.json", description="Alert state kept across restarts (relative: to the config file)."
    )
    external_url: str = Field("", description="Base of the alerts' generatorURL; default: the server URL.")
    recent_window: RecentWindowConfig = Field(
        default_factory=RecentWindowConfig, description="In-memory window of recent samples for rules."
    )
    slo_files: list[str] = Field(
        default_factory=list,
        description="SLO files (alerting/slo; relative: to the config file): their generated recording and "
        "burn-rate alert rules are evaluated with the others.",
    )

    @model_validator(mode="after")
    def _known_packs(self) -> RulesConfig:
        from alerting.rules import PACKS_DIR  # noqa: PLC0415 -- the rules package is heavy to import

        known = sorted(p.stem for p in PACKS_DIR.glob("*.yaml"))
        unknown = [p for p in self.packs if p not in known]
        if unknown:
            raise ValueError(f"packs: unknown pack {unknown[0]!r} (one of: {', '.join(known)})")
        return self


def _from_am_email(options: dict[str, Any], glob: GlobalConfig) -> dict[str, Any]:
    """Alertmanager ``email_config`` keys -> :class:`~alerting.notify.EmailConfig` keys."""
    out = {k: v for k, v in options.items() if k in {"type", *_DISPATCH_ONLY}}
    to = options.get("to")
    out["to"] = [t.strip() for t in to.split(",")] if isinstance(to, str) else to
    out["sender"] = options.get("from", glob.smtp_from)
    smarthost = options.get("smarthost", glob.smtp_smarthost)
    if isinstance(smarthost, str) and ":" in smarthost:
        host, _, port = smarthost.rpartition(":")
        out["host"], out["port"] = host, port
    user = options.get("auth_username", glob.smtp_auth_username)
    if user:
        out["username"] = user
        password: Any = options.get("auth_password", glob.smtp_auth_password)
        out["password"] = password.get_secret_value() if isinstance(password, SecretStr) else password
    require_tls = options.get("require_tls", glob.smtp_require_tls)
    out["security"] = "plain" if require_tls is False else "starttls"
    known = {
        *("type", "to", "from", "smarthost", "auth_username", "auth_password", "auth_identity"),
        *("auth_secret", "require_tls", "headers", "html", "text", "hello", *_DISPATCH_ONLY),
    }
    for key in sorted(set(options) - known):
        out[key] = options[
            key
        ]  # tls_config and Paramedic's own keys (templates_dir, security, ...) pass through
    return out


_EITHER = (
    ("api_url", "api_url_file"),
    ("api_url_file", "api_url"),
    ("api_key", "api_key_file"),
    ("api_key_file", "api_key"),
)
_HTTP_KINDS = frozenset({"webhook", "slack", "pagerduty", "opsgenie", "telegram", "msteams"})


def _global_defaults(kind: object, glob: GlobalConfig) -> dict[str, Any]:
    """The ``global`` options an integration of ``kind`` inherits (Alertmanager's defaults)."""
    out: dict[str, Any] = {}
    if kind in _HTTP_KINDS and glob.http_config is not None:
        out["http_config"] = glob.http_config
    if kind == "slack":
        if glob.slack_api_url is not None:
            out["api_url"] = glob.slack_api_url
        elif glob.slack_api_url_file is not None:
            out["api_url_file"] = glob.slack_api_url_file
    elif kind == "pagerduty" and glob.pagerduty_url is not None:
        out["url"] = glob.pagerduty_url
    elif kind == "opsgenie":
        if glob.opsgenie_api_url is not None:
            out["api_url"] = glob.opsgenie_api_url
        if glob.opsgenie_api_key is not None:
            out["api_key"] = glob.opsgenie_api_key
        elif glob.opsgenie_api_key_file is not None:
            out["api_key_file"] = glob.opsgenie_api_key_file
    elif kind == "telegram" and glob.telegram_api_url is not None:
        out["api_url"] = glob.telegram_api_url
    return out


def notifier_config(options: dict[str, Any], glob: GlobalConfig) -> NotifierConfig:
    """The validated notifier config of one receiver integration (``{"type": ..., **options}``)."""
    data = dict(options)
    if data.get("type") == "email" and (
        "smarthost" in data or "from" in data or isinstance(data.get("to"), str)
    ):
        data = _from_am_email(data, glob)
    defaults = _global_defaults(data.get("type"), glob)
    for own, inherited in _EITHER:  # a receiver's own key or file beats the global one
        if own in data:
            defaults.pop(inherited, None)
    return _NOTIFIER.validate_python({**defaults, **data})


class AlertingConfig(DispatchConfig):
    """An Alertmanager config plus Paramedic's ``external_url`` and ``data_dir``."""

    external_url: str = Field(
        "", description="URL operators reach Paramedic at (links in notifications); default: the server URL."
    )
    data_dir: str = Field(
        "alerting", description="Silences, notification log, acks (relative: to the config file)."
    )

    @model_validator(mode="after")
    def _check_notifiers(self) -> AlertingConfig:
        for i, receiver in enumerate(self.receivers):
            for j, options in enumerate(receiver.integrations()):
                where = f"receivers[{i}] ({receiver.name}) integration {j} ({options.get('type')})"
                try:
                    notifier_config(options, self.global_)
                except ValidationError as exc:
                    err = exc.errors()[0]
                    parts = list(err["loc"])
                    if parts and parts[0] == options.get("type"):  # the union's tag, not a key
                        parts = parts[1:]
                    loc = ".".join(str(p) for p in parts)
                    raise ValueError(f"{where}: {loc + ': ' if loc else ''}{err['msg']}") from None
        return self
