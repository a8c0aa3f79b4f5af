"""Which space each app of a platform without its own spaces belongs to: the local platform's
:class:`platforms.base.TenantResolver` mapping (from config).

The local platform has no orgs or spaces of its own; ``platform.spaces`` in paramedic.yaml groups its apps
into them (``{"acme/prod": ["api", "web"], ...}``), so the default demo shows tenancy too. An app listed in no
space belongs to the foundation (only foundation-wide roles see and act on it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from platforms.tenancy import TenancyError, parse_grant

__all__ = ["SpaceMap", "check_spaces"]


def check_spaces(spaces: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """``spaces`` validated: every key ``ORG/SPACE``, every app in at most one space. Raises
    :class:`ValueError` naming the key that is wrong."""
    seen: dict[str, str] = {}
    for tenant, apps in spaces.items():
        try:
            grant = parse_grant(tenant, "viewer")
        except TenancyError as exc:
            raise ValueError(f"spaces[{tenant!r}]: {exc}") from exc
        if grant.space is None:
            raise ValueError(f"spaces[{tenant!r}]: expected ORG/SPACE (an app belongs to one space)")
        for app in apps:
            if app in seen and seen[app] != tenant:
                raise ValueError(f"spaces[{tenant!r}]: app {app!r} is already in space {seen[app]!r}")
            seen[app] = tenant
    return {k: list(v) for k, v in spaces.items()}


class SpaceMap:
    """App name -> (org, space), from a checked ``{"org/space": [app, ...]}`` mapping. Immutable, so safe
    from any thread."""

    def __init__(self, spaces: Mapping[str, Sequence[str]] | None = None) -> None:
        self._of: dict[str, tuple[str, str]] = {}
        for tenant, apps in check_spaces(spaces or {}).items():
            org, _, space = tenant.partition("/")
            for app in apps:
                self._of[app] = (org, space)

    def tenant_of(self, app: str) -> tuple[str, str] | None:
        return self._of.get(app)

    def apps(self) -> dict[str, tuple[str, str]]:
        """Every app that has a space, with its (org, space)."""
        return dict(self._of)
