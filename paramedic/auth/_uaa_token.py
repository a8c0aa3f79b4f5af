"""Verifying UAA access tokens: RS256 JWTs signed by a key of UAA's ``/token_keys``.

A token is accepted when its header names ``alg: RS256`` and a ``kid`` of UAA's key set, its signature
verifies with that key (joserfc; no other algorithm is ever accepted, so neither ``none`` nor an HMAC keyed
with the public key), ``iss`` is the configured issuer, ``exp`` is in the future, and it was issued to this
client (``cid``/``client_id``). The key set is fetched on first use and again when a token names an unknown
``kid`` (UAA rotated its key), at most once per :data:`REFETCH_S`. Tokens over :data:`MAX_TOKEN_BYTES` and
answers over :data:`MAX_ANSWER_BYTES` are refused unread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from paramedic.auth._idp import IdentityError

__all__ = ["MAX_ANSWER_BYTES", "MAX_TOKEN_BYTES", "REFETCH_S", "UaaTokenVerifier", "get_json"]

MAX_TOKEN_BYTES = 16 * 1024
MAX_ANSWER_BYTES = 1024 * 1024
REFETCH_S = 30.0


async def get_json(
    http: httpx.AsyncClient, url: str, params: dict[str, str], headers: dict[str, str]
) -> dict[str, Any]:
    """GET ``url`` and its JSON object, read up to :data:`MAX_ANSWER_BYTES`; IdentityError otherwise."""
    what = "UAA" if url.endswith("/token_keys") else "CC"
    reason = "idp_unavailable" if what == "UAA" else "roles_unavailable"
    try:
        async with http.stream("GET", url, params=params, headers=headers) as resp:
            if resp.status_code != 200:
                raise IdentityError(reason, f"{what} answered {resp.status_code} to {httpx.URL(url).path}")
            chunks, size = [], 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise IdentityError(reason, f"{what} answer over {MAX_ANSWER_BYTES} bytes")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise IdentityError(reason, f"{what} unreachable: {type(exc).__name__}") from exc
    try:
        body = json.loads(b"".join(chunks))
    except ValueError as exc:
        raise IdentityError(reason, f"{what} answer is not JSON") from exc
    if not isinstance(body, dict):
        raise IdentityError(reason, f"{what} answer is not a JSON object")
    return body


def _header(token: str) -> dict[str, Any]:
    segment = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise IdentityError("bad_token", "the UAA token is not a JWT") from exc
    if not isinstance(header, dict):
        raise IdentityError("bad_token", "the UAA token is not a JWT")
    return header


class UaaTokenVerifier:
    """Verifies tokens of one UAA for one client. Safe to share between concurrent log-ins."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        keys_url: str,
        *,
        issuer: str,
        client_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._http, self.keys_url = http, keys_url
        self.issuer, self.client_id = issuer, client_id
        self._clock = clock
        self._keys: KeySet | None = None
        self._kids: frozenset[str] = frozenset()
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> dict[str, Any]:
        """The claims of ``token``; :class:`IdentityError` (``bad_token``) naming what is wrong."""
        if len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
            raise IdentityError("bad_token", "the UAA token is not a JWT")
        header = _header(token)
        if header.get("alg") != "RS256":
            raise IdentityError(
                "bad_token", f"UAA token algorithm {str(header.get('alg'))[:20]!r}: need RS256"
            )
        keys = await self._key_set(str(header.get("kid", "")))
        try:
            claims = dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)
        except (JoseError, ValueError) as exc:
            raise IdentityError("bad_token", f"the UAA token does not verify: {type(exc).__name__}") from exc
        self._check_claims(claims)
        return claims

    def _check_claims(self, claims: dict[str, Any]) -> None:
        if claims.get("iss") != self.issuer:
            raise IdentityError("bad_token", "the UAA token is from another issuer")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool) or exp <= self._clock():
            raise IdentityError("bad_token", "the UAA token has expired")
        if (claims.get("cid") or claims.get("client_id")) != self.client_id:
            raise IdentityError("bad_token", "the UAA token was issued to another client")

    async def _key_set(self, kid: str) -> KeySet:
        async with self._lock:
            stale = self._keys is None or (kid not in self._kids)
            if stale and self._clock() - self._fetched_at >= REFETCH_S:
                await self._fetch()
            if self._keys is None or kid not in self._kids:
                raise IdentityError("bad_token", "the UAA token is signed by an unknown key")
            return self._keys

    async def _fetch(self) -> None:
        self._fetched_at = self._clock()
        body = await get_json(self._http, self.keys_url, {}, {})
        raw = body.get("keys")
        if not isinstance(raw, list):
            raise IdentityError("idp_unavailable", "UAA /token_keys has no keys list")
        usable = [k for k in raw if isinstance(k, dict) and k.get("kty") == "RSA" and k.get("kid")]
        try:
            self._keys = KeySet.import_key_set({"keys": usable})
        except (JoseError, ValueError, TypeError) as exc:
            raise IdentityError("idp_unavailable", "UAA /token_keys holds no usable RSA key") from exc
        self._kids = frozenset(str(k["kid"]) for k in usable)
