"""The identity provider seam of single sign-on: who the person behind an authorization code is.

:class:`IdentityProvider` is what :class:`paramedic.auth._sso.SsoLogin` calls: it builds the provider's
authorization URL (OAuth2 authorization code with PKCE) and, back from the provider, turns the code into an
:class:`Identity` (the verified user and the :class:`Principal` the provider's roles give, or None when they
give nothing). The provider owns its HTTP client and its key cache; ``identify`` is a coroutine, safe to run
concurrently; it raises :class:`IdentityError` (never an httpx or JOSE exception) when it cannot tell who the
user is. Implementations: :class:`paramedic.auth._uaa.UaaIdentityProvider` (Cloud Foundry); tests plug in
their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from paramedic.auth._store import Principal

__all__ = ["IDENTITY_ERRORS", "Identity", "IdentityError", "IdentityProvider"]

# ``IdentityError.reason`` values (also the ``result`` label of ``paramedic_sso_logins_total``)
IDENTITY_ERRORS = ("code_refused", "bad_token", "idp_unavailable", "roles_unavailable")


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified user. ``principal`` None: authenticated, but no role of theirs grants access.
    ``expires_at`` (epoch seconds): the provider's token expiry; a session must not outlive it."""

    subject: str
    name: str
    principal: Principal | None
    expires_at: float


class IdentityError(Exception):
    """The provider could not tell who the user is: ``reason`` is one of :data:`IDENTITY_ERRORS`."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


class IdentityProvider(Protocol):
    @property
    def label(self) -> str:
        """What the login page's button names (``Cloud Foundry (UAA)``)."""
        ...

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        """Where to send the browser: the provider's login with ``state`` and the S256 PKCE challenge."""
        ...

    async def identify(self, *, code: str, code_verifier: str, redirect_uri: str) -> Identity:
        """Redeem ``code`` (with its PKCE verifier), verify the token and read the user's roles."""
        ...
