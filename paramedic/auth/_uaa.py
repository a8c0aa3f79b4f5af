"""Cloud Foundry's UAA as an :class:`~paramedic.auth._idp.IdentityProvider`.

``identify``: the code is redeemed at UAA's ``/oauth/token`` (client secret over HTTP Basic, the PKCE
verifier, the same redirect URI); the access token is verified here (:mod:`._uaa_token`: RS256 against
UAA's ``/token_keys``, issuer, expiry, issued to this client); the user's CF roles are read from CC
``/v3/roles?user_guids=<the user's id>`` and the GUIDs turned into names with ``/v3/spaces`` and
``/v3/organizations``, all **with the user's own token**: CF lets every user list their own roles and the
spaces and orgs they belong to, so Paramedic needs no admin-read client credentials for log-ins and the CC
itself bounds what a log-in can learn. A foundation scope (``cloud_controller.admin``, ``admin_read_only``,
``global_auditor``) needs no CC call. :mod:`._cf_roles` maps the result.

Limits: each call times out (``timeout_s``), answers are read up to :data:`MAX_ANSWER_BYTES`, role listings
up to :data:`MAX_PAGES` pages; GUID look-ups go 50 at a time. Every failure is an :class:`IdentityError`.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx

from paramedic.auth._cf_roles import ADMIN_SCOPES, READ_ALL_SCOPES, CfRole, cf_principal
from paramedic.auth._idp import Identity, IdentityError
from paramedic.auth._uaa_token import UaaTokenVerifier, get_json
from paramedic.config import ConfigError, ConfigProblem, UaaConfig

__all__ = ["MAX_PAGES", "UaaIdentityProvider", "read_client_secret"]

MAX_PAGES = 50
PER_PAGE = 500
GUID_BATCH = 50


def read_client_secret(config: UaaConfig, base_dir: Path) -> str:
    """The client secret: the first line of ``client_secret_file`` (relative to ``base_dir``, the config's
    folder); :class:`ConfigError` naming the file and the key when it is unreadable or empty."""
    path = Path(config.client_secret_file)
    path = path if path.is_absolute() else base_dir / path
    key = "server.auth.uaa.client_secret_file"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError([ConfigProblem(str(path), None, key, f"cannot read: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigProblem(str(path), None, key, "not UTF-8 text")]) from exc
    secret = lines[0].strip() if lines else ""
    if not secret:
        raise ConfigError([ConfigProblem(str(path), 1, key, "empty: write the UAA client secret on line 1")])
    return secret


class UaaIdentityProvider:
    """Log-ins through UAA for ``config`` with ``client_secret``. ``transport`` (httpx) and ``clock`` are
    injected for tests; the provider owns one :class:`httpx.AsyncClient` (close with :meth:`aclose`)."""

    def __init__(
        self,
        config: UaaConfig,
        client_secret: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        per_page: int = PER_PAGE,
    ) -> None:
        self.config = config
        self._secret = client_secret
        self._per_page = per_page
        self._http = httpx.AsyncClient(transport=transport, timeout=config.timeout_s, follow_redirects=False)
        issuer = config.issuer or f"{config.url}/oauth/token"
        self.verifier = UaaTokenVerifier(
            self._http, f"{config.url}/token_keys", issuer=issuer, client_id=config.client_id, clock=clock
        )

    @property
    def label(self) -> str:
        return self.config.label

    async def aclose(self) -> None:
        await self._http.aclose()

    def authorize_url(self, *, state: str, code_challenge: str, redirect_uri: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": state,
            "code_challenge": code_challenge,
            "code_challenge_method": "S256",
        }
        return f"{self.config.url}/oauth/authorize?{urllib.parse.urlencode(query)}"

    async def identify(self, *, code: str, code_verifier: str, redirect_uri: str) -> Identity:
        token = await self._redeem(code, code_verifier, redirect_uri)
        claims = await self.verifier.verify(token)
        user_id, name = claims.get("user_id"), claims.get("user_name")
        if not isinstance(user_id, str) or not isinstance(name, str) or not user_id or not name:
            raise IdentityError("bad_token", "the UAA token names no user (a client token?)")
        raw_scopes = claims.get("scope")
        scopes = [str(s) for s in raw_scopes] if isinstance(raw_scopes, list) else []
        foundation = bool(set(scopes) & (ADMIN_SCOPES | READ_ALL_SCOPES))
        roles = [] if foundation else await self._roles(token, user_id)
        return Identity(user_id, name, cf_principal(name, scopes, roles), float(claims["exp"]))

    async def _redeem(self, code: str, verifier: str, redirect_uri: str) -> str:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        # RFC 6749 2.3.1: client id and secret are form-urlencoded before Basic encoding
        auth = (urllib.parse.quote(self.config.client_id, safe=""), urllib.parse.quote(self._secret, safe=""))
        try:
            resp = await self._http.post(f"{self.config.url}/oauth/token", data=form, auth=auth)
        except httpx.HTTPError as exc:
            raise IdentityError("idp_unavailable", f"UAA unreachable: {type(exc).__name__}") from exc
        if resp.status_code in {400, 401, 403}:
            error = _oauth_error(resp)
            raise IdentityError("code_refused", f"UAA refused the log-in code ({error})")
        if resp.status_code != 200:
            raise IdentityError("idp_unavailable", f"UAA answered {resp.status_code} to the code exchange")
        try:
            token = resp.json().get("access_token")
        except ValueError as exc:
            raise IdentityError("idp_unavailable", "UAA's token answer is not JSON") from exc
        if not isinstance(token, str) or not token:
            raise IdentityError("idp_unavailable", "UAA's token answer has no access_token")
        return token

    async def _roles(self, token: str, user_id: str) -> list[CfRole]:
        raw = await self._list("/v3/roles", {"user_guids": user_id}, token)
        space_guids, org_guids = set(), set()
        for role in raw:
            space, org = _rel(role, "space"), _rel(role, "organization")
            if _rel(role, "user") != user_id:  # the CC filtered by user; trust, but verify
                continue
            if space:
                space_guids.add(space)
            elif org:
                org_guids.add(org)
        spaces = await self._by_guid("/v3/spaces", space_guids, token)
        space_orgs = {g: _rel(s, "organization") for g, s in spaces.items()}
        orgs = await self._by_guid("/v3/organizations", org_guids | set(space_orgs.values()), token)
        out: list[CfRole] = []
        for role in raw:
            kind, space, org = str(role.get("type", "")), _rel(role, "space"), _rel(role, "organization")
            if space and space in spaces and space_orgs[space] in orgs:
                org_name = str(orgs[space_orgs[space]].get("name", ""))
                out.append(CfRole(kind, org_name, str(spaces[space].get("name", ""))))
            elif org and org in orgs and not space:
                out.append(CfRole(kind, str(orgs[org].get("name", ""))))
        return [r for r in out if r.org and r.space != ""]

    async def _by_guid(self, path: str, guids: Iterable[str], token: str) -> dict[str, dict[str, Any]]:
        wanted = sorted(guids)
        found: dict[str, dict[str, Any]] = {}
        for i in range(0, len(wanted), GUID_BATCH):
            batch = ",".join(wanted[i : i + GUID_BATCH])
            for resource in await self._list(path, {"guids": batch}, token):
                guid = resource.get("guid")
                if isinstance(guid, str) and guid in wanted:
                    found[guid] = resource
        return found

    async def _list(self, path: str, params: dict[str, str], token: str) -> list[dict[str, Any]]:
        """Every resource of a paginated CC listing (the next page's query re-asked of the configured CC,
        never a host the answer names)."""
        query: dict[str, str] = {**params, "per_page": str(self._per_page)}
        out: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            body = await get_json(
                self._http, f"{self.config.cc_api_url}{path}", query, {"Authorization": f"bearer {token}"}
            )
            resources = body.get("resources")
            if not isinstance(resources, list):
                raise IdentityError("roles_unavailable", f"CC {path}: no resources list")
            out += [r for r in resources if isinstance(r, dict)]
            next_href = _next_href(body)
            if next_href is None:
                return out
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(next_href).query))
        raise IdentityError("roles_unavailable", f"CC {path}: more than {MAX_PAGES} pages")


def _rel(resource: dict[str, Any], name: str) -> str:
    """The GUID of ``relationships.<name>.data.guid``, or ""."""
    rel = resource.get("relationships", {})
    data = (
        rel.get(name, {}).get("data") if isinstance(rel, dict) and isinstance(rel.get(name), dict) else None
    )
    guid = data.get("guid") if isinstance(data, dict) else None
    return guid if isinstance(guid, str) else ""


def _next_href(body: dict[str, Any]) -> str | None:
    pagination = body.get("pagination")
    nxt = pagination.get("next") if isinstance(pagination, dict) else None
    href = nxt.get("href") if isinstance(nxt, dict) else None
    return href if isinstance(href, str) and href else None


def _oauth_error(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"HTTP {resp.status_code}"
    error = body.get("error") if isinstance(body, dict) else None
    return str(error)[:100] if error else f"HTTP {resp.status_code}"
