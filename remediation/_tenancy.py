"""Whose an action is: stamping each request with its target's org/space, and keeping space policies in
their spaces.

A request planned from an alert that carries ``org``/``space`` labels already has them; any other (an alert
without them, a scheduled or API request, a policy with a fixed ``target.app``) gets them from the platform's
:class:`platforms.base.TenantResolver`, asked in a thread and cached ``ttl_s`` per app (a platform without
one: the foundation's). A space policy (``scope:``) whose request resolves outside its spaces is refused by
the ``scope`` check before any rail.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace

from platforms.base import TenantResolver
from platforms.tenancy import Scope
from remediation.model import ActionRequest

__all__ = ["SCOPE_RAIL", "Tenants", "scope_refusal"]

SCOPE_RAIL = "scope"  # the "rail" named in the audit trail when a space policy's target is outside its spaces


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


class Tenants:
    """The tenant of each app, for the engine (used on its event loop only)."""

    def __init__(
        self, platform: object, *, ttl_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._resolver = platform if isinstance(platform, TenantResolver) else None
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, tuple[str, str] | None]] = {}

    async def tenant_of(self, app: str) -> tuple[str, str] | None:
        if self._resolver is None or not app:
            return None
        hit = self._cache.get(app)
        if hit is not None and self._clock() - hit[0] < self._ttl_s:
            return hit[1]
        found = await asyncio.to_thread(self._resolver.tenant_of, app)
        if len(self._cache) > 10_000:  # bounded: apps come from alert labels
            self._cache.clear()
        self._cache[app] = (self._clock(), found)
        return found

    async def stamp(self, req: ActionRequest) -> ActionRequest:
        """``req`` with its target's org/space (unchanged when it already has them)."""
        if req.org is not None:
            return req
        found = await self.tenant_of(req.target.app)
        return req if found is None else replace(req, org=found[0], space=found[1])
