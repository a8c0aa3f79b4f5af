"""Who exists on the simulated foundation: UAA users and clients, and their CC roles.

Passwords and client secrets are generated per run (``secrets.token_urlsafe``), never fixed in code, and
handed to the runner's caller (:class:`platforms.cf_sim.runner.SimulatedFoundation`). The default directory
(:func:`default_accounts`):

* user ``admin``: scopes ``cloud_controller.admin`` (sees and changes everything)
* user ``dev-acme``: ``space_developer`` of acme/prod (and ``organization_user`` of acme)
* user ``auditor-globex``: ``space_auditor`` of globex/prod (and ``organization_auditor`` of globex)
* user ``no-roles``: a UAA user with the ordinary user scopes and no CC role at all
* client ``paramedic`` (client_credentials): ``cloud_controller.read``, ``cloud_controller.admin_read_only``
* client ``cf`` (password, refresh_token; no secret, as the cf CLI's), ``paramedic-ui``
  (authorization_code, with registered redirect URIs) and ``other-ui`` (another web app on the same UAA,
  authorization_code, the same redirect URIs: its codes must not log anyone in to Paramedic)
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from platforms.cf_sim.foundation import Foundation, guid_for

__all__ = [
    "ADMIN_SCOPES",
    "READ_ALL_SCOPES",
    "ROLE_TYPES",
    "Accounts",
    "Client",
    "Role",
    "User",
    "default_accounts",
]

ADMIN_SCOPES = frozenset({"cloud_controller.admin"})
READ_ALL_SCOPES = frozenset(
    {"cloud_controller.admin", "cloud_controller.admin_read_only", "cloud_controller.global_auditor"}
)
USER_SCOPES = ("openid", "cloud_controller.read", "cloud_controller.write", "uaa.user")
ROLE_TYPES = (
    "organization_user",
    "organization_auditor",
    "organization_manager",
    "organization_billing_manager",
    "space_auditor",
    "space_developer",
    "space_manager",
    "space_supporter",
)


@dataclass(frozen=True, slots=True)
class User:
    username: str
    password: str
    scopes: tuple[str, ...]

    @property
    def guid(self) -> str:
        return guid_for("user", self.username)


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    secret: str  # "" for a public client (the cf CLI's ``cf``)
    grants: tuple[str, ...]
    scopes: tuple[str, ...]
    redirect_uris: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Role:
    """A CC role: ``org`` always set; ``space`` for space roles."""

    type: str
    username: str
    org: str
    space: str | None = None

    @property
    def guid(self) -> str:
        return guid_for("role", self.type, self.username, self.org, self.space or "")


@dataclass(frozen=True, slots=True)
class Accounts:
    users: tuple[User, ...]
    clients: tuple[Client, ...]
    roles: tuple[Role, ...] = field(default_factory=tuple)

    def user(self, username: str) -> User | None:
        return next((u for u in self.users if u.username == username), None)

    def user_by_guid(self, guid: str) -> User | None:
        return next((u for u in self.users if u.guid == guid), None)

    def client(self, client_id: str) -> Client | None:
        return next((c for c in self.clients if c.client_id == client_id), None)

    def roles_of(self, username: str) -> list[Role]:
        return [r for r in self.roles if r.username == username]


def _password() -> str:
    return secrets.token_urlsafe(18)


def default_accounts(foundation: Foundation, redirect_uris: tuple[str, ...] = ()) -> Accounts:
    """The default users, clients and roles, with fresh passwords and secrets."""
    orgs = {o.name for o in foundation.orgs}
    if not {"acme", "globex"} <= orgs:
        raise ValueError("default_accounts needs the orgs acme and globex (default_foundation)")
    users = (
        User("admin", _password(), (*USER_SCOPES, "cloud_controller.admin")),
        User("dev-acme", _password(), USER_SCOPES),
        User("auditor-globex", _password(), USER_SCOPES),
        User("no-roles", _password(), USER_SCOPES),
    )
    clients = (
        Client(
            "paramedic",
            _password(),
            ("client_credentials",),
            # reads everything (admin_read_only) and, for remediation, writes (admin): what an operator
            # gives the UAA client of a monitoring-and-remediation tool on a real foundation
            ("cloud_controller.read", "cloud_controller.admin_read_only", "cloud_controller.admin"),
        ),
        Client("cf", "", ("password", "refresh_token"), ("*",)),
        Client(
            "paramedic-ui",
            _password(),
            ("authorization_code", "refresh_token"),
            ("*",),
            redirect_uris or ("http://127.0.0.1/callback",),
        ),
        Client(
            "other-ui",
            _password(),
            ("authorization_code",),
            ("*",),
            redirect_uris or ("http://127.0.0.1/callback",),
        ),
    )
    roles = (
        Role("organization_user", "dev-acme", "acme"),
        Role("space_developer", "dev-acme", "acme", "prod"),
        Role("organization_auditor", "auditor-globex", "globex"),
        Role("space_auditor", "auditor-globex", "globex", "prod"),
    )
    return Accounts(users, clients, roles)
