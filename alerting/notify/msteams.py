"""Microsoft Teams (``msteams_configs``): the Office 365 connector MessageCard of Alertmanager 0.27.

Alertmanager 0.25 has no Teams receiver; this follows 0.27 (``notify/msteams``): ``@context``, ``type:
MessageCard``, ``title``/``summary``/``text`` from the default templates and ``themeColor`` ``8C1A1A``
(firing) or ``2DC72D`` (resolved). 2xx ok, 5xx and 429 retried. The webhook URL (or ``webhook_url_file``,
read at each send) is the credential: it never shows in reasons or dumps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import httpx

from alerting.base import ApprovalLinks, NotifyResult
from alerting.model import Notification
from alerting.notify._receiver import AmReceiver, utcnow
from alerting.notify.errors import TemplateError
from alerting.notify.gojson import go_json
from alerting.notify.http_config import CredentialsError, required_secret
from alerting.notify.receivers_config import MsteamsConfig

__all__ = ["MsteamsNotifier"]

_COLORS = {"firing": "8C1A1A", "resolved": "2DC72D"}


class MsteamsNotifier(AmReceiver):
    def __init__(
        self,
        config: MsteamsConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], datetime] = utcnow,
        approval_links: ApprovalLinks | None = None,
    ) -> None:
        super().__init__(
            http_config=config.http_config,
            timeout_s=config.timeout_s,
            secrets=[config.webhook_url.get_secret_value()] if config.webhook_url else [],
            transport=transport,
            now=now,
            approval_links=approval_links,
        )
        self.config = config

    def body(self, notification: Notification) -> bytes:
        """The JSON body (raises :class:`TemplateError`)."""
        c, t = self.config, self.text
        d = self.data(notification)
        return go_json(
            {
                "@context": "http://schema.org/extensions",
                "type": "MessageCard",
                "title": t(c.title, d),
                "summary": t(c.summary, d),
                "text": t(c.text, d),
                "themeColor": _COLORS.get(d.status, "808080"),
            }
        )

    async def _url(self) -> str:
        return await required_secret(self.config.webhook_url, self.config.webhook_url_file, "webhook_url")

    async def notify(self, notification: Notification) -> NotifyResult:
        try:
            body = await asyncio.to_thread(self.body, notification)  # CPU: off the event loop
            url = await self._url()
        except TemplateError as exc:
            return NotifyResult(ok=False, retry=False, reason=f"template: {exc}")
        except CredentialsError as exc:
            return NotifyResult(ok=False, retry=True, reason=f"credentials: {exc}")
        return self.too_large(body) or await self.sender.send(url, body)
