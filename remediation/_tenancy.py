"""Whose an action is: stamping each request with its target's org/space, and keeping space policies in
their spaces.

The platform is the authority on which space an app is in. When it has a
:class:`platforms.base.TenantResolver` (Cloud Foundry; the local platform with ``platform.spaces``), every
request is stamped with the org/space the platform gives its target app (asked in a thread, cached ``ttl_s``
per app), and a request whose triggering alert claims another org/space (forged or stale ``org``/``space``
labels, which anyone who may post alerts could set) is refused: otherwise an alert labelled ``acme/prod`` on
globex's app would hand globex's app to acme's operators. Without a resolver (a platform with no notion of
spaces, ``policy test`` simulations) the alert's ``org``/``space`` labels are the action's, and a request
without them belongs to the foundation. A space policy (``scope:``) whose request resolves outside its
spaces is refused by the ``scope`` check before any rail.

Metric: ``paramedic_remediation_tenant_lookups_total{result}`` (found, none, error).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from platforms.base import TenantResolver
from platforms.tenancy import Scope
from remediation._metrics import RemediationMetrics
from remediation.model import ActionRequest

__all__ = ["SCOPE_RAIL", "Tenants", "scope_refusal"]

SCOPE_RAIL = "scope"  # the check named in the audit trail when a request is refused for its tenant
_MAX_CACHED = 10_000

log = logging.getLogger("remediation.engine")


def _describe(org: str | None, space: str | None) -> str:
    if org is None:
        return "the foundation"
    return org if space is None else f"{org}/{space}"


def scope_refusal(req: ActionRequest, scope: Scope) -> str | None:
    """Why ``req`` is outside the policy ``scope`` (None: inside, or a foundation policy)."""
    if scope.is_foundation or scope.sees(req.org, req.space):
        return None
    return (
        f"target {req.target} belongs to {_describe(req.org, req.space)}, outside the policy's scope "
        f"({scope.key or 'nothing'})"
    )


def _agrees(claimed_org: str, claimed_space: str | None, found: tuple[str, str] | None) -> bool:
    return found is not None and found[0] == claimed_org and claimed_space in (None, found[1])


class Tenants:
    """The tenant of each app, for the engine (used on its event loop only)."""

    def __init__(
        self,
        platform: object,
        metrics: RemediationMetrics,
        *,
        ttl_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._resolver = platform if isinstance(platform, TenantResolver) else None
        self._metrics = metrics
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, tuple[str, str] | None]] = {}

    async def tenant_of(self, app: str) -> tuple[str, str] | None:
        """The platform's (org, space) of ``app``; None: no space, or the platform could not say."""
        if self._resolver is None or not app:
            return None
        hit = self._cache.get(app)
        if hit is not None and self._clock() - hit[0] < self._ttl_s:
            return hit[1]
        try:
            found = await asyncio.to_thread(self._resolver.tenant_of, app)
        except Exception:  # the seam says "never raises"; an adapter that does must not stop the engine
            log.exception("remediation: the platform cannot tell the space of %s", app)
            self._metrics.tenant_lookups.labels("error").inc()
            return None  # not cached: asked again next time
        self._metrics.tenant_lookups.labels("found" if found else "none").inc()
        if len(self._cache) >= _MAX_CACHED:  # bounded: app keys come from alert labels
            self._cache.clear()
        self._cache[app] = (self._clock(), found)
        return found

    async def stamp(self, req: ActionRequest) -> tuple[ActionRequest, str | None]:
        """``req`` with its target's org/space, and why it must be refused when the alert claimed another
        tenant than the platform's (None: no disagreement)."""
        if self._resolver is None or not req.target.app:
            return req, None  # no authority to ask: the alert's labels (or the foundation)
        found = await self.tenant_of(req.target.app)
        org, space = found if found is not None else (None, None)
        stamped = replace(req, org=org, space=space)
        if req.org is None or _agrees(req.org, req.space, found):
            return stamped, None
        claimed = _describe(req.org, req.space)
        return stamped, (
            f"the alert says {claimed}, but the platform places {req.target.app} in {_describe(org, space)}"
        )
