"""Slack (``slack_configs``): Alertmanager 0.25's incoming-webhook body, byte for byte.

One attachment with Alertmanager's default templates (title ``[FIRING:n] ...``, title link to the
Alertmanager UI, colour ``danger``/``good``), ``mrkdwn_in`` defaulting to fallback, pretext and text; the
title cut at 1024 characters. 2xx ok, 5xx and 429 retried. ``api_url`` (or ``api_url_file``, read at each
send) is itself the credential: it never shows in reasons or dumps.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from alerting.base import ApprovalLinks, NotifyResult
from alerting.model import Notification
from alerting.notify._receiver import AmReceiver, utcnow
from alerting.notify.amtemplate import TemplateData, truncate_runes
from alerting.notify.errors import TemplateError
from alerting.notify.gojson import go_json
from alerting.notify.http_config import CredentialsError, required_secret
from alerting.notify.receivers_config import SlackAction, SlackConfig

__all__ = ["SlackNotifier"]

_MAX_TITLE_RUNES = 1024


def _omit(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    """``d`` without the ``omitempty`` fields among ``keys`` that are empty."""
    return {k: v for k, v in d.items() if k not in keys or v}


class SlackNotifier(AmReceiver):
    def __init__(
        self,
        config: SlackConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], datetime] = utcnow,
        approval_links: ApprovalLinks | None = None,
    ) -> None:
        secrets = [config.api_url.get_secret_value()] if config.api_url else []
        super().__init__(
            http_config=config.http_config,
            timeout_s=config.timeout_s,
            secrets=secrets,
            transport=transport,
            now=now,
            approval_links=approval_links,
        )
        self.config = config

    def _action(self, a: SlackAction, d: TemplateData) -> dict[str, Any]:
        t = self.text
        out: dict[str, Any] = {
            "type": t(a.type, d),
            "text": t(a.text, d),
            "url": t(a.url, d),
            "style": t(a.style, d),
            "name": t(a.name, d),
            "value": t(a.value, d),
        }
        out = _omit(out, *out)
        if a.confirm is not None:
            c = a.confirm
            confirm = {
                "text": t(c.text, d),
                "title": t(c.title, d),
                "ok_text": t(c.ok_text, d),
                "dismiss_text": t(c.dismiss_text, d),
            }
            out["confirm"] = _omit(confirm, *confirm)
        return out

    def body(self, notification: Notification) -> bytes:
        """The JSON body (raises :class:`TemplateError`)."""
        c, t = self.config, self.text
        d = self.data(notification)
        att: dict[str, Any] = {
            "title": truncate_runes(t(c.title, d), _MAX_TITLE_RUNES),
            "title_link": t(c.title_link, d),
            "pretext": t(c.pretext, d),
            "text": t(c.text, d),
            "fallback": t(c.fallback, d),
            "callback_id": t(c.callback_id, d),
        }
        if c.fields:
            att["fields"] = [
                _omit({"title": t(f.title, d), "value": t(f.value, d)}, "title", "value")
                | {"short": f.short if f.short is not None else c.short_fields}
                for f in c.fields
            ]
        if c.actions:
            att["actions"] = [self._action(a, d) for a in c.actions]
        att |= {
            "image_url": t(c.image_url, d),
            "thumb_url": t(c.thumb_url, d),
            "footer": t(c.footer, d),
            "color": t(c.color, d),
            "mrkdwn_in": list(c.mrkdwn_in) or ["fallback", "pretext", "text"],
        }
        att = _omit(att, "title", "title_link", "pretext", "image_url", "thumb_url", "color", "mrkdwn_in")
        req = {
            "channel": t(c.channel, d),
            "username": t(c.username, d),
            "icon_emoji": t(c.icon_emoji, d),
            "icon_url": t(c.icon_url, d),
            "link_names": c.link_names,
            "attachments": [att],
        }
        return go_json(_omit(req, "channel", "username", "icon_emoji", "icon_url", "link_names"))

    async def _url(self) -> str:
        return await required_secret(self.config.api_url, self.config.api_url_file, "api_url")

    async def notify(self, notification: Notification) -> NotifyResult:
        try:
            body = await asyncio.to_thread(self.body, notification)  # CPU: off the event loop
            url = await self._url()
        except TemplateError as exc:
            return NotifyResult(ok=False, retry=False, reason=f"template: {exc}")
        except CredentialsError as exc:
            return NotifyResult(ok=False, retry=True, reason=f"credentials: {exc}")
        return self.too_large(body) or await self.sender.send(url, body)
