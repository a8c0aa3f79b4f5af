"""PagerDuty Events API v2 (``pagerduty_configs`` with ``routing_key``): Alertmanager 0.25's body.

``event_action`` ``trigger`` while any alert fires, ``resolve`` after; ``dedup_key`` the SHA-256 of the group
key (so PagerDuty folds every notification of a group into one incident); the summary cut at 1024
characters; custom details (Alertmanager's ``firing``/``resolved``/``num_firing``/``num_resolved`` unless
overridden) replaced by an error note when the event would exceed 512 KB, as Alertmanager does. 2xx ok, 5xx
and 429 retried. The routing key (or ``routing_key_file``, read at each send) never shows in reasons.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from alerting.base import ApprovalLinks, NotifyResult
from alerting.model import Notification
from alerting.notify._receiver import AmReceiver, utcnow
from alerting.notify.amtemplate import truncate_runes
from alerting.notify.errors import TemplateError
from alerting.notify.gojson import GoMap, go_json
from alerting.notify.http_config import CredentialsError, read_secret_file
from alerting.notify.receivers_config import PagerdutyConfig

__all__ = ["PagerdutyNotifier", "group_key_hash"]

_MAX_SUMMARY_RUNES = 1024
_MAX_EVENT_BYTES = 512_000
_TOO_BIG = "Custom details have been removed because the original event exceeds the maximum size of 512KB"


def group_key_hash(group_key: str) -> str:
    """Alertmanager's ``notify.Key.Hash``: the hex SHA-256 of the group key."""
    return hashlib.sha256(group_key.encode("utf-8")).hexdigest()


class PagerdutyNotifier(AmReceiver):
    def __init__(
        self,
        config: PagerdutyConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], datetime] = utcnow,
        approval_links: ApprovalLinks | None = None,
    ) -> None:
        key = config.routing_key.get_secret_value() if config.routing_key else ""
        super().__init__(
            http_config=config.http_config,
            timeout_s=config.timeout_s,
            secrets=[key],
            transport=transport,
            now=now,
            approval_links=approval_links,
        )
        self.config = config

    async def _routing_key(self) -> str:
        if self.config.routing_key is not None:
            return self.config.routing_key.get_secret_value()
        if self.config.routing_key_file is None:
            raise CredentialsError("no routing key")
        key = await asyncio.to_thread(read_secret_file, self.config.routing_key_file)
        self.sender.add_secret(key)  # scrubbed from error reasons too
        return key

    def body(self, notification: Notification, routing_key: str) -> bytes:
        """The JSON event (raises :class:`TemplateError`)."""
        c, t = self.config, self.text
        d = self.data(notification)
        details = GoMap({k: t(v, d) for k, v in c.all_details().items()})
        payload: dict[str, Any] = {
            "summary": truncate_runes(t(c.description, d), _MAX_SUMMARY_RUNES),
            "source": t(c.source or c.client, d),
            "severity": t(c.severity or "error", d),
            "class": t(c.class_, d),
            "component": t(c.component, d),
            "group": t(c.group, d),
            "custom_details": details,
        }
        payload = {k: v for k, v in payload.items() if v or k in {"summary", "source", "severity"}}
        images = [{"src": t(i.src, d), "alt": t(i.alt, d), "href": t(i.href, d)} for i in c.images]
        links = [{"href": t(link.href, d), "text": t(link.text, d)} for link in c.links]
        msg: dict[str, Any] = {
            "routing_key": routing_key,
            "dedup_key": group_key_hash(notification.group_key),
            "event_action": "trigger" if d.status == "firing" else "resolve",
            "payload": payload,
            "client": t(c.client, d),
            "client_url": t(c.client_url, d),
            "images": [i for i in images if i["src"]],
            "links": [link for link in links if link["href"]],
        }
        msg = {k: v for k, v in msg.items() if v or k in {"event_action", "payload"}}
        body = go_json(msg)
        if len(body) > _MAX_EVENT_BYTES:
            payload["custom_details"] = GoMap({"error": _TOO_BIG})
            body = go_json(msg)
        return body

    async def notify(self, notification: Notification) -> NotifyResult:
        try:
            key = await self._routing_key()
            body = await asyncio.to_thread(self.body, notification, key)  # CPU: off the event loop
        except TemplateError as exc:
            return NotifyResult(ok=False, retry=False, reason=f"template: {exc}")
        except CredentialsError as exc:
            return NotifyResult(ok=False, retry=True, reason=f"credentials: {exc}")
        return self.too_large(body) or await self.sender.send(self.config.url, body)
