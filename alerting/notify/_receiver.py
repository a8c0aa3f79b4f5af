"""What Alertmanager's chat and paging receivers share: the sender, the clock, the template data.

Subclasses build the request(s) for one notification with :meth:`AmReceiver.data` and
:meth:`AmReceiver.text` (a templated field, cut at :data:`~alerting.notify.amtemplate.MAX_FIELD_CHARS`) and
send them through :attr:`AmReceiver.sender`. A body larger than ``max_body_bytes`` (1 MiB) is not sent
(permanent failure ``too_large``): no template output can make us post megabytes to a receiver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import httpx

from alerting.base import ApprovalLinks, NotifyResult
from alerting.model import Notification
from alerting.notify._sender import USER_AGENT, HttpSender
from alerting.notify.amtemplate import TemplateData, render_field, template_data
from alerting.notify.http_config import HttpConfig
from alerting.notify.links import with_decision_annotations

__all__ = ["MAX_BODY_BYTES", "AmReceiver", "utcnow"]

MAX_BODY_BYTES = 1024 * 1024


def utcnow() -> datetime:
    return datetime.now(UTC)


class AmReceiver:
    """Base of the receivers; ``http_config``, ``timeout_s`` and the secrets to scrub come from the config."""

    def __init__(
        self,
        *,
        http_config: HttpConfig | None,
        timeout_s: float,
        secrets: Iterable[str] = (),
        user_agent: str | None = USER_AGENT,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], datetime] = utcnow,
        approval_links: ApprovalLinks | None = None,
        html: bool = False,
    ) -> None:
        self.sender = HttpSender(
            http_config,
            timeout_s=timeout_s,
            transport=transport,
            secrets=secrets,
            user_agent=user_agent,
        )
        self._now = now
        self._links = approval_links
        self._html = html

    def data(self, notification: Notification) -> TemplateData:
        """Alertmanager's ``template.Data`` (approval links added to the alerts that ask for a decision)."""
        notification = with_decision_annotations(notification, self._links)
        return template_data(notification, self._now(), html=self._html)

    @staticmethod
    def text(field: str, data: TemplateData) -> str:
        return render_field(field, data)

    @staticmethod
    def too_large(body: bytes) -> NotifyResult | None:
        if len(body) > MAX_BODY_BYTES:
            return NotifyResult(
                ok=False, retry=False, reason=f"too_large: body of {len(body)} bytes > {MAX_BODY_BYTES}"
            )
        return None

    async def aclose(self) -> None:
        await self.sender.aclose()
