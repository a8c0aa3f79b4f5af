"""Receiver integration configs, tagged by ``type`` (validated at load; secrets as ``SecretStr``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, model_validator

from alerting.notify.http_config import HttpConfig, TlsConfig
from alerting.notify.receivers_config import (
    MsteamsConfig,
    OpsgenieConfig,
    PagerdutyConfig,
    SlackConfig,
    TelegramConfig,
)

__all__ = [
    "EmailConfig",
    "HttpConfig",
    "MsteamsConfig",
    "NotifierConfig",
    "OpsgenieConfig",
    "PagerdutyConfig",
    "SlackConfig",
    "TelegramConfig",
    "WebhookConfig",
]


class _Base(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WebhookConfig(_Base):
    """Alertmanager's ``webhook_config``: POSTs the v4 JSON payload (or a templated body)."""

    type: Literal["webhook"] = "webhook"
    url: HttpUrl | None = None
    url_file: Path | None = None  # Alertmanager's: the URL read from this file at each send
    send_resolved: bool = True
    max_alerts: int = Field(default=0, ge=0)  # 0: all alerts; else truncate (truncatedAlerts counts the rest)
    timeout_s: float = Field(default=10.0, gt=0)
    # Paramedic's shorthand: replaces http_config's authentication (its own or global.http_config's)
    bearer_token: SecretStr | None = None
    http_config: HttpConfig | None = None  # Alertmanager's: authorization, basic_auth, oauth2, TLS, proxy
    # Optional Jinja2 body for chat tools; context: the v4 payload fields (receiver, status, alerts, ...).
    body_template: str | None = None
    body_content_type: str = "application/json"

    @model_validator(mode="after")
    def _one_url(self) -> WebhookConfig:
        if (self.url is None) == (self.url_file is None):
            raise ValueError("one of url or url_file must be configured")
        return self


class EmailConfig(_Base):
    """SMTP delivery of an explained notification (HTML + text, inline chart)."""

    type: Literal["email"] = "email"
    to: list[str] = Field(min_length=1)
    sender: str  # From:
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    security: Literal["plain", "starttls", "tls"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None  # trust this CA (PEM) instead of the system store
    verify_tls: bool = True
    # Alertmanager's email tls_config (ca_file, cert_file/key_file client certificate, insecure_skip_verify,
    # min_version); when set it replaces ca_file
    tls_config: TlsConfig | None = None
    timeout_s: float = Field(default=30.0, gt=0)
    send_resolved: bool = True
    templates_dir: Path | None = None  # email.html.j2 / email.txt.j2 / subject.txt.j2 here override ours
    max_explained_alerts: int = Field(default=3, ge=0)  # explain (chart, logs, events) the first N alerts
    explain_timeout_s: float = Field(default=10.0, gt=0)


NotifierConfig = Annotated[
    WebhookConfig
    | EmailConfig
    | SlackConfig
    | PagerdutyConfig
    | OpsgenieConfig
    | TelegramConfig
    | MsteamsConfig,
    Field(discriminator="type"),
]
