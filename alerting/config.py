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
Integration types without a notifier (victorops, pushover, ...) are refused at load. Each problem is
reported at its own key path (``receivers[0].webhook_configs[1].http_config.basic_auth``), every
integration's problems at once, and an unknown key gets the closest allowed key and the keys allowed there
(:mod:`metrics_store.model_keys`), as everywhere else in the config file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from alerting.dispatch.config import _AM_INTEGRATIONS, DispatchConfig, GlobalConfig, ReceiverConfig
from alerting.notify.config import EmailConfig, NotifierConfig
from metrics_store.model_keys import allowed_keys, suggest_among
from metrics_store.yaml_errors import KEYS_HINT, MAX_PROBLEMS, MORE_PROBLEMS

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


# Alertmanager's email_config keys; the others pass through to EmailConfig (tls_config, security, ...).
_AM_EMAIL_KEYS = frozenset(
    {
        *("type", "to", "from", "smarthost", "auth_username", "auth_password", "auth_identity"),
        *("auth_secret", "require_tls", "headers", "html", "text", "hello", *_DISPATCH_ONLY),
    }
)
# EmailConfig's keys that _from_am_email fills from Alertmanager's: a problem there is the file's key's.
_AM_EMAIL_SOURCE = {
    "sender": "from",
    "host": "smarthost",
    "port": "smarthost",
    "username": "auth_username",
    "password": "auth_password",
    "security": "require_tls",
}
_AM_FILLED = frozenset(_AM_EMAIL_SOURCE) | {"type"}


def _is_am_email(data: dict[str, Any]) -> bool:
    return data.get("type") == "email" and (
        "smarthost" in data or "from" in data or isinstance(data.get("to"), str)
    )


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
    for key in sorted(set(options) - _AM_EMAIL_KEYS):
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
    if _is_am_email(data):
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
        """Each integration against its notifier config, each problem at the file's key path (raised as
        a :class:`ValidationError`, which pydantic places under this section's own location)."""
        problems: list[InitErrorDetails] = []
        more = 0
        for i, receiver in enumerate(self.receivers):
            for at, options, errors in _integration_errors(("receivers", i), receiver, self.global_):
                for err in errors:  # locating costs ~0.2 ms (the model's keys, the closest one): bounded
                    if len(problems) < MAX_PROBLEMS:
                        problems.append(_located(err, at, options))
                    else:
                        more += 1
        if more:
            problems.append(
                InitErrorDetails(
                    type=PydanticCustomError(MORE_PROBLEMS, "{count} more problems", {"count": more}),
                    loc=("receivers",),
                    input=None,
                )
            )
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        return self


_TYPE_IN_KIND_LIST = "type_in_kind_list"
"""A ``type:`` key in a ``<kind>_configs`` entry, reported as an unknown key (Alertmanager refuses it too)."""


def _integration_errors(
    at: tuple[int | str, ...], receiver: ReceiverConfig, glob: GlobalConfig
) -> Iterator[tuple[tuple[int | str, ...], dict[str, Any], list[Any]]]:
    """Per integration of ``receiver``: its place in the file (``at`` + ``notifiers[j]`` or
    ``<kind>_configs[j]``), its options with the type, and its validation errors (unlocated: the caller
    locates only as many as it reports). A ``type:`` inside ``<kind>_configs`` is an error of its own, not
    an override of the kind: ``webhook_configs: [{type: email}]`` would otherwise be an email notifier."""
    lists = [("notifiers", None), *((f"{kind}_configs", kind) for kind in _AM_INTEGRATIONS)]
    for field, kind in lists:
        for j, entry in enumerate(getattr(receiver, field)):
            errors: list[Any] = []
            if kind is None:
                options = dict(entry)
            else:
                if "type" in entry:
                    errors.append({"type": _TYPE_IN_KIND_LIST, "loc": ("type",), "input": entry["type"]})
                options = {"type": kind, **{k: v for k, v in entry.items() if k != "type"}}
            try:
                notifier_config(options, glob)
            except ValidationError as exc:
                errors += exc.errors(include_url=False)
            if errors:
                yield (*at, field, j), options, errors


def _located(err: Any, at: tuple[int | str, ...], options: dict[str, Any]) -> InitErrorDetails:
    """One notifier error moved to the file's location, an unknown key's hint in its ``ctx``."""
    raw = tuple(err["loc"])
    if err["type"] == _TYPE_IN_KIND_LIST:
        hint = f"`{at[-2]}` sets the type; `type:` belongs to `notifiers:` entries"
        return InitErrorDetails(
            type=PydanticCustomError("extra_forbidden", "Extra inputs are not permitted", {KEYS_HINT: hint}),
            loc=(*at, "type"),
            input=err["input"],
        )
    inner = raw[1:] if raw and raw[0] == options.get("type") else raw  # the union's tag is not a key
    am_email = _is_am_email(options)
    if am_email and inner and inner[0] in _AM_EMAIL_SOURCE and inner[0] not in options:
        inner = (_AM_EMAIL_SOURCE[str(inner[0])], *inner[1:])
    ctx: dict[str, Any] | None = None
    if err["type"] == "union_tag_invalid" and at[-2] != "notifiers":  # no `type:` key to fix here
        expected = (err.get("ctx") or {}).get("expected_tags", "")
        message = f"Paramedic has no {options['type']} notifier (fix: use one of {expected})"
        return InitErrorDetails(
            type=PydanticCustomError("integration_unsupported", message), loc=at, input=err.get("input")
        )
    if err["type"] == "extra_forbidden" and inner and isinstance(inner[-1], str):
        if am_email and len(inner) == 1:  # Alertmanager's keys, plus EmailConfig's that pass through
            keys: list[str] | None = sorted(_AM_EMAIL_KEYS | (set(EmailConfig.model_fields) - _AM_FILLED))
        else:
            keys = allowed_keys(NotifierConfig, raw[:-1])
        if keys and len(inner) == 1 and at[-2] != "notifiers":  # <kind>_configs: the list names the type
            keys = [k for k in keys if k != "type"]
        ctx = {KEYS_HINT: suggest_among(inner[-1], keys)} if keys else None
    return InitErrorDetails(
        type=PydanticCustomError(err["type"], err["msg"], ctx),
        loc=(*at, *inner),
        input=err.get("input"),
    )
