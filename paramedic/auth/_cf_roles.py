"""Cloud Foundry's access model as Paramedic principals: UAA scopes and CC roles in, a :class:`Principal` out.

Pure (no I/O): :mod:`._uaa` reads the scopes from the verified UAA token and the roles from CC ``/v3/roles``;
this module only decides. The table (also in docs/security.md):

=================================================================  ===========================================
UAA scope or CC role                                               Paramedic
=================================================================  ===========================================
scope ``cloud_controller.admin``                                   foundation-wide ``admin``
scope ``cloud_controller.admin_read_only`` / ``.global_auditor``  foundation-wide ``viewer``
``space_developer``                                                ``operator`` of that space
``space_manager``, ``space_auditor``, ``space_supporter``          ``viewer`` of that space
``organization_manager``, ``organization_auditor``                 ``viewer`` of every space of the org
``organization_billing_manager``, ``organization_user``            nothing
=================================================================  ===========================================

A foundation scope wins over roles (an admin who is also a space developer is an admin). Role types CF adds
later grant nothing until they are mapped here. A user whom nothing grants access gets no principal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from paramedic.auth._store import Principal
from platforms.tenancy import Grant, GrantRole

__all__ = [
    "ADMIN_SCOPES",
    "IGNORED_ROLES",
    "ORG_ROLES",
    "READ_ALL_SCOPES",
    "SPACE_ROLES",
    "CfRole",
    "cf_principal",
    "grants_of",
]

ADMIN_SCOPES = frozenset({"cloud_controller.admin"})
READ_ALL_SCOPES = frozenset({"cloud_controller.admin_read_only", "cloud_controller.global_auditor"})
SPACE_ROLES: dict[str, GrantRole] = {
    "space_developer": "operator",
    "space_manager": "viewer",
    "space_auditor": "viewer",
    "space_supporter": "viewer",
}
ORG_ROLES: dict[str, GrantRole] = {"organization_manager": "viewer", "organization_auditor": "viewer"}
IGNORED_ROLES = frozenset({"organization_billing_manager", "organization_user"})


@dataclass(frozen=True, slots=True)
class CfRole:
    """A CC role with its org and space resolved to names (``space`` None for an org role)."""

    type: str
    org: str
    space: str | None = None


def grants_of(roles: Iterable[CfRole]) -> list[Grant]:
    """The grants CF roles give (see the module's table); roles that give nothing are skipped."""
    grants: list[Grant] = []
    for role in roles:
        if role.space is not None and role.type in SPACE_ROLES:
            grants.append(Grant(role.org, role.space, SPACE_ROLES[role.type]))
        elif role.space is None and role.type in ORG_ROLES:
            grants.append(Grant(role.org, None, ORG_ROLES[role.type]))
    return grants


def cf_principal(name: str, scopes: Iterable[str], roles: Iterable[CfRole]) -> Principal | None:
    """The principal of a CF user with these UAA ``scopes`` and CC ``roles``, or None when nothing grants
    it access to Paramedic."""
    held = frozenset(scopes)
    if held & ADMIN_SCOPES:
        return Principal(name, "admin")
    if held & READ_ALL_SCOPES:
        return Principal(name, "viewer")
    grants = grants_of(roles)
    if not grants:
        return None
    return Principal.scoped(name, "viewer", grants)
