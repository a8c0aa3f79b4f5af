"""OAuth 2.0 client credentials for scrapes (Prometheus' ``oauth2``): a token from ``token_url``, cached.

``POST token_url`` with ``grant_type=client_credentials``, ``scope`` (space-separated ``scopes``) and every
``endpoint_params`` entry; the client authenticates with HTTP Basic (RFC 6749 section 2.3.1, id and secret
form-URL-encoded). The token is kept until ``expires_in`` minus a margin (a tenth of the lifetime, at most
10 s, as golang.org/x/oauth2's expiry delta), forgotten when the secret file changes or a target answers 401.

Errors (:class:`~collector.errors.ScrapeAuthError`) name the token URL, the HTTP status and the endpoint's
``error`` code; never the secret, never the token, never the rest of the answer.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

import aiohttp
import orjson
from prometheus_client import Counter

from collector.errors import ScrapeAuthError
from collector.http_config import OAuth2

if TYPE_CHECKING:
    from collector.http_client import SecretFile

__all__ = ["MAX_TOKEN_RESPONSE_BYTES", "TokenSource"]

MAX_TOKEN_RESPONSE_BYTES = 64 * 1024
_DEFAULT_LIFETIME_S = 3600.0  # a token answer without expires_in (x/oauth2 then keeps it forever)


def _shown(url: str) -> str:
    """``url`` as errors show it: without its query (``endpoint_params`` belong in the form, but a query may
    carry a secret too)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?<redacted>" if parts.query else "")


def _error_code(body: bytes) -> str:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    code = data.get("error") if isinstance(data, dict) else None
    if isinstance(code, str) and code.isascii() and code.replace("_", "").isalnum() and len(code) <= 64:
        return f" ({code})"
    return ""


async def _read_capped(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The body up to ``limit`` bytes: ``read(n)`` returns whatever arrived, so a close-delimited answer
    written in pieces would be cut at its first piece without the loop."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await stream.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class TokenSource:
    """Tokens of one ``oauth2`` block; ``token()`` returns a cached one or fetches a new one."""

    def __init__(
        self,
        cfg: OAuth2,
        secret_file: SecretFile | None,
        *,
        tls: Callable[[], Awaitable[ssl.SSLContext]] | None,
        proxy: tuple[str | None, dict[str, str] | None],
        clock: Callable[[], float] = time.monotonic,
        requests: Counter | None = None,
    ) -> None:
        """``requests``: a counter with a ``result`` label (success/failure) for every token request."""
        self._cfg = cfg
        self._requests = requests
        self._secret_file = secret_file
        self._tls = tls
        self._proxy, self._proxy_headers = proxy
        self._clock = clock
        self._token = ""
        self._valid_until = float("-inf")
        self._lock: asyncio.Lock | None = None
        self._session: aiohttp.ClientSession | None = None

    def forget(self) -> None:
        self._token, self._valid_until = "", float("-inf")

    def _secret(self) -> str:
        if self._secret_file is not None:
            if self._secret_file.changed():
                self.forget()
            return self._secret_file.read()
        return self._cfg.client_secret.get_secret_value() if self._cfg.client_secret else ""

    async def token(self) -> str:
        secret = self._secret()  # first: a changed secret file forgets the token
        if self._token and self._clock() < self._valid_until:
            return self._token
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._token and self._clock() < self._valid_until:
                return self._token  # another scrape fetched it meanwhile
            try:
                token = await self._fetch(secret)
            except ScrapeAuthError:
                if self._requests is not None:
                    self._requests.labels("failure").inc()
                raise
            if self._requests is not None:
                self._requests.labels("success").inc()
            return token

    async def _fetch(self, secret: str) -> str:
        cfg = self._cfg
        form = {"grant_type": "client_credentials", **cfg.endpoint_params}
        if cfg.scopes:
            form["scope"] = " ".join(cfg.scopes)
        auth = aiohttp.encode_basic_auth(quote(cfg.client_id, safe=""), quote(secret, safe=""))
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(),
                trust_env=False,
                timeout=aiohttp.ClientTimeout(total=None),
            )
        headers = {"Accept": "application/json", "Authorization": auth}
        proxy_headers = self._proxy_headers
        if proxy_headers is not None and not cfg.token_url.startswith("https:"):
            headers.update(proxy_headers)  # plain http: the proxy reads it from the request itself
            proxy_headers = None
        started = self._clock()
        where = f"oauth2: token_url {_shown(cfg.token_url)}"
        try:
            async with self._session.post(
                cfg.token_url,
                data=form,
                headers=headers,
                ssl=await self._tls() if self._tls is not None else True,
                proxy=self._proxy,
                proxy_headers=proxy_headers,
            ) as resp:
                body = await _read_capped(resp.content, MAX_TOKEN_RESPONSE_BYTES + 1)
                status = resp.status
        except (aiohttp.ClientError, OSError) as exc:
            raise ScrapeAuthError(f"{where}: cannot fetch a token: {type(exc).__name__}") from exc
        if status != 200:
            raise ScrapeAuthError(f"{where}: answered HTTP {status}{_error_code(body)}")
        if len(body) > MAX_TOKEN_RESPONSE_BYTES:
            raise ScrapeAuthError(f"{where}: answer larger than {MAX_TOKEN_RESPONSE_BYTES} bytes")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ScrapeAuthError(f"{where}: the answer is not JSON") from exc
        token = data.get("access_token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token or not token.isprintable():
            raise ScrapeAuthError(f"{where}: the answer has no access_token")
        expires_in = data.get("expires_in")
        lifetime = (
            float(expires_in)
            if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0
            else _DEFAULT_LIFETIME_S
        )
        self._token = token
        self._valid_until = started + lifetime - min(10.0, lifetime / 10)
        return token

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
