"""Reusable metric_relabel_configs for router targets: give per-app router series an ``app`` label.

HAProxy (built-in exporter, ``http-request use-service prometheus-exporter``): backends are named after apps,
so ``haproxy_backend_*`` and ``haproxy_server_*`` series carry the app in ``proxy``. The rule copies it::

    metric_relabel_configs:
      - source_labels: [__name__, proxy]
        regex: "haproxy_(?:backend|server)_.+;(.+)"
        target_label: app
        replacement: "$1"

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

from typing import Literal

from collector.config import RelabelConfig

__all__ = ["ROUTER_KINDS", "router_relabel_rules"]

ROUTER_KINDS: tuple[str, ...] = ("haproxy", "gorouter")


def router_relabel_rules(kind: Literal["haproxy", "gorouter"]) -> list[RelabelConfig]:
    """metric_relabel_configs that add ``app`` to a router's per-app series (see the module docstring)."""
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
