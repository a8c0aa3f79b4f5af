"""The demo's paramedic.yaml: one platform job, log listeners, and (with notification sinks) the local rule
pack retimed for a demo, alerting to the sinks and remediation with the local policy pack."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from alerting.rules import PACKS_DIR
from collector.presets import router_relabel_rules
from paramedic.demo._daily import DailyLoad
from paramedic.demo._slos import demo_slos
from paramedic.demo.remediation import remediation_config

__all__ = [
    "DEMO_ORG",
    "DEMO_SPACES",
    "DemoSinks",
    "alerting_config",
    "demo_config",
    "demo_rules",
    "demo_spaces",
]

DEMO_ORG = "demo"
DEMO_SPACES = ("team-a", "team-b")


@dataclass(frozen=True, slots=True)
class DemoSinks:
    """Where the demo's notification sinks listen."""

    smtp_port: int
    webhook_port: int


def demo_spaces(apps: Sequence[str]) -> dict[str, list[str]]:
    """The demo's tenancy (``platform.spaces``): its apps alternate between the two spaces of one org,
    ``demo/team-a`` and ``demo/team-b`` (the first app in team-a)."""
    out: dict[str, list[str]] = {f"{DEMO_ORG}/{space}": [] for space in DEMO_SPACES}
    for i, app in enumerate(apps):
        out[f"{DEMO_ORG}/{DEMO_SPACES[i % len(DEMO_SPACES)]}"].append(app)
    return {tenant: apps for tenant, apps in out.items() if apps}


def demo_rules(data_dir: Path, interval_s: float) -> Path:
    """The local rule pack retimed for a demo: every group every ``interval_s``, ``for:`` two intervals (the
    pack's 15s/30s suit production, not a demo that should fire within a few scrape intervals)."""
    doc = yaml.safe_load((PACKS_DIR / "local.yaml").read_text(encoding="utf-8"))
    for group in doc["groups"]:
        group["interval"] = f"{round(interval_s * 1000)}ms"
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = f"{round(2 * interval_s * 1000)}ms"
    path = data_dir / "rules" / "local-demo.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Written by `paramedic demo`: {PACKS_DIR / 'local.yaml'} with demo timings.\n"
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def alerting_config(
    data_dir: Path, http_port: int, sinks: DemoSinks, interval_s: float, *, app_label: str = "app"
) -> dict[str, Any]:
    """Alerting of a demo: grouped by alert name and app (``app_label``: ``app_guid`` on Cloud Foundry,
    where names repeat across spaces), to the SMTP and webhook sinks."""
    return {
        "external_url": f"http://127.0.0.1:{http_port}",
        "data_dir": str(data_dir / "alerting"),
        "route": {
            "receiver": "demo",
            "group_by": ["alertname", app_label],
            "group_wait": f"{round(interval_s * 1000)}ms",
            "group_interval": "30s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "demo",
                "notifiers": [
                    {
                        "type": "email",
                        "to": ["operators@paramedic.demo"],
                        "sender": "paramedic@paramedic.demo",
                        "host": "127.0.0.1",
                        "port": sinks.smtp_port,
                        "security": "plain",
                    },
                    {"type": "webhook", "url": f"http://127.0.0.1:{sinks.webhook_port}/alerts"},
                ],
            }
        ],
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                # A remediation approval request is caused by a critical alert of its app: never mute it.
                "target_matchers": ['severity="warning"', 'alertname!~"Remediation.+"'],
                "equal": [app_label],
            }
        ],
    }


def demo_config(
    data_dir: Path,
    http_port: int,
    scrape_interval_s: float,
    relp_port: int = 2514,
    syslog_port: int = 1514,
    *,
    sinks: DemoSinks | None = None,
    spaces: Mapping[str, Sequence[str]] | None = None,
    daily: DailyLoad | None = None,
) -> dict[str, Any]:
    """The paramedic.yaml of the demo: one platform job; HAProxy's backend (``proxy``) becomes ``app``; log
    listeners (RELP from the platform's rsyslog; syslog TCP+UDP for anything else) with an embedded store;
    with ``sinks``, the retimed local rule pack and alerting to the demo's SMTP and webhook sinks; with
    ``spaces`` (``ORG/SPACE -> apps``, see :func:`demo_spaces`), tenancy: the platform groups the apps into
    those spaces and the router's per-app series get their app's ``org``/``space`` too; with ``daily``, the
    predictive policy of the app with the daily load."""
    interval_s = max(1.0, scrape_interval_s)
    spaces = {tenant: list(apps) for tenant, apps in (spaces or {}).items()}
    tenants = {app: _split(tenant) for tenant, apps in spaces.items() for app in apps}
    alerting: dict[str, Any] = {}
    if sinks is not None:
        alerting = {
            "rules": {
                "files": [str(demo_rules(data_dir, interval_s))],
                "evaluation_interval_s": interval_s,
                "state_file": str(data_dir / "alerting" / "rules-state.json"),
                "slo_files": [str(p) for p in [demo_slos(data_dir, spaces, interval_s)] if p is not None],
            },
            "alerting": alerting_config(data_dir, http_port, sinks, interval_s),
            "remediation": remediation_config(data_dir, interval_s, daily),
            "reports": reports_config(spaces),
        }
    return {
        "server": {
            "listen_host": "127.0.0.1",
            "listen_port": http_port,
            # Reads without a token so the banner's curl lines work; writes still need the admin token.
            "auth": {"tokens_file": str(data_dir / "tokens.json"), "anonymous_read": True},
        },
        "collector": {
            "interval_s": scrape_interval_s,
            "timeout_s": max(1.0, round(scrape_interval_s * 0.8, 3)),
            "jobs": [
                {
                    "name": "platform",
                    "type": "platform",
                    "refresh_interval_s": 5,
                    # HAProxy's exporter names the backend `proxy`; backends are named after apps.
                    "metric_relabel_configs": [
                        r.model_dump(exclude_defaults=True) | {"action": r.action}
                        for r in router_relabel_rules("haproxy", tenants)
                    ],
                }
            ],
        },
        "metrics_store": {"type": "embedded", "path": str(data_dir / "metrics")},
        "platform": {"type": "local", "state_dir": str(data_dir / "platform"), "spaces": spaces},
        "logs": {
            "relp": {"host": "127.0.0.1", "port": relp_port},
            "syslog_tcp": {"host": "127.0.0.1", "port": syslog_port},
            "syslog_udp": {"host": "127.0.0.1", "port": syslog_port},
            "spool": {"path": str(data_dir / "logs" / "spool")},
            "search": {"type": "embedded", "path": str(data_dir / "logs" / "search")},
        },
        **alerting,
    }


def reports_config(spaces: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """Scheduled reports of a demo: daily at 07:00 UTC to the SMTP sink, the foundation's to the operators and
    each space's to ``<org>-<space>@paramedic.demo`` (the preview at /reports renders one at any time)."""
    recipients = [{"tenant": "foundation", "to": ["operators@paramedic.demo"]}]
    recipients += [{"tenant": t, "to": [f"{t.replace('/', '-')}@paramedic.demo"]} for t in sorted(spaces)]
    return {
        "smtp_receiver": "demo",
        "schedules": [{"name": "daily", "cron": "0 7 * * *", "period_s": 86400}],
        "recipients": recipients,
    }


def _split(tenant: str) -> tuple[str, str]:
    org, _, space = tenant.partition("/")
    return org, space
