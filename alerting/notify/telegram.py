"""Telegram (``telegram_configs``): the ``sendMessage`` call Alertmanager 0.25 makes through telebot v3.

``POST <api_url>/bot<token>/sendMessage`` with a JSON object of strings (``chat_id``, ``text``,
``parse_mode``, ``disable_web_page_preview: "true"``, ``disable_notification: "true"`` when asked), keys
sorted as Go marshals a map; with ``parse_mode: HTML`` (the default) the values in the default template are
escaped as Go's ``html/template`` does; the text is cut at 4096 characters. Success is a 2xx answer whose JSON
says ``"ok": true``; anything else is retried, as Alertmanager retries every Telegram error. The bot token is
part of the URL: it never shows in reasons.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import httpx
import orjson

from alerting.base import ApprovalLinks, NotifyResult
from alerting.model import Notification
from alerting.notify._receiver import AmReceiver, utcnow
from alerting.notify.amtemplate import truncate_runes
from alerting.notify.errors import TemplateError
from alerting.notify.gojson import GoMap, go_json
from alerting.notify.receivers_config import TelegramConfig

__all__ = ["TelegramNotifier", "telegram_result"]

_MAX_MESSAGE_RUNES = 4096


def telegram_result(status: int, body: bytes) -> NotifyResult:
    """telebot's check: a JSON answer with ``ok: true``; every failure retryable (as Alertmanager)."""
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        answer = None
    if 200 <= status < 300 and isinstance(answer, dict) and answer.get("ok") is True:
        return NotifyResult(ok=True)
    detail = answer.get("description") if isinstance(answer, dict) else None
    text = str(detail)[:200] if detail else body[:200].decode("utf-8", "replace")
    return NotifyResult(ok=False, retry=True, reason=f"http_{status // 100}xx: {status}: {text}".rstrip(": "))


class TelegramNotifier(AmReceiver):
    def __init__(
        self,
        config: TelegramConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], datetime] = utcnow,
        approval_links: ApprovalLinks | None = None,
    ) -> None:
        super().__init__(
            http_config=config.http_config,
            timeout_s=config.timeout_s,
            secrets=[config.bot_token.get_secret_value()],
            user_agent=None,  # telebot sets none: Go's default
            transport=transport,
            now=now,
            approval_links=approval_links,
            html=config.parse_mode == "HTML",
        )
        self.config = config

    def body(self, notification: Notification) -> bytes:
        """The JSON body (raises :class:`TemplateError`)."""
        c = self.config
        d = self.data(notification)
        params = GoMap(
            chat_id=str(c.chat_id),
            text=truncate_runes(self.text(c.message, d), _MAX_MESSAGE_RUNES),
            disable_web_page_preview="true",
        )
        if c.parse_mode:
            params["parse_mode"] = c.parse_mode
        if c.disable_notifications:
            params["disable_notification"] = "true"
        return go_json(params)

    def url(self) -> str:
        return f"{self.config.api_url}/bot{self.config.bot_token.get_secret_value()}/sendMessage"

    async def notify(self, notification: Notification) -> NotifyResult:
        try:
            body = await asyncio.to_thread(self.body, notification)  # CPU: off the event loop
        except TemplateError as exc:
            return NotifyResult(ok=False, retry=False, reason=f"template: {exc}")
        return self.too_large(body) or await self.sender.send(self.url(), body, check=telegram_result)
