"""The routing tree: options inherited from the parent, depth-first matching with ``continue``.

``Route.key()`` is Alertmanager's route key (``{}`` for the root, ``{}/{alertname="X"}`` for a child), the
prefix of every groupKey.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from alerting.dispatch._matchers import Matcher, matchers_match, matchers_string
from alerting.dispatch.config import RouteConfig
from platforms.tenancy import ORG_LABEL, SPACE_LABEL

__all__ = ["Route", "build_route"]

_TENANT_LABELS = frozenset({ORG_LABEL, SPACE_LABEL})
_DEFAULT_GROUP_WAIT = 30.0
_DEFAULT_GROUP_INTERVAL = 300.0
_DEFAULT_REPEAT_INTERVAL = 4 * 3600.0


@dataclass(eq=False)
class Route:
    receiver: str
    group_by: frozenset[str]
    group_by_all: bool
    group_wait: float
    group_interval: float
    repeat_interval: float
    matchers: list[Matcher]
    continue_: bool
    mute_time_intervals: list[str]
    active_time_intervals: list[str]
    parent: Route | None = None
    routes: list[Route] = field(default_factory=list)
    index: int = 0  # depth-first position, for stable ids
    group_by_tenant: bool = True  # tenancy.group_by_tenant: org/space always group

    def key(self) -> str:
        own = matchers_string(self.matchers)
        return own if self.parent is None else f"{self.parent.key()}/{own}"

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes an alert with these labels goes to; [] when this one does not match."""
        if not matchers_match(self.matchers, labels):
            return []
        out: list[Route] = []
        for child in self.routes:
            hits = child.match(labels)
            out += hits
            if hits and not child.continue_:
                break
        return out or [self]

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels of the aggregation group an alert joins: its ``group_by`` labels plus, always, its
        ``org`` and ``space`` when it carries them (tenancy: a group, and so a notification, never mixes
        the alerts of two spaces, whatever ``group_by`` says; unless ``tenancy.group_by_tenant`` is off)."""
        if self.group_by_all:
            return dict(labels)
        extra = _TENANT_LABELS if self.group_by_tenant else frozenset()
        return {k: v for k, v in labels.items() if k in self.group_by or k in extra}

    def walk(self) -> list[Route]:
        out = [self]
        for c in self.routes:
            out += c.walk()
        return out


def build_route(cfg: RouteConfig, parent: Route | None = None, *, group_by_tenant: bool = True) -> Route:
    group_by = cfg.group_by if cfg.group_by is not None else None
    if group_by is None and parent is not None:
        by, by_all = parent.group_by, parent.group_by_all
    else:
        by = frozenset(g for g in (group_by or []) if g != "...")
        by_all = group_by is not None and "..." in group_by

    def inherit(value: float | None, attr: str, default: float) -> float:
        if value is not None:
            return value
        return float(getattr(parent, attr)) if parent is not None else default

    route = Route(
        receiver=cfg.receiver if cfg.receiver is not None else (parent.receiver if parent else ""),
        group_by=by,
        group_by_all=by_all,
        group_wait=inherit(cfg.group_wait, "group_wait", _DEFAULT_GROUP_WAIT),
        group_interval=inherit(cfg.group_interval, "group_interval", _DEFAULT_GROUP_INTERVAL),
        repeat_interval=inherit(cfg.repeat_interval, "repeat_interval", _DEFAULT_REPEAT_INTERVAL),
        matchers=cfg.compiled_matchers(),
        continue_=cfg.continue_,
        mute_time_intervals=list(cfg.mute_time_intervals),
        active_time_intervals=list(cfg.active_time_intervals),
        parent=parent,
        group_by_tenant=group_by_tenant,
    )
    route.routes = [build_route(c, route, group_by_tenant=group_by_tenant) for c in cfg.routes]
    if parent is None:
        for i, r in enumerate(route.walk()):
            r.index = i
    return route
