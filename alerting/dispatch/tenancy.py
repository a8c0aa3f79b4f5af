"""Tenancy of alerting: what a :class:`~platforms.tenancy.Scope` sees and may change among alerts, groups,
silences, acknowledgements, receivers and the notification log.

The rule is the one of :mod:`platforms.tenancy`: an alert belongs to the org/space of its ``org``/``space``
labels; an alert without them (router, cells, controller) belongs to the foundation. Everything here is pure
(no I/O): the dispatcher and the Alertmanager API call it with the request's scope, so the pages, ``amtool``
and any other client get the same answer.

Silences are the subtle part, because a silence is a set of matchers, not a label set:

- a silence is **in** a scope when its matchers confine it there: an ``org="X"`` equality matcher and, for a
  space grant, a ``space="Y"`` one, that a grant covers (other matchers only narrow it further);
- a scoped operator's new silence goes through :func:`confine_silence`: a regex or negative matcher on
  ``org``/``space`` is refused (:class:`TenantRefusedError`, 403: it would reach other tenants); missing
  tenant matchers are added when exactly one operator grant fits, else the caller must name the tenant
  (:class:`TenantMatcherMissingError`, 400).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from alerting.base import AlertingError
from alerting.dispatch._matchers import Matcher
from alerting.dispatch._route import Route
from alerting.dispatch.silences import SilenceError
from platforms.tenancy import ORG_LABEL, SPACE_LABEL, Grant, Scope

__all__ = [
    "TENANT_LABELS",
    "Confined",
    "TenantMatcherMissingError",
    "TenantRefusedError",
    "confine_silence",
    "receivers_in_scope",
    "silence_in_scope",
    "silence_tenant",
]

TENANT_LABELS = (ORG_LABEL, SPACE_LABEL)


class TenantRefusedError(AlertingError):
    """A scoped principal asked for something outside what it operates (answered 403, naming its scope)."""


class TenantMatcherMissingError(SilenceError):
    """A scoped operator's silence must name its tenant (answered 400, naming the missing matchers)."""


@dataclass(frozen=True, slots=True)
class Confined:
    """A silence's matchers after :func:`confine_silence`, and the tenant matchers it added."""

    matchers: tuple[Matcher, ...]
    added: tuple[Matcher, ...]


def silence_tenant(matchers: Iterable[Matcher]) -> tuple[str | None, str | None] | None:
    """The org and space the equality matchers of a silence pin it to (``None`` for one not pinned);
    ``None`` when they contradict each other (two different ``org="..."``: the silence matches nothing)."""
    values: dict[str, set[str]] = {ORG_LABEL: set(), SPACE_LABEL: set()}
    for m in matchers:
        if m.name in values and m.type == "=":
            values[m.name].add(m.value)
    if any(len(v) > 1 for v in values.values()):
        return None
    org, space = (next(iter(values[n]), None) for n in TENANT_LABELS)
    return org, space


def silence_in_scope(scope: Scope, matchers: Iterable[Matcher], *, operate: bool = False) -> bool:
    """Whether a silence with these matchers is confined to what ``scope`` sees (``operate``: operates).
    The foundation scope has every silence; a silence that could mute another tenant's alerts (no
    ``org="..."`` matcher, or a space grant's scope without ``space="..."``) is no tenant's."""
    if scope.is_foundation:
        return True
    tenant = silence_tenant(matchers)
    if tenant is None or tenant[0] is None:
        return False
    org, space = tenant
    return scope.operates(org, space) if operate else scope.sees(org, space)


def _operator_grants(scope: Scope) -> list[Grant]:
    return [g for g in scope.grants or () if g.role == "operator"]


def confine_silence(scope: Scope, matchers: Sequence[Matcher]) -> Confined:
    """``matchers`` of a silence that ``scope`` creates, confined to what it operates (see the module doc).
    Raises :class:`TenantRefusedError` or :class:`TenantMatcherMissingError`; the foundation scope
    returns the matchers unchanged."""
    if scope.is_foundation:
        return Confined(tuple(matchers), ())
    for m in matchers:
        if m.name in TENANT_LABELS and m.type != "=":
            raise TenantRefusedError(
                f"matcher {m} would reach outside your scope ({scope.describe()}): "
                f'only equality matchers {ORG_LABEL}="..." and {SPACE_LABEL}="..." may name a tenant'
            )
    tenant = silence_tenant(matchers)
    if tenant is None:
        raise SilenceError(f"conflicting {ORG_LABEL}/{SPACE_LABEL} matchers: the silence would match nothing")
    org, space = tenant
    if org is not None and scope.operates(org, space):
        return Confined(tuple(matchers), ())
    fits = [
        g
        for g in _operator_grants(scope)
        if (org is None or g.org == org) and (space is None or g.space is None or g.space == space)
    ]
    if not fits:
        where = f"{org or '?'}/{space}" if space is not None else (org or "no org")
        raise TenantRefusedError(f"silence on {where}: outside your scope ({scope.describe()})")
    missing = [ORG_LABEL] if org is None else []
    if space is None and any(g.space is not None for g in fits):
        missing.append(SPACE_LABEL)
    if len(fits) > 1:
        wanted = " and ".join(f'{n}="..."' for n in missing)
        raise TenantMatcherMissingError(
            f"silence: add the matcher(s) {wanted} naming one of the tenants you operate "
            f"({', '.join(g.tenant for g in fits)})"
        )
    grant = fits[0]
    added = [Matcher.create(ORG_LABEL, "=", grant.org)] if org is None else []
    if space is None and grant.space is not None:
        added.append(Matcher.create(SPACE_LABEL, "=", grant.space))
    return Confined((*matchers, *added), tuple(added))


def _route_in_scope(scope: Scope, route: Route) -> bool:
    """Whether some grant's org/space could satisfy the org/space matchers on the path to ``route``."""
    path: list[Matcher] = []
    r: Route | None = route
    while r is not None:
        path += [m for m in r.matchers if m.name in TENANT_LABELS]
        r = r.parent
    for g in scope.grants or ():
        values: Mapping[str, str | None] = {ORG_LABEL: g.org, SPACE_LABEL: g.space}
        if all(values[m.name] is None or m.matches(values[m.name] or "") for m in path):
            return True
    return False


def receivers_in_scope(scope: Scope, root: Route, names: Sequence[str]) -> list[str]:
    """The receivers (of ``names``, in order) that ``scope`` may know of: every one for the foundation, else
    those of routes whose org/space matchers a grant can satisfy (a route for another tenant's space is
    not listed to this one; shared routes without tenant matchers are)."""
    if scope.is_foundation:
        return list(names)
    reachable = {r.receiver for r in root.walk() if _route_in_scope(scope, r)}
    return [n for n in names if n in reachable]
