"""Seam between Paramedic and an application platform (local supervisord+HAProxy, Cloud Foundry, ...).

Platform adapters are leaves: the collector uses :class:`Platform` (``discover``) to learn scrape targets,
remediation uses :class:`Remediable`: the read side :class:`AppInventory` (apps, instances, revisions) and the
write verbs its actions call, :class:`InstanceControl` (restart, scale) and :class:`DeploymentControl`
(blue-green deployments, rollback). Adapters must be safe to call from any thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = [
    "AppInventory",
    "Deployment",
    "DeploymentControl",
    "DiscoveredTarget",
    "EventSource",
    "Instance",
    "InstanceControl",
    "Platform",
    "PlatformError",
    "PlatformEvent",
    "Remediable",
    "Revision",
    "TenantResolver",
]


class PlatformError(Exception):
    """Base of every error a platform adapter raises; the platform API's own error is chained."""


@dataclass(frozen=True, slots=True)
class DiscoveredTarget:
    """A scrape target the platform knows about.

    ``url`` is the full metrics URL (scheme, host:port, path). ``labels`` are target labels to attach to every
    series scraped from it: at least ``job`` (``router``, ``node``, ``app``, ...); app instance targets carry
    ``app`` (the app's name) and ``app_instance`` (the instance index); targets also carry platform metadata
    as ``__meta_<platform>_*`` labels that relabeling can use and that are dropped after relabeling.
    """

    url: str
    labels: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Platform(Protocol):
    name: str

    def discover(self) -> list[DiscoveredTarget]:
        """Every scrape target that exists now. Raises PlatformError when the platform API fails."""
        ...


@runtime_checkable
class TenantResolver(Protocol):
    """Optional platform seam: which tenant (org, space) an app belongs to. ``app`` is any key the adapter
    accepts (the local platform: the app's name; Cloud Foundry: a GUID, ``org/space/name`` or a name only one
    visible app has). None for an app the platform does not know or that belongs to no space (the local
    platform without ``spaces`` config): its data then carry no org/space and are foundation-only.
    Owned by the adapter; the log pipeline (labels of app lines) and remediation (the tenant of an action:
    the platform's answer wins over an alert's labels, which an alert sender chooses) call it. Safe to call
    from any thread; the local adapter answers from config (no I/O), Cloud Foundry from the app listing
    discovery keeps (refreshed at most once per ``app_cache_ttl_s``). Never raises: a failing lookup
    answers None."""

    def tenant_of(self, app: str) -> tuple[str, str] | None: ...


# -- remediation seam ---------------------------------------------------------------------------------------

InstanceState = str  # "RUNNING", "STARTING", "CRASHED", "DOWN", "STOPPING" (CC API v3 process stats states)


@dataclass(frozen=True, slots=True)
class Instance:
    """One app instance as the platform reports it now. ``revision`` is the revision it runs (blue-green:
    old and new instances run side by side); ``weight`` its share of the router's traffic weight (0-256,
    HAProxy-style; None when the platform has no per-instance weights)."""

    app: str
    index: int
    state: InstanceState
    revision: str = ""
    weight: int | None = None
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Revision:
    """A deployable version of an app: ``id`` is the platform's (CF revision GUID, local ``v<N>``),
    ``version`` a monotonically increasing number, ``description`` what changed (e.g. the app version)."""

    id: str
    version: int
    description: str = ""
    current: bool = False


DeploymentState = str  # "DEPLOYING", "PAUSED", "DEPLOYED", "CANCELING", "CANCELED" (CC API v3 reasons)


@dataclass(frozen=True, slots=True)
class Deployment:
    """A blue-green/canary deployment in progress or ended. ``weight_pct`` is the share of traffic the new
    revision gets now (0-100)."""

    id: str
    app: str
    revision: str
    previous_revision: str
    state: DeploymentState
    weight_pct: int = 0


@runtime_checkable
class AppInventory(Protocol):
    """Read side: which apps run, their instances and revisions, as the platform reports them now. Nothing
    here changes the platform; answers may be cached briefly (the dashboard and the engine's blast-radius
    count do). Raises :class:`PlatformError` when the platform API fails."""

    def apps(self) -> list[str]: ...

    def app_instances(self, app: str) -> list[Instance]: ...

    def revisions(self, app: str) -> list[Revision]: ...


@runtime_checkable
class InstanceControl(Protocol):
    """Write side, instances: restart all or one, change the count. Return values are informational."""

    def restart_app(self, app: str) -> object: ...

    def restart_instance(self, app: str, index: int) -> object: ...

    def scale(self, app: str, instances: int) -> object: ...


@runtime_checkable
class DeploymentControl(Protocol):
    """Write side, revisions: one blue-green/canary deployment walks start → set weight ... → promote (or
    cancel); ``rollback`` replaces the current revision at once. One state machine, so one seam (five
    verbs)."""

    def start_deployment(self, app: str, revision: str, weight_pct: int) -> Deployment:
        """Start ``revision`` beside the live one with ``weight_pct`` of the traffic."""
        ...

    def set_deployment_weight(self, deployment: str, weight_pct: int) -> Deployment: ...

    def promote_deployment(self, deployment: str) -> Deployment:
        """All traffic to the new revision, old instances stopped; the new revision becomes current."""
        ...

    def cancel_deployment(self, deployment: str) -> Deployment:
        """All traffic back to the previous revision, new instances stopped."""
        ...

    def rollback(self, app: str, revision: str) -> Deployment:
        """Deploy an earlier ``revision`` (all at once) and make it current."""
        ...


@runtime_checkable
class Remediable(AppInventory, InstanceControl, DeploymentControl, Protocol):
    """What remediation needs from a platform: the verbs its actions (``remediation.actions``) call, and the
    read side they and the engine look at. Every write is idempotent (a retried call completes a half-done
    one and does not apply twice) and raises :class:`PlatformError` naming the call and the platform's answer.
    Adapters may offer more (e.g. ``deployment(id)``); remediation does not rely on it."""

    name: str


# -- platform events (timeline) ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlatformEvent:
    """Something the platform recorded about an app, for the app timeline, the explained email and the
    backtest: a push, crash, restart, scale, deployment, start or stop (on Cloud Foundry: a CC audit event).
    ``app`` is the app key the adapter uses everywhere else (the app's name on the local platform, its GUID
    on Cloud Foundry); ``time`` is unix seconds; ``kind`` one of ``push``, ``crash``, ``restart``, ``scale``,
    ``deployment``, ``start``, ``stop``, ``other``; ``type`` the platform's own name for it (e.g.
    ``audit.app.process.crash``); ``details`` small string facts (instance index, new instance count, exit
    description, org/space names)."""

    time: float
    app: str
    kind: str
    type: str
    summary: str
    actor: str = ""
    details: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class EventSource(Protocol):
    """Optional platform seam: the platform's own record of what happened to apps, newest last. ``app`` None
    means every app the adapter may see; at most ``limit`` events with ``since <= time <= until``. Raises
    :class:`PlatformError` when the platform API fails."""

    def events(
        self, app: str | None, since: float, until: float, limit: int = 200
    ) -> list[PlatformEvent]: ...
