"""Reusable metric_relabel_configs for router targets: give per-app router series an ``app`` label.

HAProxy (built-in exporter, ``http-request use-service prometheus-exporter``): backends are named after apps,
so ``haproxy_backend_*`` and ``haproxy_server_*`` series carry the app in ``proxy``. The rule copies it::

    metric_relabel_configs:
      - source_labels: [__name__, proxy]
        regex: "haproxy_(?:backend|server)_.+;(.+)"
        target_label: app
        replacement: "$1"

With tenancy (apps grouped into spaces, e.g. ``platform.spaces``), :func:`router_relabel_rules` given
``tenants`` (app -> (org, space)) also labels each per-app series with its app's ``org`` and ``space``, two
rules per space (the backend is the app's: its series belong to the app's tenant)::

      - source_labels: [app]
        regex: "web|worker"
        target_label: org
        replacement: "demo"
      - source_labels: [app]
        regex: "web|worker"
        target_label: space
        replacement: "team-a"

Frontend, listener and process series (``haproxy_frontend_*``, ``haproxy_process_*``) are not per-app and keep
no ``app`` label. An exposed ``app`` label is left alone (the rule only fires when ``proxy`` is set).

CF gorouter (``/metrics``): per-route series (``latency``, ``total_requests``, ``registry_message``,
``unregistry_message``, ...) carry the route's ``component`` tag (``CloudController``, ``uaa``,
``route-emitter`` or the app's tag); an empty ``component`` means "not tagged" and gets no ``app``::

    metric_relabel_configs:
      - source_labels: [component]
        regex: "(.+)"
        target_label: app
        replacement: "$1"
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from collector.config import RelabelConfig

__all__ = ["ROUTER_KINDS", "router_relabel_rules", "tenant_relabel_rules"]

ROUTER_KINDS: tuple[str, ...] = ("haproxy", "gorouter")


def tenant_relabel_rules(tenants: Mapping[str, tuple[str, str]]) -> list[RelabelConfig]:
    """metric_relabel_configs that give every series with an ``app`` label of ``tenants`` (app -> (org,
    space)) that app's ``org`` and ``space`` (two rules per space, apps in one alternation)."""
    spaces: dict[tuple[str, str], list[str]] = {}
    for app, tenant in sorted(tenants.items()):
        spaces.setdefault(tenant, []).append(app)
    rules = []
    for (org, space), apps in sorted(spaces.items()):
        regex = "|".join(re.escape(a) for a in apps)
        for label, value in (("org", org), ("space", space)):
            rules.append(
                RelabelConfig(
                    action="replace",
                    source_labels=["app"],
                    regex=regex,
                    target_label=label,
                    replacement=value.replace("$", "$$"),
                )
            )
    return rules


def router_relabel_rules(
    kind: Literal["haproxy", "gorouter"], tenants: Mapping[str, tuple[str, str]] | None = None
) -> list[RelabelConfig]:
    """metric_relabel_configs that add ``app`` to a router's per-app series (see the module docstring) and,
    with ``tenants``, the app's ``org`` and ``space``."""
    return [*_app_rules(kind), *tenant_relabel_rules(tenants or {})]


def _app_rules(kind: str) -> list[RelabelConfig]:
    if kind == "haproxy":
        return [
            RelabelConfig(
                action="replace",
                source_labels=["__name__", "proxy"],
                regex="haproxy_(?:backend|server)_.+;(.+)",
                target_label="app",
                replacement="$1",
            )
        ]
    if kind == "gorouter":
        return [
            RelabelConfig(
                action="replace",
                source_labels=["component"],
                regex="(.+)",
                target_label="app",
                replacement="$1",
            )
        ]
    raise ValueError(f"unknown router kind {kind!r}; use one of {ROUTER_KINDS}")
