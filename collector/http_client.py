"""The runtime side of a job's :class:`~collector.config.HTTPClientConfig`: one :class:`ScrapeHTTP` per
distinct config (the manager shares it between every target and job that has the same settings).

It holds the TLS context (rebuilt when a CA, certificate or key file changes), the ``Authorization`` header
(basic auth, ``authorization`` credentials, or an OAuth 2.0 client-credentials token cached until shortly
before it expires), and the proxy. File secrets are re-read when the file's stat changes. Secrets never
appear in an error message: errors name the config key and the file, never its content.

Async safety: use from one event loop; token fetches are serialised by a lock.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp
from prometheus_client import Counter

from collector.errors import ScrapeConfigError
from collector.http_config import HTTPClientConfig, TLSConfig
from collector.oauth2 import TokenSource

__all__ = ["RequestOptions", "ScrapeHTTP", "SecretFile", "tls_context"]

_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
MAX_SECRET_FILE_BYTES = 64 * 1024


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class SecretFile:
    """A secret kept in a file (whitespace-trimmed, as Prometheus): re-read when the file changes."""

    def __init__(self, path: Path, key: str) -> None:
        self.path, self.key = path, key
        self._stat: tuple[int, int, int] | None = None
        self._value = ""

    def read(self) -> str:
        st = _stat(self.path)
        if st is None:
            raise ScrapeConfigError(f"{self.key} {self.path}: cannot read the file")
        if st != self._stat:
            if st[1] > MAX_SECRET_FILE_BYTES:
                raise ScrapeConfigError(f"{self.key} {self.path}: larger than {MAX_SECRET_FILE_BYTES} bytes")
            try:
                self._value = self.path.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ScrapeConfigError(f"{self.key} {self.path}: cannot read the file") from exc
            self._stat = st
        return self._value

    def changed(self) -> bool:
        return _stat(self.path) != self._stat


def tls_context(cfg: TLSConfig, base_dir: Path, key: str = "tls_config") -> ssl.SSLContext:
    """An SSLContext for ``cfg``; a missing/invalid file raises ScrapeConfigError naming its key."""

    def path(value: str) -> str:
        return str(base_dir / value)

    ctx = ssl.create_default_context()
    try:
        if cfg.ca_file:
            ctx.load_verify_locations(cafile=path(cfg.ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ScrapeConfigError(f"{key}.ca_file {cfg.ca_file}: cannot load the CA: {exc}") from exc
    try:
        if cfg.cert_file and cfg.key_file:
            ctx.load_cert_chain(path(cfg.cert_file), path(cfg.key_file))
    except (OSError, ssl.SSLError) as exc:
        raise ScrapeConfigError(
            f"{key}.cert_file/key_file {cfg.cert_file}: cannot load the client certificate: "
            f"{getattr(exc, 'reason', None) or exc.strerror or type(exc).__name__}"  # never key bytes
        ) from exc
    if cfg.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = _TLS_VERSIONS[cfg.min_version or "TLS12"]
    if cfg.max_version:
        ctx.maximum_version = _TLS_VERSIONS[cfg.max_version]
    return ctx


class _TLS:
    """A TLS context rebuilt when one of its files changes (checked at most once a second)."""

    def __init__(self, cfg: TLSConfig, base_dir: Path, key: str, clock: Callable[[], float]) -> None:
        self._cfg, self._base, self._key, self._clock = cfg, base_dir, key, clock
        files = (cfg.ca_file, cfg.cert_file, cfg.key_file)
        self._files = [base_dir / f for f in files if f]
        self._stats: list[tuple[int, int, int] | None] = []
        self._ctx: ssl.SSLContext | None = None
        self._checked = float("-inf")

    async def context(self) -> ssl.SSLContext:
        """The current context; built in a thread (loading the system CAs takes ~0.1 s), never on the loop."""
        now = self._clock()
        if self._ctx is not None and now - self._checked < 1.0:
            return self._ctx
        self._checked = now
        stats = [_stat(f) for f in self._files]
        if self._ctx is None or stats != self._stats:
            self._ctx = await asyncio.to_thread(tls_context, self._cfg, self._base, self._key)
            self._stats = stats
        return self._ctx


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """Per-request arguments of a scrape (aiohttp's names)."""

    headers: dict[str, str]
    ssl: ssl.SSLContext | bool
    server_hostname: str | None
    proxy: str | None
    proxy_headers: dict[str, str] | None
    allow_redirects: bool


def _split_proxy(url: str) -> tuple[str | None, dict[str, str] | None]:
    """The proxy URL without userinfo (so it can never reach an error message) and its credentials."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    auth = aiohttp.encode_basic_auth(unquote(parts.username), unquote(parts.password or ""))
    return urlunsplit(parts._replace(netloc=netloc)), {"Proxy-Authorization": auth}


class ScrapeHTTP:
    """TLS, credentials and proxy of one distinct http config. ``base_dir`` resolves relative files."""

    def __init__(
        self,
        cfg: HTTPClientConfig,
        base_dir: Path,
        *,
        clock: Callable[[], float] = time.monotonic,
        token_requests: Counter | None = None,
    ) -> None:
        """``token_requests``: counter (label ``result``) of OAuth2 token requests."""
        self.config = cfg
        self._clock = clock
        self._tls = _TLS(cfg.tls_config, base_dir, "tls_config", clock) if cfg.tls_config else None
        self._server_name = cfg.tls_config.server_name if cfg.tls_config else None
        self._proxy: str | None = None
        self._proxy_headers: dict[str, str] | None = None
        if cfg.proxy_url is not None:
            self._proxy, self._proxy_headers = _split_proxy(cfg.proxy_url.get_secret_value())
        self._basic_file: SecretFile | None = None
        self._cred_file: SecretFile | None = None
        if cfg.basic_auth and cfg.basic_auth.password_file:
            self._basic_file = SecretFile(base_dir / cfg.basic_auth.password_file, "basic_auth.password_file")
        if cfg.authorization and cfg.authorization.credentials_file:
            self._cred_file = SecretFile(
                base_dir / cfg.authorization.credentials_file, "authorization.credentials_file"
            )
        self._oauth2: TokenSource | None = None
        if cfg.oauth2 is not None:
            o = cfg.oauth2
            secret = (
                SecretFile(base_dir / o.client_secret_file, "oauth2.client_secret_file")
                if o.client_secret_file
                else None
            )
            token_tls = _TLS(o.tls_config, base_dir, "oauth2.tls_config", clock) if o.tls_config else None
            self._oauth2 = TokenSource(
                o,
                secret,
                tls=token_tls.context if token_tls else None,
                proxy=_split_proxy(o.proxy_url.get_secret_value()) if o.proxy_url else (None, None),
                clock=clock,
                requests=token_requests,
            )

    def _authorization(self) -> str | None:
        cfg = self.config
        if cfg.basic_auth is not None:
            b = cfg.basic_auth
            if self._basic_file is not None:
                password = self._basic_file.read()
            else:
                password = b.password.get_secret_value() if b.password else ""
            return aiohttp.encode_basic_auth(b.username, password)
        if cfg.authorization is not None:
            a = cfg.authorization
            if self._cred_file is not None:
                cred = self._cred_file.read()
            else:
                cred = a.credentials.get_secret_value() if a.credentials else ""
            return f"{a.type} {cred}"
        return None

    async def options(self, headers: dict[str, str], *, https: bool) -> RequestOptions:
        """The request options of one scrape of an ``https`` (or http) URL; may fetch an OAuth2 token (call
        within the scrape deadline). Raises ScrapeConfigError (unreadable file) or ScrapeAuthError."""
        auth = self._authorization()
        if self._oauth2 is not None:
            auth = f"Bearer {await self._oauth2.token()}"
        extra: dict[str, str] = {}
        if auth is not None:
            if "\n" in auth or "\r" in auth:
                raise ScrapeConfigError("credentials contain a line break")
            extra["Authorization"] = auth
        proxy_headers = self._proxy_headers
        if proxy_headers is not None and not https:
            # plain http goes through the proxy as one request: the proxy reads this header from it (over
            # https the header goes on the CONNECT request only, never to the target)
            extra.update(proxy_headers)
            proxy_headers = None
        return RequestOptions(
            headers={**headers, **extra} if extra else headers,
            ssl=await self._tls.context() if self._tls is not None else True,
            server_hostname=self._server_name,
            proxy=self._proxy,
            proxy_headers=proxy_headers,
            allow_redirects=self.config.follow_redirects,
        )

    def unauthorized(self) -> None:
        """The target answered 401: forget a cached OAuth2 token (the next scrape asks for a new one)."""
        if self._oauth2 is not None:
            self._oauth2.forget()

    async def close(self) -> None:
        if self._oauth2 is not None:
            await self._oauth2.close()
