"""Tenancy: who owns a piece of data or an action, and which of them a principal may see or act on.

A foundation is shared by many teams. Every series, log line, alert, silence, action, deployment and audit
record of an app carries the app's **org** and **space** (labels/fields :data:`ORG_LABEL` and
:data:`SPACE_LABEL`; on Cloud Foundry from the platform, on the local platform from its config).
Platform components (router, cells, controller) carry neither: they belong to the foundation.

A principal holds a :class:`Scope`:

- :data:`FOUNDATION` (foundation-wide roles admin/operator/viewer, as before tenancy): sees everything;
- or a tuple of :class:`Grant` (org, optional space, role ``viewer``/``operator``): sees data whose
  org/space a grant covers, operates (silences, approvals, ...) where an ``operator`` grant covers, and
  nothing else, in particular nothing without an org (foundation components).

This module is pure (no I/O, no imports from the rest of Paramedic) so that every package can enforce the same
rule: readers filter with :meth:`Scope.sees_labels` or push :meth:`Scope.selectors` down as equality matchers
(one selector per grant, OR-ed), writers check :meth:`Scope.operates`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

__all__ = [
    "FOUNDATION",
    "ORG_LABEL",
    "SPACE_LABEL",
    "Grant",
    "GrantRole",
    "Scope",
    "TenancyError",
    "normalized",
    "parse_grant",
    "scope_of",
]

ORG_LABEL, SPACE_LABEL = "org", "space"
GrantRole = Literal["viewer", "operator"]
GRANT_ROLES: tuple[GrantRole, ...] = get_args(GrantRole)
# An org or space name as Cloud Foundry allows (any printable text without "/", which joins them here).
_NAME = re.compile(r"[^/\s][^/]{0,254}")


class TenancyError(ValueError):
    """A malformed grant (org/space name or role)."""


@dataclass(frozen=True, slots=True)
class Grant:
    """``role`` on the space ``org/space``, or on every space of ``org`` when ``space`` is None."""

    org: str
    space: str | None
    role: GrantRole

    def covers(self, org: str | None, space: str | None) -> bool:
        return org is not None and org == self.org and (self.space is None or space == self.space)

    @property
    def tenant(self) -> str:
        """``org/space`` or ``org``."""
        return self.org if self.space is None else f"{self.org}/{self.space}"

    def selector(self) -> dict[str, str]:
        """The equality label matchers that select this grant's data."""
        out = {ORG_LABEL: self.org}
        if self.space is not None:
            out[SPACE_LABEL] = self.space
        return out

    def to_json(self) -> dict[str, str]:
        out = {"org": self.org, "role": self.role}
        if self.space is not None:
            out["space"] = self.space
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Grant:
        org, space = str(raw["org"]), raw.get("space")
        if "/" in org or (space is not None and "/" in str(space)):
            raise TenancyError(f"org {org!r}, space {space!r}: names cannot contain '/'")
        return parse_grant(org + ("" if space is None else f"/{space}"), str(raw["role"]))


def normalized(grants: Iterable[Grant]) -> tuple[Grant, ...]:
    """``grants`` without duplicates, in a stable order (org, space, role; an org grant first)."""
    return tuple(sorted(set(grants), key=lambda g: (g.org, g.space is not None, g.space or "", g.role)))


def parse_grant(tenant: str, role: str) -> Grant:
    """``ORG/SPACE`` or ``ORG`` with ``role``; :class:`TenancyError` names what is wrong."""
    if role not in GRANT_ROLES:
        raise TenancyError(
            f"scoped role {role!r}: use one of {', '.join(GRANT_ROLES)} (admin is foundation-wide)"
        )
    org, sep, space = tenant.partition("/")
    if not _NAME.fullmatch(org) or (sep and not _NAME.fullmatch(space)) or not org.isprintable():
        raise TenancyError(f"{tenant!r}: expected ORG or ORG/SPACE (printable names without '/')")
    if sep and not space.isprintable():
        raise TenancyError(f"{tenant!r}: the space name must be printable")
    return Grant(org, space if sep else None, role)


@dataclass(frozen=True, slots=True)
class Scope:
    """What a principal may see and act on: everything (``grants is None``) or what its grants cover."""

    grants: tuple[Grant, ...] | None = None

    @classmethod
    def of(cls, grants: Iterable[Grant]) -> Scope:
        """A scope of these grants (sorted, duplicates dropped); an empty list sees nothing."""
        return cls(normalized(grants))

    @property
    def is_foundation(self) -> bool:
        return self.grants is None

    def sees(self, org: str | None, space: str | None) -> bool:
        if self.grants is None:
            return True
        return any(g.covers(org, space) for g in self.grants)

    def sees_labels(self, labels: Mapping[str, str]) -> bool:
        """Whether data with these labels (or log fields) is visible: its org/space is covered."""
        if self.grants is None:
            return True
        return self.sees(labels.get(ORG_LABEL) or None, labels.get(SPACE_LABEL) or None)

    def operates(self, org: str | None, space: str | None) -> bool:
        """Whether an ``operator`` grant covers org/space (a foundation scope: the route's role decides)."""
        if self.grants is None:
            return True
        return any(g.role == "operator" and g.covers(org, space) for g in self.grants)

    def operates_labels(self, labels: Mapping[str, str]) -> bool:
        return self.operates(labels.get(ORG_LABEL) or None, labels.get(SPACE_LABEL) or None)

    def selectors(self) -> list[dict[str, str]]:
        """One set of equality matchers per grant (a series matches the scope when it matches any set);
        empty for a scope that sees nothing. Not defined for the foundation scope (nothing to add)."""
        if self.grants is None:
            raise ValueError("the foundation scope adds no selectors")
        return [g.selector() for g in self.grants]

    @property
    def key(self) -> str:
        """A stable name for limits and logs: ``""`` for the foundation, else the tenants joined by ``,``."""
        return "" if self.grants is None else ",".join(g.tenant for g in self.grants)

    def describe(self) -> str:
        if self.grants is None:
            return "foundation-wide"
        return ", ".join(f"{g.role} of {g.tenant}" for g in self.grants) or "nothing"


FOUNDATION = Scope()


def scope_of(request: Any) -> Scope:
    """The scope of a request: its authenticated principal's (``request.state.principal.scope``), else the
    foundation scope (an app without the auth middleware, or an anonymous read where ``anonymous_read`` is
    on: both are foundation-wide by the operator's choice)."""
    principal = getattr(getattr(request, "state", None), "principal", None)
    scope = getattr(principal, "scope", FOUNDATION)
    return scope if isinstance(scope, Scope) else FOUNDATION
