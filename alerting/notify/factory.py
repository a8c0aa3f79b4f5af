"""Build a notifier from its config: an explicit table keyed by the config ``type``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from alerting.base import ApprovalLinks, Explainer, Notifier
from alerting.notify.config import (
    EmailConfig,
    MsteamsConfig,
    NotifierConfig,
    OpsgenieConfig,
    PagerdutyConfig,
    SlackConfig,
    TelegramConfig,
    WebhookConfig,
)
from alerting.notify.email import EmailNotifier
from alerting.notify.errors import NotifyConfigError
from alerting.notify.msteams import MsteamsNotifier
from alerting.notify.opsgenie import OpsgenieNotifier
from alerting.notify.pagerduty import PagerdutyNotifier
from alerting.notify.slack import SlackNotifier
from alerting.notify.telegram import TelegramNotifier
from alerting.notify.webhook import WebhookNotifier

__all__ = ["NOTIFIERS", "NotifierDeps", "build_notifier"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class NotifierDeps:
    """What the wiring injects into notifiers (all optional, production defaults)."""

    explainer: Explainer | None = None
    approval_links: ApprovalLinks | None = None  # signed approve/reject links, in the message only
    http_transport: httpx.AsyncBaseTransport | None = None
    now: Callable[[], datetime] = _utcnow


def _webhook(config: NotifierConfig, deps: NotifierDeps) -> Notifier:
    if not isinstance(config, WebhookConfig):
        raise NotifyConfigError(f"webhook builder got a {type(config).__name__}")
    return WebhookNotifier(
        config, transport=deps.http_transport, now=deps.now, approval_links=deps.approval_links
    )


def _email(config: NotifierConfig, deps: NotifierDeps) -> Notifier:
    if not isinstance(config, EmailConfig):
        raise NotifyConfigError(f"email builder got a {type(config).__name__}")
    return EmailNotifier(config, explainer=deps.explainer, now=deps.now, approval_links=deps.approval_links)


def _slack(config: NotifierConfig, deps: NotifierDeps) -> Notifier:
    if not isinstance(config, SlackConfig):
        raise NotifyConfigError(f"slack builder got a {type(config).__name__}")
    return SlackNotifier(
        config, transport=deps.http_transport, now=deps.now, approval_links=deps.approval_links
    )


def _pagerduty(config: NotifierConfig, deps: NotifierDeps) -> Notifier:
    if not isinstance(config, PagerdutyConfig):
        raise NotifyConfigError(f"pagerduty builder got a {type(config).__name__}")
    return PagerdutyNotifier(
        config, transport=deps.http_transport, now=deps.now, approval_links=deps.approval_links
    )


def _opsgenie(config: NotifierConfig, deps: NotifierDeps) -> Notifier:
    if not isinstance(config, OpsgenieConfig):
        raise NotifyConfigError(f"opsgenie builder got a {type(config).__name__}")
    return OpsgenieNotifier(
        config, transport=deps.http_transport, now=deps.now, approval_links=deps.approval_links
    )


def _telegram(config: NotifierConfig, deps: NotifierDeps) -> Notifier:
    if not isinstance(config, TelegramConfig):
        raise NotifyConfigError(f"telegram builder got a {type(config).__name__}")
    return TelegramNotifier(
        config, transport=deps.http_transport, now=deps.now, approval_links=deps.approval_links
    )


def _msteams(config: NotifierConfig, deps: NotifierDeps) -> Notifier:
    if not isinstance(config, MsteamsConfig):
        raise NotifyConfigError(f"msteams builder got a {type(config).__name__}")
    return MsteamsNotifier(
        config, transport=deps.http_transport, now=deps.now, approval_links=deps.approval_links
    )


NOTIFIERS: dict[str, Callable[[NotifierConfig, NotifierDeps], Notifier]] = {
    "email": _email,
    "msteams": _msteams,
    "opsgenie": _opsgenie,
    "pagerduty": _pagerduty,
    "slack": _slack,
    "telegram": _telegram,
    "webhook": _webhook,
}


def build_notifier(config: NotifierConfig, deps: NotifierDeps | None = None) -> Notifier:
    """The notifier for ``config`` (:class:`NotifyConfigError`: unknown type, bad templates)."""
    builder = NOTIFIERS.get(config.type)
    if builder is None:
        raise NotifyConfigError(
            f"unknown notifier type {config.type!r} (known: {', '.join(sorted(NOTIFIERS))})"
        )
    return builder(config, deps or NotifierDeps())
