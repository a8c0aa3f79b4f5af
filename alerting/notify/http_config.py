"""Alertmanager's ``http_config`` (Prometheus' ``HTTPClientConfig``, prometheus/common 0.38 as in Alertmanager
0.25) for the HTTP receivers: authentication, TLS, proxy and redirects, with the same names and checks.

* ``authorization`` (``type``, default ``Bearer``; ``credentials`` or ``credentials_file``), ``basic_auth``
  (``username``, ``password`` or ``password_file``), the legacy ``bearer_token``/``bearer_token_file``
  (turned into ``authorization`` as Prometheus does) and ``oauth2`` (client credentials grant: ``client_id``,
  ``client_secret`` or ``client_secret_file``, ``token_url``, ``scopes``, ``endpoint_params``; the token is
  cached until shortly before it expires);
* ``tls_config`` (``ca_file``, ``cert_file``, ``key_file``, ``server_name``, ``insecure_skip_verify``,
  ``min_version``/``max_version`` as ``TLS10``..``TLS13``), ``proxy_url``, ``follow_redirects`` (default
  true, as Alertmanager), ``enable_http2`` (accepted; requests use HTTP/1.1).

Secrets are :class:`~pydantic.SecretStr`; the ``*_file`` secrets are read at every request (trailing white
space stripped, as Prometheus), so a rotated token is used without a reload. A file that cannot be read fails
the attempt with :class:`CredentialsError` (retried by the policy: the file may come back).
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
from collections.abc import AsyncGenerator, Callable
from pathlib import Path
from typing import Literal
from urllib.parse import quote_plus

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from alerting.notify.errors import NotifyError

__all__ = [
    "AuthorizationConfig",
    "BasicAuthConfig",
    "CredentialsError",
    "HttpConfig",
    "OAuth2Config",
    "TlsConfig",
    "build_client",
    "read_secret_file",
    "secret_value",
]

_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
_MAX_SECRET_FILE_BYTES = 64 * 1024
MAX_TOKEN_ANSWER_BYTES = 64 * 1024  # an OAuth2 token answer is a few hundred bytes


class CredentialsError(NotifyError):
    """A credentials file could not be read (or an OAuth2 token could not be obtained) for this attempt."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BasicAuthConfig(_Model):
    username: str = ""
    password: SecretStr | None = None
    password_file: Path | None = None

    @model_validator(mode="after")
    def _one(self) -> BasicAuthConfig:
        if self.password is not None and self.password.get_secret_value() and self.password_file:
            raise ValueError("at most one of basic_auth password & password_file must be configured")
        return self


class AuthorizationConfig(_Model):
    type: str = "Bearer"
    credentials: SecretStr | None = None
    credentials_file: Path | None = None

    @model_validator(mode="after")
    def _check(self) -> AuthorizationConfig:
        if self.credentials is not None and self.credentials.get_secret_value() and self.credentials_file:
            raise ValueError("at most one of authorization credentials & credentials_file must be configured")
        if self.type.strip().lower() == "basic":
            raise ValueError('authorization type cannot be set to "basic", use "basic_auth" instead')
        return self


class OAuth2Config(_Model):
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    client_secret_file: Path | None = None
    scopes: list[str] = Field(default_factory=list)
    token_url: str = Field(min_length=1)
    endpoint_params: dict[str, str] = Field(default_factory=dict)
    tls_config: TlsConfig | None = None
    proxy_url: str | None = None

    @model_validator(mode="after")
    def _check(self) -> OAuth2Config:
        has_secret = self.client_secret is not None and bool(self.client_secret.get_secret_value())
        if not has_secret and self.client_secret_file is None:
            raise ValueError("either oauth2 client_secret or client_secret_file must be configured")
        if has_secret and self.client_secret_file is not None:
            raise ValueError("at most one of oauth2 client_secret & client_secret_file must be configured")
        return self


class TlsConfig(_Model):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False
    min_version: Literal["TLS10", "TLS11", "TLS12", "TLS13"] | None = None
    max_version: Literal["TLS10", "TLS11", "TLS12", "TLS13"] | None = None

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls_config: cert_file and key_file must be given together")
        return self

    def ssl_context(self) -> ssl.SSLContext:
        """The client's TLS context (reads the CA and the client certificate now)."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.cert_file is not None and self.key_file is not None:
            ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        if self.insecure_skip_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.min_version:
            ctx.minimum_version = _TLS_VERSIONS[self.min_version]
        if self.max_version:
            ctx.maximum_version = _TLS_VERSIONS[self.max_version]
        return ctx


class HttpConfig(_Model):
    """``http_config`` of a receiver (or ``global.http_config``, its default)."""

    basic_auth: BasicAuthConfig | None = None
    authorization: AuthorizationConfig | None = None
    oauth2: OAuth2Config | None = None
    bearer_token: SecretStr | None = None
    bearer_token_file: Path | None = None
    tls_config: TlsConfig | None = None
    proxy_url: str | None = None
    follow_redirects: bool = True
    enable_http2: bool = True

    @model_validator(mode="after")
    def _check(self) -> HttpConfig:
        bearer = (self.bearer_token is not None and bool(self.bearer_token.get_secret_value())) or bool(
            self.bearer_token_file
        )
        if self.bearer_token is not None and self.bearer_token_file is not None:
            raise ValueError("at most one of bearer_token & bearer_token_file must be configured")
        if (self.basic_auth or self.oauth2) and bearer:
            raise ValueError(
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
            )
        if self.authorization is not None and bearer:
            raise ValueError("authorization is not compatible with bearer_token & bearer_token_file")
        if self.authorization is not None and (self.basic_auth or self.oauth2):
            raise ValueError("at most one of basic_auth, oauth2 & authorization must be configured")
        if self.oauth2 is not None and self.basic_auth is not None:
            raise ValueError("at most one of basic_auth, oauth2 & authorization must be configured")
        if self.proxy_url is not None and not self.proxy_url.startswith(("http://", "https://")):
            raise ValueError("proxy_url: want an http:// or https:// URL")
        return self

    def effective_authorization(self) -> AuthorizationConfig | None:
        """``authorization``, or the legacy ``bearer_token(_file)`` as one (Prometheus' ``Validate``)."""
        if self.authorization is not None:
            return self.authorization
        if self.bearer_token is not None and self.bearer_token.get_secret_value():
            return AuthorizationConfig(credentials=self.bearer_token)
        if self.bearer_token_file is not None:
            return AuthorizationConfig(credentials_file=self.bearer_token_file)
        return None


def read_secret_file(path: Path) -> str:
    """A secret file's content without surrounding white space (:class:`CredentialsError` if unreadable)."""
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise CredentialsError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(data) > _MAX_SECRET_FILE_BYTES:
        raise CredentialsError(f"{path}: larger than {_MAX_SECRET_FILE_BYTES} bytes")
    return data.decode("utf-8", "replace").strip()


async def secret_value(value: SecretStr | None, path: Path | None) -> str:
    """``value``, or the content of ``path`` read now (in a worker thread: never blocks the event loop)."""
    if path is not None:
        return await asyncio.to_thread(read_secret_file, path)
    return value.get_secret_value() if value is not None else ""


async def required_secret(value: SecretStr | None, path: Path | None, what: str) -> str:
    """:func:`secret_value` of a setting that must be given (:class:`CredentialsError` naming ``what``)."""
    if value is None and path is None:
        raise CredentialsError(f"no {what}")
    return await secret_value(value, path)


async def _read_token_answer(response: httpx.Response) -> bytes:
    """The token endpoint's answer, at most :data:`MAX_TOKEN_ANSWER_BYTES` (else :class:`CredentialsError`:
    a hostile endpoint's endless answer is not read on); the response is closed."""
    out = bytearray()
    try:
        async for chunk in response.aiter_raw():
            out += chunk
            if len(out) > MAX_TOKEN_ANSWER_BYTES:
                raise CredentialsError(f"oauth2: token endpoint answer over {MAX_TOKEN_ANSWER_BYTES} bytes")
    finally:
        await response.aclose()
    # httpx reads an auth-flow response after the flow saw it: it finds the body already read
    response._content = bytes(out)
    return response._content


class _Auth(httpx.Auth):
    """Sets ``Authorization`` on each request from the config, reading secret files each time."""

    def __init__(self, config: HttpConfig, seen: Callable[[str], None], clock: Callable[[], float]) -> None:
        self._config = config
        self._seen = seen  # told each secret value used, so error texts can be scrubbed of it
        self._clock = clock
        self._token: tuple[str, float] | None = None  # (access token, expiry on the clock)

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        cfg = self._config
        auth = cfg.effective_authorization()
        if cfg.basic_auth is not None:
            password = await secret_value(cfg.basic_auth.password, cfg.basic_auth.password_file)
            self._seen(password)
            raw = f"{cfg.basic_auth.username}:{password}".encode()
            request.headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        elif auth is not None:
            credentials = await secret_value(auth.credentials, auth.credentials_file)
            self._seen(credentials)
            request.headers["Authorization"] = f"{auth.type.strip() or 'Bearer'} {credentials}"
        elif cfg.oauth2 is not None:
            if self._token is None or self._clock() >= self._token[1]:
                o = cfg.oauth2
                secret = await secret_value(o.client_secret, o.client_secret_file)
                if o.tls_config is None and o.proxy_url is None:  # the receiver's own client fetches it
                    response = yield self._token_request(o, secret)
                    body = await _read_token_answer(response)
                else:  # the token endpoint has TLS settings or a proxy of its own
                    verify: ssl.SSLContext | bool = o.tls_config.ssl_context() if o.tls_config else True
                    async with httpx.AsyncClient(
                        verify=verify, proxy=o.proxy_url, trust_env=False, timeout=httpx.Timeout(30.0)
                    ) as token_client:
                        response = await token_client.send(self._token_request(o, secret), stream=True)
                        body = await _read_token_answer(response)
                self._token = self._parse_token(response.status_code, body)
            request.headers["Authorization"] = f"Bearer {self._token[0]}"
        yield request

    def _token_request(self, o: OAuth2Config, secret: str) -> httpx.Request:
        self._seen(secret)
        form = {"grant_type": "client_credentials", **o.endpoint_params}
        if o.scopes:
            form["scope"] = " ".join(o.scopes)
        basic = f"{quote_plus(o.client_id)}:{quote_plus(secret)}".encode()
        # identity: the answer is read raw and capped (never inflated here)
        headers = {
            "Authorization": "Basic " + base64.b64encode(basic).decode(),
            "Accept-Encoding": "identity",
        }
        return httpx.Request("POST", o.token_url, data=form, headers=headers)

    def _parse_token(self, status: int, body: bytes) -> tuple[str, float]:
        if status // 100 != 2:
            raise CredentialsError(f"oauth2: token endpoint answered {status}")
        try:
            data = json.loads(body)
            token = str(data["access_token"])
            expires_in = float(data.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError) as exc:
            raise CredentialsError("oauth2: token endpoint answered no access_token") from exc
        self._seen(token)
        return token, self._clock() + max(expires_in - 10.0, 0.0)


def build_client(
    config: HttpConfig | None,
    *,
    timeout_s: float,
    transport: httpx.AsyncBaseTransport | None = None,
    seen: Callable[[str], None] = lambda _: None,
    clock: Callable[[], float] = time.monotonic,
) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` as Alertmanager's client for ``config`` (None: the defaults). httpx's own
    default headers (Accept, Accept-Encoding, Connection) are removed: the sender sets Alertmanager's."""
    cfg = config or HttpConfig()
    verify: ssl.SSLContext | bool = cfg.tls_config.ssl_context() if cfg.tls_config else True
    client = httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeout_s),
        follow_redirects=cfg.follow_redirects,
        verify=verify,
        proxy=cfg.proxy_url,
        trust_env=False,
        auth=_Auth(cfg, seen, clock),
    )
    for name in ("accept", "accept-encoding", "connection", "user-agent"):
        client.headers.pop(name, None)
    return client


def request_extensions(config: HttpConfig | None) -> dict[str, str]:
    """Per-request httpx extensions: ``sni_hostname`` for ``tls_config.server_name``."""
    if config is not None and config.tls_config is not None and config.tls_config.server_name:
        return {"sni_hostname": config.tls_config.server_name}
    return {}


OAuth2Config.model_rebuild()
