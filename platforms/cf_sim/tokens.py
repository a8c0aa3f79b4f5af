"""RS256 JWTs of the simulated UAA: one RSA key per run, published as a JWK on ``/token_keys``.

Tokens carry UAA's claims (``jti``, ``sub``, ``user_id``, ``user_name``, ``client_id``, ``cid``, ``scope``,
``grant_type``, ``iat``, ``exp``, ``iss``, ``aud``) and a ``kid`` header. :meth:`TokenIssuer.verify` checks
the
signature against this run's key, the issuer and the expiry; the Cloud Controller side uses it, never a
shared secret. Thread-safe (the key is immutable).
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

__all__ = ["InvalidTokenError", "TokenIssuer"]


class InvalidTokenError(Exception):
    """A bearer token that is malformed, not signed by this UAA, from another issuer, or expired."""


class TokenIssuer:
    """Signs and verifies this run's tokens. ``clock`` returns epoch seconds (injected for expiry tests)."""

    def __init__(
        self, issuer: str, *, clock: Callable[[], float] = time.time, key: RSAKey | None = None
    ) -> None:
        self.issuer = issuer
        self.kid = f"sim-{secrets.token_hex(4)}"
        self._key = key or RSAKey.generate_key(
            2048, parameters={"kid": self.kid, "use": "sig", "alg": "RS256"}
        )
        self._clock = clock

    def jwks(self) -> dict[str, Any]:
        """The public signing key as a JWK set (UAA's ``/token_keys`` shape)."""
        public = dict(self._key.as_dict(private=False))
        public.update({"kid": self.kid, "alg": "RS256", "use": "sig"})
        return {"keys": [public]}

    def issue(self, claims: dict[str, Any], ttl_s: float) -> str:
        """A signed token with ``claims`` plus ``jti``, ``iat``, ``exp`` (now + ``ttl_s``) and ``iss``."""
        now = int(self._clock())
        body = {**claims, "jti": uuid.uuid4().hex, "iat": now, "exp": now + int(ttl_s), "iss": self.issuer}
        return jwt.encode({"alg": "RS256", "kid": self.kid, "typ": "JWT"}, body, self._key)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of ``token``; raises :class:`InvalidTokenError` naming what is wrong."""
        try:
            decoded = jwt.decode(token, self._key, algorithms=["RS256"])
        except (JoseError, ValueError) as exc:
            raise InvalidTokenError(f"invalid token: {exc}") from exc
        claims = dict(decoded.claims)
        if decoded.header.get("kid") != self.kid:
            raise InvalidTokenError("invalid token: unknown signing key")
        if claims.get("iss") != self.issuer:
            raise InvalidTokenError("invalid token: wrong issuer")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp <= self._clock():
            raise InvalidTokenError("Token has expired")
        return claims
