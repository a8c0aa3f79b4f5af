"""Webhook notifier: POSTs Alertmanager's v4 JSON payload (byte-compatible with Alertmanager 0.25, see
:mod:`alerting.notify.payload`) or, when ``body_template`` is set, a Jinja2-rendered body for chat tools.

Request headers are Alertmanager's: ``User-Agent: Alertmanager/0.25.0`` and ``Content-Type:
application/json`` (plus Host and Content-Length; httpx's default Accept/Accept-Encoding/Connection are
removed). Results: 2xx ok; 5xx, 429, timeouts and connection errors retryable; other statuses permanent.
One ``httpx.AsyncClient`` per notifier (transport injectable); call :meth:`aclose` when done.

An alert asking for a human decision (a pending remediation approval) gets ``approve_url``/``reject_url``
annotations in the body, minted by ``approval_links`` for this message only. Error reasons never carry the
URL's path, query or password, nor the bearer token (chat webhooks carry their credential in the path or in
``?key=``): the URL shows as ``scheme://host:port/<secret>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import httpx

from alerting.base import ApprovalLinks, NotifyResult
from alerting.model import Notification
from alerting.notify.config import WebhookConfig
from alerting.notify.errors import TemplateError
from alerting.notify.links import with_decision_annotations
from alerting.notify.payload import v4_payload, v4_payload_dict
from alerting.notify.render import Renderer
from metrics_store.redact import SECRET, scrub

__all__ = ["USER_AGENT", "WebhookNotifier", "http_result"]

USER_AGENT = "Alertmanager/0.25.0"
_MAX_REASON_BODY = 200


def _utcnow() -> datetime:
    return datetime.now(UTC)


def http_result(status: int, body: bytes = b"") -> NotifyResult:
    """The retry decision for an HTTP status (Alertmanager's ``Retrier.Check`` plus 429)."""
    if 200 <= status < 300:
        return NotifyResult(ok=True)
    snippet = body[:_MAX_REASON_BODY].decode("utf-8", "replace").strip()
    detail = f"{status}{': ' + snippet if snippet else ''}"
    if status >= 500 or status == 429:
        return NotifyResult(ok=False, retry=True, reason=f"http_{status // 100}xx: {detail}")
    return NotifyResult(ok=False, retry=False, reason=f"http_{status // 100}xx: {detail}")


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
        self._url = str(config.url)
        # Error reasons name the host only: the path and query of a chat webhook are its credential.
        url = config.url
        self._shown_url = f"{url.scheme}://{url.host}{f':{url.port}' if url.port else ''}/{SECRET}"
        self._secrets = [config.url.password] if config.url.password else []  # scrubbed from error reasons
        path = f"{url.path or ''}{'?' + url.query if url.query else ''}"
        if path not in {"", "/"}:
            self._secrets.append(path)
        if config.bearer_token is not None:
            self._secrets.append(config.bearer_token.get_secret_value())
        self._client = httpx.AsyncClient(
            transport=transport, timeout=httpx.Timeout(config.timeout_s), follow_redirects=False
        )
        for name in ("accept", "accept-encoding", "connection"):
            self._client.headers.pop(name, None)
        self._client.headers["User-Agent"] = USER_AGENT
        self._renderer = renderer
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
        if not self._config.send_resolved:
            now = self._now()
            firing = [a for a in notification.alerts if a.status(now) == "firing"]
            if not firing:
                return NotifyResult(ok=True, reason="skipped: only resolved alerts")
            notification = replace(notification, alerts=firing)
        try:
            content, content_type = self.body(notification)
        except TemplateError as exc:
            return NotifyResult(ok=False, retry=False, reason=f"template: {exc}")
        # Go's order: Host, User-Agent, Content-Length, Content-Type (httpx keeps an explicit Content-Length).
        headers = {"Content-Length": str(len(content)), "Content-Type": content_type}
        if self._config.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self._config.bearer_token.get_secret_value()}"
        try:
            resp = await self._client.post(self._url, content=content, headers=headers)
            body = await resp.aread()
        except httpx.TimeoutException as exc:
            return NotifyResult(ok=False, retry=True, reason=f"timeout: {type(exc).__name__}")
        except httpx.TransportError as exc:
            reason = self._scrub(f"connect: {type(exc).__name__}: {exc}")
            return NotifyResult(ok=False, retry=True, reason=reason)
        except httpx.HTTPError as exc:
            reason = self._scrub(f"http: {type(exc).__name__}: {exc}")
            return NotifyResult(ok=False, retry=False, reason=reason)
        result = http_result(resp.status_code, body)
        return replace(result, reason=self._scrub(result.reason)) if result.reason else result

    def _scrub(self, text: str) -> str:
        """``text`` without the URL's path, query, password or the bearer token (the host stays)."""
        return scrub(text.replace(self._url, self._shown_url), self._secrets)

    async def aclose(self) -> None:
        await self._client.aclose()
