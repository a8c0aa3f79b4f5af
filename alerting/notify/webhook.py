"""Webhook notifier: POSTs Alertmanager's v4 JSON payload (byte-compatible with Alertmanager 0.25, see
:mod:`alerting.notify.payload`) or, when ``body_template`` is set, a Jinja2-rendered body for chat tools.

Request headers are Alertmanager's: ``User-Agent: Alertmanager/0.25.0`` and ``Content-Type:
application/json`` (plus Host and Content-Length; httpx's default Accept/Accept-Encoding/Connection are
removed). Results: 2xx ok; 5xx, 429, timeouts and connection errors retryable; other statuses permanent.
One ``httpx.AsyncClient`` per notifier (transport injectable), built from Alertmanager's ``http_config``
(:mod:`alerting.notify.http_config`: ``authorization``, ``basic_auth``, ``oauth2``, ``tls_config``,
``proxy_url``, ``follow_redirects``); call :meth:`aclose` when done.

An alert asking for a human decision (a pending remediation approval) gets ``approve_url``/``reject_url``
annotations in the body, minted by ``approval_links`` for this message only. Error reasons never carry the
URL's path, query or password, nor the bearer token (chat webhooks carry their credential in the path or in
``?key=``): the URL shows as ``scheme://host:port/<secret>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import httpx

from alerting.base import ApprovalLinks, NotifyResult
from alerting.model import Notification
from alerting.notify._built import BuiltCache
from alerting.notify._sender import USER_AGENT, HttpSender, http_result
from alerting.notify.config import WebhookConfig
from alerting.notify.errors import TemplateError
from alerting.notify.http_config import AuthorizationConfig, CredentialsError, HttpConfig, read_secret_file
from alerting.notify.links import with_decision_annotations
from alerting.notify.payload import v4_payload, v4_payload_dict
from alerting.notify.render import Renderer

__all__ = ["USER_AGENT", "WebhookNotifier", "http_result"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def effective_http_config(config: WebhookConfig) -> HttpConfig | None:
    """``http_config``, with Paramedic's ``bearer_token`` shorthand replacing its authentication."""
    if config.bearer_token is None:
        return config.http_config
    base = config.http_config or HttpConfig()
    auth = AuthorizationConfig(credentials=config.bearer_token)
    return base.model_copy(
        update={
            "authorization": auth,
            "basic_auth": None,
            "oauth2": None,
            "bearer_token": None,
            "bearer_token_file": None,
        }
    )


class WebhookNotifier:
    def __init__(
        self,
        config: WebhookConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], datetime] = _utcnow,
        renderer: Renderer | None = None,
        approval_links: ApprovalLinks | None = None,
    ) -> None:
        self._config = config
        self._now = now
        self._links = approval_links
        self._url = str(config.url) if config.url is not None else None
        self._sender = HttpSender(
            effective_http_config(config), timeout_s=config.timeout_s, transport=transport
        )
        self._renderer = renderer
        self._built: BuiltCache[tuple[bytes, str]] = BuiltCache()
        self._template = None
        if config.body_template is not None:
            self._renderer = renderer or Renderer()
            self._template = self._renderer.compile(config.body_template)

    @property
    def config(self) -> WebhookConfig:
        return self._config

    def body(self, notification: Notification) -> tuple[bytes, str]:
        """The request body and content type for ``notification`` (raises :class:`TemplateError`)."""
        now = self._now()
        notification = with_decision_annotations(notification, self._links)
        if self._template is None or self._renderer is None:
            return v4_payload(notification, now, max_alerts=self._config.max_alerts), "application/json"
        data = v4_payload_dict(notification, now, max_alerts=self._config.max_alerts)
        text = self._renderer.render(self._template, data)
        return text.encode("utf-8"), self._config.body_content_type

    async def notify(self, notification: Notification) -> NotifyResult:
        built = self._built.get(notification)  # a retry sends what the first attempt built
        if built is None:
            sent = notification
            if not self._config.send_resolved:
                now = self._now()
                firing = [a for a in notification.alerts if a.status(now) == "firing"]
                if not firing:
                    return NotifyResult(ok=True, reason="skipped: only resolved alerts")
                sent = replace(notification, alerts=firing)
            try:
                # a group of thousands of alerts is megabytes of JSON: built in a worker thread, so the event
                # loop (every request, /-/healthy) is never held for it
                built = await asyncio.to_thread(self.body, sent)
            except TemplateError as exc:
                return NotifyResult(ok=False, retry=False, reason=f"template: {exc}")
            self._built.put(notification, built)
        content, content_type = built
        url = self._url
        if url is None and self._config.url_file is not None:
            try:
                url = await asyncio.to_thread(read_secret_file, self._config.url_file)
            except CredentialsError as exc:
                return NotifyResult(ok=False, retry=True, reason=f"credentials: {exc}")
            self._sender.add_secret(url)
        if url is None:
            return NotifyResult(ok=False, retry=False, reason="config: no url")
        return await self._sender.send(url, content, content_type=content_type)

    async def aclose(self) -> None:
        await self._sender.aclose()
