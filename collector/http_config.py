"""How a scrape job reaches its targets: TLS (CA, client certificate), authentication, proxy, redirects.

Key names and meanings are Prometheus' ``http_config`` (a ``scrape_config`` written for Prometheus is read
unchanged): ``tls_config``, ``basic_auth``, ``authorization``, ``oauth2`` (client credentials), ``proxy_url``,
``follow_redirects``, ``enable_http2``. Secrets are :class:`~pydantic.SecretStr` (``<secret>`` in every dump)
or files (``*_file``, relative to the config file's folder, re-read when they change). The runtime side is
:mod:`collector.http_client`.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = ["Authorization", "BasicAuth", "HTTPClientConfig", "OAuth2", "TLSConfig", "TLSVersion"]

TLSVersion = Literal["TLS10", "TLS11", "TLS12", "TLS13"]


def _one_of(data: BaseModel, inline: str, file: str, *, required: bool) -> None:
    has_inline = getattr(data, inline) is not None
    has_file = getattr(data, file) is not None
    if has_inline and has_file:
        raise ValueError(f"at most one of {inline} and {file} (fix: remove one)")
    if required and not (has_inline or has_file):
        raise ValueError(f"needs {inline} or {file}")


class TLSConfig(BaseModel):
    """Prometheus' ``tls_config``: the CA that signs the target's certificate, the client certificate
    (mTLS), the name the certificate must carry, the oldest TLS version accepted."""

    model_config = ConfigDict(extra="forbid")

    ca_file: str | None = Field(None, min_length=1, description="PEM CA bundle; default: the system's CAs.")
    cert_file: str | None = Field(None, min_length=1, description="PEM client certificate (mTLS).")
    key_file: str | None = Field(None, min_length=1, description="PEM private key of cert_file.")
    server_name: str | None = Field(None, min_length=1, description="Name checked in the server's cert.")
    insecure_skip_verify: bool = Field(False, description="Do not verify the server's certificate.")
    min_version: TLSVersion | None = Field(None, description="Oldest TLS version; default TLS12.")
    max_version: TLSVersion | None = None

    @model_validator(mode="after")
    def _pair(self) -> TLSConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (fix: set both or neither)")
        return self


class BasicAuth(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1)
    password: SecretStr | None = None
    password_file: str | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _secret(self) -> BasicAuth:
        _one_of(self, "password", "password_file", required=False)
        return self


class Authorization(BaseModel):
    """``Authorization: <type> <credentials>`` on every scrape (Prometheus' ``authorization``)."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field("Bearer", min_length=1, pattern=r"^[A-Za-z][A-Za-z0-9._~+-]*$")
    credentials: SecretStr | None = None
    credentials_file: str | None = Field(None, min_length=1)

    @field_validator("type")
    @classmethod
    def _not_basic(cls, v: str) -> str:
        if v.lower() == "basic":
            raise ValueError("type Basic: use basic_auth instead")
        return v

    @model_validator(mode="after")
    def _secret(self) -> Authorization:
        _one_of(self, "credentials", "credentials_file", required=True)
        return self


def _http_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an http(s) URL")
    return value


def _check_proxy(v: SecretStr | None) -> SecretStr | None:
    if v is not None and urlsplit(v.get_secret_value()).scheme != "http":
        raise ValueError("must be an http:// URL (the proxy itself is spoken to in plain HTTP)")
    if v is not None and not urlsplit(v.get_secret_value()).hostname:
        raise ValueError("must name the proxy's host")
    return v


class OAuth2(BaseModel):
    """OAuth 2.0 client credentials: a token from ``token_url``, kept until it expires. As in Prometheus, the
    token request has its own ``tls_config`` and ``proxy_url`` (the job's are for the scrape)."""

    model_config = ConfigDict(extra="forbid")

    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    client_secret_file: str | None = Field(None, min_length=1)
    token_url: str
    scopes: list[str] = Field(default_factory=list)
    endpoint_params: dict[str, str] = Field(default_factory=dict)
    tls_config: TLSConfig | None = Field(None, description="TLS towards token_url.")
    proxy_url: SecretStr | None = Field(None, description="http:// proxy towards token_url.")

    @field_validator("token_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if "@" in urlsplit(v).netloc:  # aiohttp refuses it next to the Basic auth; never shown in errors
            raise ValueError("token_url must not carry credentials (use client_id and client_secret)")
        return _http_url(v, "token_url")

    @field_validator("proxy_url")
    @classmethod
    def _proxy(cls, v: SecretStr | None) -> SecretStr | None:
        return _check_proxy(v)

    @model_validator(mode="after")
    def _secret(self) -> OAuth2:
        _one_of(self, "client_secret", "client_secret_file", required=True)
        return self


class HTTPClientConfig(BaseModel):
    """The ``http_config`` keys of a scrape job."""

    model_config = ConfigDict(extra="forbid")

    tls_config: TLSConfig | None = None
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    oauth2: OAuth2 | None = None
    proxy_url: SecretStr | None = Field(
        None, description="http:// forward proxy (userinfo allowed: it is a secret and never shown)."
    )
    follow_redirects: bool = True
    enable_http2: bool = Field(
        True,
        description="Accepted for compatibility; scrapes speak HTTP/1.1 (as Prometheus over plain http).",
    )

    @field_validator("proxy_url")
    @classmethod
    def _proxy(cls, v: SecretStr | None) -> SecretStr | None:
        return _check_proxy(v)

    @model_validator(mode="after")
    def _one_auth(self) -> HTTPClientConfig:
        used = [k for k in ("basic_auth", "authorization", "oauth2") if getattr(self, k) is not None]
        if len(used) > 1:
            raise ValueError(f"at most one of basic_auth, authorization and oauth2 (found {', '.join(used)})")
        return self

    def http_key(self) -> str:
        """Identity of these settings (secrets included, never shown): jobs with equal keys share a client."""
        data = self.model_dump(mode="python", include=set(HTTPClientConfig.model_fields))
        return repr(_reveal(data))


def _reveal(value: object) -> object:
    if isinstance(value, SecretStr):
        return ("secret", value.get_secret_value())
    if isinstance(value, dict):
        return {k: _reveal(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_reveal(v) for v in value]
    return value
