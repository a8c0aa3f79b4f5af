"""Configs of Alertmanager's chat and paging receivers, with Alertmanager's key names and defaults.

``slack_configs``, ``pagerduty_configs`` (events v2), ``opsgenie_configs`` and ``telegram_configs`` as in
Alertmanager 0.25; ``msteams_configs`` as in Alertmanager 0.27 (0.25 has none). Every templated field defaults
to Alertmanager's own default (``{{ template "slack.default.title" . }}``, ...) and accepts plain text or a
Go template (:func:`alerting.notify.amtemplate.check_field`: what the evaluator cannot run is refused here).
Each also takes ``http_config`` (:class:`~alerting.notify.http_config.HttpConfig`) and Paramedic's
``timeout_s`` and ``max_alerts``; the
``global`` defaults (``slack_api_url``, ``pagerduty_url``, ``opsgenie_api_url``/``opsgenie_api_key``,
``telegram_api_url``, ``http_config``) are merged in by ``alerting.config.notifier_config``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

from alerting.notify.amtemplate import check_field
from alerting.notify.http_config import HttpConfig

__all__ = [
    "MsteamsConfig",
    "OpsgenieConfig",
    "OpsgenieResponder",
    "PagerdutyConfig",
    "PagerdutyImage",
    "PagerdutyLink",
    "SlackAction",
    "SlackConfig",
    "SlackConfirm",
    "SlackField",
    "TelegramConfig",
]

Tmpl = Annotated[str, AfterValidator(check_field)]


def _check_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("want an http:// or https:// URL")
    return text


def _check_secret_url(secret: SecretStr) -> SecretStr:
    try:
        _check_url(secret.get_secret_value())
    except ValueError:
        raise ValueError("want an http:// or https:// URL") from None  # the URL itself stays unprinted
    return secret


# A URL that is a credential (a chat webhook): held as a SecretStr.
SecretUrl = Annotated[SecretStr, AfterValidator(_check_secret_url)]
# Kept as written (Go's url.String() of it): receivers append paths to it as Alertmanager does.
Url = Annotated[str, AfterValidator(_check_url)]


def _default(name: str) -> str:
    return f'{{{{ template "{name}" . }}}}'


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Http(_Base):
    send_resolved: bool = True
    max_alerts: int = Field(default=0, ge=0)
    timeout_s: float = Field(default=10.0, gt=0, le=300)  # Paramedic's: each request's deadline
    http_config: HttpConfig | None = None


class SlackField(_Base):
    title: Tmpl = ""
    value: Tmpl = ""
    short: bool | None = None


class SlackConfirm(_Base):
    text: Tmpl = ""
    title: Tmpl = ""
    ok_text: Tmpl = ""
    dismiss_text: Tmpl = ""


class SlackAction(_Base):
    type: Tmpl = ""
    text: Tmpl = ""
    url: Tmpl = ""
    style: Tmpl = ""
    name: Tmpl = ""
    value: Tmpl = ""
    confirm: SlackConfirm | None = None


class SlackConfig(_Http):
    type: Literal["slack"] = "slack"
    send_resolved: bool = False
    api_url: SecretUrl | None = None
    api_url_file: Path | None = None
    channel: Tmpl = ""
    username: Tmpl = _default("slack.default.username")
    color: Tmpl = '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
    title: Tmpl = _default("slack.default.title")
    title_link: Tmpl = _default("slack.default.titlelink")
    pretext: Tmpl = _default("slack.default.pretext")
    text: Tmpl = _default("slack.default.text")
    fields: list[SlackField] = Field(default_factory=list, max_length=100)
    short_fields: bool = False
    footer: Tmpl = _default("slack.default.footer")
    fallback: Tmpl = _default("slack.default.fallback")
    callback_id: Tmpl = _default("slack.default.callbackid")
    icon_emoji: Tmpl = _default("slack.default.iconemoji")
    icon_url: Tmpl = _default("slack.default.iconurl")
    image_url: Tmpl = ""
    thumb_url: Tmpl = ""
    link_names: bool = False
    mrkdwn_in: list[str] = Field(default_factory=list)
    actions: list[SlackAction] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _url(self) -> SlackConfig:
        if self.api_url is None and self.api_url_file is None:
            raise ValueError("one of api_url or api_url_file must be configured (or global.slack_api_url)")
        if self.api_url is not None and self.api_url_file is not None:
            raise ValueError("at most one of api_url & api_url_file must be configured")
        return self


class PagerdutyImage(_Base):
    src: Tmpl = ""
    alt: Tmpl = ""
    href: Tmpl = ""


class PagerdutyLink(_Base):
    href: Tmpl = ""
    text: Tmpl = ""


PAGERDUTY_DEFAULT_DETAILS = {
    "firing": '{{ template "pagerduty.default.instances" .Alerts.Firing }}',
    "resolved": '{{ template "pagerduty.default.instances" .Alerts.Resolved }}',
    "num_firing": "{{ .Alerts.Firing | len }}",
    "num_resolved": "{{ .Alerts.Resolved | len }}",
}


class PagerdutyConfig(_Http):
    """Events API v2 (``routing_key``); the v1 ``service_key`` is refused."""

    type: Literal["pagerduty"] = "pagerduty"
    routing_key: SecretStr | None = None
    routing_key_file: Path | None = None
    url: Url = "https://events.pagerduty.com/v2/enqueue"
    client: Tmpl = _default("pagerduty.default.client")
    client_url: Tmpl = _default("pagerduty.default.clientURL")
    description: Tmpl = _default("pagerduty.default.description")
    details: dict[str, Tmpl] = Field(default_factory=dict, max_length=100)
    images: list[PagerdutyImage] = Field(default_factory=list, max_length=100)
    links: list[PagerdutyLink] = Field(default_factory=list, max_length=100)
    source: Tmpl = ""  # default: client
    severity: Tmpl = "error"
    class_: Tmpl = Field("", alias="class")
    component: Tmpl = ""
    group: Tmpl = ""

    @model_validator(mode="after")
    def _key(self) -> PagerdutyConfig:
        if self.routing_key is None and self.routing_key_file is None:
            raise ValueError("missing routing key in PagerDuty config (events v1 service_key: not supported)")
        if self.routing_key is not None and self.routing_key_file is not None:
            raise ValueError("at most one of routing_key & routing_key_file must be configured")
        return self

    def all_details(self) -> dict[str, str]:
        """``details`` with Alertmanager's defaults for the keys not given."""
        return {**PAGERDUTY_DEFAULT_DETAILS, **self.details}


class OpsgenieResponder(_Base):
    id: Tmpl = ""
    name: Tmpl = ""
    username: Tmpl = ""
    type: Tmpl

    @model_validator(mode="after")
    def _one(self) -> OpsgenieResponder:
        if not (self.id or self.name or self.username):
            raise ValueError("opsgenie responder must have at least an id, a name or a username defined")
        return self


class OpsgenieConfig(_Http):
    type: Literal["opsgenie"] = "opsgenie"
    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    api_url: Url = "https://api.opsgenie.com/"
    message: Tmpl = _default("opsgenie.default.message")
    description: Tmpl = _default("opsgenie.default.description")
    source: Tmpl = _default("opsgenie.default.source")
    details: dict[str, Tmpl] = Field(default_factory=dict, max_length=100)
    entity: Tmpl = ""
    responders: list[OpsgenieResponder] = Field(default_factory=list, max_length=100)
    actions: Tmpl = ""
    tags: Tmpl = ""
    note: Tmpl = ""
    priority: Tmpl = ""
    update_alerts: bool = False

    @model_validator(mode="after")
    def _key(self) -> OpsgenieConfig:
        if self.api_key is not None and self.api_key_file is not None:
            raise ValueError("at most one of api_key & api_key_file must be configured")
        if self.api_key is None and self.api_key_file is None:
            raise ValueError("one of api_key or api_key_file must be configured (or global.opsgenie_api_key)")
        return self


class TelegramConfig(_Http):
    type: Literal["telegram"] = "telegram"
    api_url: Url = "https://api.telegram.org"
    bot_token: SecretStr
    chat_id: int
    message: Tmpl = _default("telegram.default.message")
    disable_notifications: bool = False
    parse_mode: Literal["", "HTML", "Markdown", "MarkdownV2"] = "HTML"


class MsteamsConfig(_Http):
    """Alertmanager 0.27's ``msteams_configs`` (an Office 365 connector MessageCard)."""

    type: Literal["msteams"] = "msteams"
    webhook_url: SecretUrl | None = None
    webhook_url_file: Path | None = None
    title: Tmpl = _default("msteams.default.title")
    summary: Tmpl = _default("msteams.default.summary")
    text: Tmpl = _default("msteams.default.text")

    @model_validator(mode="after")
    def _url(self) -> MsteamsConfig:
        if (self.webhook_url is None) == (self.webhook_url_file is None):
            raise ValueError("one of webhook_url or webhook_url_file must be configured")
        return self
