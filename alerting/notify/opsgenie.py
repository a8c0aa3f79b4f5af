"""Opsgenie Alert API v2 (``opsgenie_configs``): Alertmanager 0.25's requests.

Firing: ``POST <api_url>v2/alerts`` (alias = SHA-256 of the group key, message cut at 130 characters,
details = the common labels plus ``details``, responders with ``type: teams`` split into teams, ``tags`` and
``actions`` comma-separated), then with ``update_alerts`` two ``PUT``s updating message and description.
Resolved: ``POST <api_url>v2/alerts/<alias>/close?identifierType=alias``. ``Authorization: GenieKey <key>``
(``api_key`` or ``api_key_file``, read at each send). 2xx ok, 5xx and 429 retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from alerting.base import ApprovalLinks, NotifyResult
from alerting.model import Notification
from alerting.notify._receiver import AmReceiver, utcnow
from alerting.notify.amtemplate import TemplateData, truncate_runes
from alerting.notify.errors import TemplateError
from alerting.notify.gojson import GoMap, go_json
from alerting.notify.http_config import CredentialsError, read_secret_file
from alerting.notify.pagerduty import group_key_hash
from alerting.notify.receivers_config import OpsgenieConfig

__all__ = ["OpsgenieNotifier"]

_MAX_MESSAGE_RUNES = 130


def _split(text: str) -> list[str]:
    """Alertmanager's ``safeSplit(s, ",")``: empty items dropped (the others keep their spaces)."""
    return [x for x in text.strip().split(",") if x]


class OpsgenieNotifier(AmReceiver):
    def __init__(
        self,
        config: OpsgenieConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        now: Callable[[], datetime] = utcnow,
        approval_links: ApprovalLinks | None = None,
    ) -> None:
        key = config.api_key.get_secret_value() if config.api_key else ""
        super().__init__(
            http_config=config.http_config,
            timeout_s=config.timeout_s,
            secrets=[key],
            transport=transport,
            now=now,
            approval_links=approval_links,
        )
        self.config = config

    def _url(self, suffix: str, query: str = "") -> str:
        parts = urlsplit(self.config.api_url)
        path = parts.path + suffix
        if not path.startswith("/"):
            path = "/" + path
        return urlunsplit((parts.scheme, parts.netloc, path, query, ""))

    def _responders(self, d: TemplateData) -> list[dict[str, str]]:
        t = self.text
        out: list[dict[str, str]] = []
        for r in self.config.responders:
            resp = {
                "id": t(r.id, d),
                "name": t(r.name, d),
                "username": t(r.username, d),
                "type": t(r.type, d),
            }
            if not any(resp.values()):
                continue
            if resp["type"] == "teams":
                out += [{"name": team, "type": "team"} for team in _split(resp["name"])]
                continue
            out.append({k: v for k, v in resp.items() if v or k == "type"})
        return out

    def requests(self, notification: Notification) -> list[tuple[str, str, bytes]]:
        """``(method, url, body)`` of each request, in order (raises :class:`TemplateError`)."""
        c, t = self.config, self.text
        d = self.data(notification)
        alias = group_key_hash(notification.group_key)
        if d.status == "resolved":
            close = self._url(f"v2/alerts/{alias}/close", "identifierType=alias")
            return [("POST", close, go_json({"source": t(c.source, d)}))]
        details = GoMap(d.common_labels)
        details.update({k: t(v, d) for k, v in c.details.items()})
        msg: dict[str, Any] = {
            "alias": alias,
            "message": truncate_runes(t(c.message, d), _MAX_MESSAGE_RUNES),
            "description": t(c.description, d),
            "details": details,
            "source": t(c.source, d),
            "responders": self._responders(d),
            "tags": _split(t(c.tags, d)),
            "note": t(c.note, d),
            "priority": t(c.priority, d),
            "entity": t(c.entity, d),
            "actions": _split(t(c.actions, d)),
        }
        msg = {k: v for k, v in msg.items() if v or k in {"alias", "message", "details", "source"}}
        out = [("POST", self._url("v2/alerts"), go_json(msg))]
        if c.update_alerts:
            q = "identifierType=alias"
            update = {"message": msg["message"]} if msg["message"] else {}
            out.append(("PUT", self._url(f"v2/alerts/{alias}/message", q), go_json(update)))
            desc = {"description": msg["description"]} if msg.get("description") else {}
            out.append(("PUT", self._url(f"v2/alerts/{alias}/description", q), go_json(desc)))
        return out

    async def _api_key(self) -> str:
        if self.config.api_key is not None:
            return self.config.api_key.get_secret_value()
        if self.config.api_key_file is None:
            raise CredentialsError("no api_key")
        key = await asyncio.to_thread(read_secret_file, self.config.api_key_file)
        self.sender.add_secret(key)
        return key

    async def notify(self, notification: Notification) -> NotifyResult:
        try:
            requests = await asyncio.to_thread(self.requests, notification)  # CPU: off the event loop
            headers = {"Authorization": f"GenieKey {await self._api_key()}"}
        except TemplateError as exc:
            return NotifyResult(ok=False, retry=False, reason=f"template: {exc}")
        except CredentialsError as exc:
            return NotifyResult(ok=False, retry=True, reason=f"credentials: {exc}")
        result = NotifyResult(ok=True)
        for method, url, body in requests:
            result = self.too_large(body) or await self.sender.send(url, body, method=method, headers=headers)
            if not result.ok:
                return result
        return result
