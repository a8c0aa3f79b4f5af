"""Receiver integrations (email, webhook), the retry policy around them, and the explainer.

* :func:`deliver` — the retry policy, written once (:mod:`alerting.notify.retry`).
* :class:`WebhookNotifier` — Alertmanager 0.25's v4 payload byte for byte, or a templated body.
* :class:`EmailNotifier` — HTML + text, an inline chart, log patterns, events and links.
* :class:`SlackNotifier`, :class:`PagerdutyNotifier`, :class:`OpsgenieNotifier`, :class:`TelegramNotifier`,
  :class:`MsteamsNotifier` — Alertmanager's receivers, their requests byte-equal to Alertmanager's, with its
  default templates (:mod:`alerting.notify.amtemplate`).
* :class:`HttpConfig` — Alertmanager's ``http_config`` (auth, OAuth2, TLS, proxy) for every HTTP receiver.
* :class:`QueryExplainer` — the "why" from the metrics store, the log patterns and an event source.
* :func:`build_notifier` — from a ``type``-tagged config via the :data:`NOTIFIERS` table.
* :class:`ApprovalLinkProviders` — where the server subscribes the approval-link provider (remediation's),
  asked by notifiers for the signed approve/reject links that go into the message only.
"""

from alerting.notify._metrics import DeliveryMetrics
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
from alerting.notify.errors import NotifyConfigError, NotifyError, TemplateError
from alerting.notify.explain import EventSource, ExplainWindow, PatternSource, QueryExplainer
from alerting.notify.factory import NOTIFIERS, NotifierDeps, build_notifier
from alerting.notify.http_config import CredentialsError, HttpConfig
from alerting.notify.links import ApprovalLinkProviders
from alerting.notify.msteams import MsteamsNotifier
from alerting.notify.opsgenie import OpsgenieNotifier
from alerting.notify.pagerduty import PagerdutyNotifier
from alerting.notify.payload import v4_payload
from alerting.notify.retry import RetryPolicy, deliver
from alerting.notify.slack import SlackNotifier
from alerting.notify.telegram import TelegramNotifier
from alerting.notify.webhook import WebhookNotifier

__all__ = [
    "NOTIFIERS",
    "ApprovalLinkProviders",
    "CredentialsError",
    "DeliveryMetrics",
    "EmailConfig",
    "EmailNotifier",
    "EventSource",
    "ExplainWindow",
    "HttpConfig",
    "MsteamsConfig",
    "MsteamsNotifier",
    "NotifierConfig",
    "NotifierDeps",
    "NotifyConfigError",
    "NotifyError",
    "OpsgenieConfig",
    "OpsgenieNotifier",
    "PagerdutyConfig",
    "PagerdutyNotifier",
    "PatternSource",
    "QueryExplainer",
    "RetryPolicy",
    "SlackConfig",
    "SlackNotifier",
    "TelegramConfig",
    "TelegramNotifier",
    "TemplateError",
    "WebhookConfig",
    "WebhookNotifier",
    "build_notifier",
    "deliver",
    "v4_payload",
]
