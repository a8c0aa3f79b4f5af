"""One HTTP request of a receiver, as Alertmanager's ``notify.PostJSON`` + ``Retrier.Check`` make it.

:class:`HttpSender` owns the receiver's ``httpx.AsyncClient`` (built from its ``http_config``), sends one
request with Alertmanager's headers (``User-Agent: Alertmanager/0.25.0`` unless told otherwise, the content
type) and turns the answer into a :class:`~alerting.base.NotifyResult`: 2xx ok; 5xx and the receiver's extra
retry codes retryable; timeouts and connection errors retryable; other statuses permanent. The answer's body
is read up to 64 KiB (a hostile sink cannot make us buffer more). Error reasons never carry the request URL
(chat webhooks and Telegram carry their credential in the path) nor any secret value used for the request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

import httpx

from alerting.base import NotifyResult
from alerting.notify.http_config import CredentialsError, HttpConfig, build_client, request_extensions
from metrics_store.redact import SECRET, scrub

__all__ = ["USER_AGENT", "HttpSender", "http_result", "shown_url"]

USER_AGENT = "Alertmanager/0.25.0"
_MAX_REASON_BODY = 200
_MAX_ANSWER_BYTES = 64 * 1024


def http_result(status: int, body: bytes = b"", retry_codes: Iterable[int] = (429,)) -> NotifyResult:
    """The retry decision for an HTTP status (Alertmanager's ``Retrier.Check`` with ``retry_codes``)."""
    if 200 <= status < 300:
        return NotifyResult(ok=True)
    snippet = body[:_MAX_REASON_BODY].decode("utf-8", "replace").strip()
    detail = f"{status}{': ' + snippet if snippet else ''}"
    retry = status >= 500 or status in set(retry_codes)
    return NotifyResult(ok=False, retry=retry, reason=f"http_{status // 100}xx: {detail}")


def shown_url(url: str) -> str:
    """``scheme://host:port/<secret>``: how a receiver URL appears in error reasons."""
    u = httpx.URL(url)
    return f"{u.scheme}://{u.host}{f':{u.port}' if u.port else ''}/{SECRET}"


class HttpSender:
    """Sends a receiver's requests; one per notifier (call :meth:`aclose` when done)."""

    def __init__(
        self,
        http_config: HttpConfig | None,
        *,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
        secrets: Iterable[str] = (),
        retry_codes: Iterable[int] = (429,),
        user_agent: str | None = USER_AGENT,
    ) -> None:
        self._secrets = [s for s in secrets if s]
        self._retry_codes = tuple(retry_codes)
        self._user_agent = user_agent
        self._extensions = request_extensions(http_config)
        self._client = build_client(
            http_config, timeout_s=timeout_s, transport=transport, seen=self.add_secret
        )

    def add_secret(self, value: str) -> None:
        if value and value not in self._secrets:
            self._secrets.append(value)

    async def send(
        self,
        url: str,
        body: bytes,
        *,
        content_type: str = "application/json",
        method: str = "POST",
        headers: Mapping[str, str] | None = None,
        check: Callable[[int, bytes], NotifyResult] | None = None,
    ) -> NotifyResult:
        """One request; ``check`` replaces the status check (Telegram reads its ``ok`` field)."""
        # Go's order: Host, User-Agent, Content-Length, then the others sorted (order is not significant).
        head = {"User-Agent": self._user_agent} if self._user_agent else {}
        head |= {"Content-Length": str(len(body)), **(headers or {}), "Content-Type": content_type}
        if self._user_agent is None:
            head["User-Agent"] = "Go-http-client/1.1"
        request = self._client.build_request(
            method, url, content=body, headers=head, extensions=self._extensions
        )
        try:
            resp = await self._client.send(request, stream=True)
            try:
                answer = await _read_capped(resp)
            finally:
                await resp.aclose()
        except httpx.TimeoutException as exc:
            return NotifyResult(ok=False, retry=True, reason=f"timeout: {type(exc).__name__}")
        except CredentialsError as exc:
            return NotifyResult(ok=False, retry=True, reason=self._scrub(f"credentials: {exc}", url))
        except httpx.TransportError as exc:
            return NotifyResult(
                ok=False, retry=True, reason=self._scrub(f"connect: {type(exc).__name__}: {exc}", url)
            )
        except httpx.HTTPError as exc:
            return NotifyResult(
                ok=False, retry=False, reason=self._scrub(f"http: {type(exc).__name__}: {exc}", url)
            )
        result = (check or self._check)(resp.status_code, answer)
        return replace(result, reason=self._scrub(result.reason, url)) if result.reason else result

    def _check(self, status: int, body: bytes) -> NotifyResult:
        return http_result(status, body, self._retry_codes)

    def _scrub(self, text: str, url: str) -> str:
        """``text`` without the URL's path/query/password or any secret used (the host stays)."""
        u = httpx.URL(url)
        secrets = [*self._secrets]
        if u.password:
            secrets.append(u.password)
        path = u.raw_path.decode("ascii", "replace")
        if path not in {"", "/"}:
            secrets.append(path)
        return scrub(text.replace(url, shown_url(url)), secrets)

    async def aclose(self) -> None:
        await self._client.aclose()


async def _read_capped(resp: httpx.Response) -> bytes:
    out = bytearray()
    async for chunk in resp.aiter_bytes():
        out += chunk
        if len(out) >= _MAX_ANSWER_BYTES:
            break
    return bytes(out[:_MAX_ANSWER_BYTES])
