"""The paramedic.yaml of ``paramedic demo --platform cloudfoundry`` (and of the Cloud Foundry end-to-end
test): Paramedic pointed at the simulated foundation's CC, UAA and Log Cache (:mod:`platforms.cf_sim.stack`)
exactly as at a real one, with the ``cloudfoundry`` and ``cloudfoundry-apps`` rule packs and the Cloud
Foundry policy pack retimed for a demo (evaluated every interval, ``for:`` two intervals; policies live with
cooldowns of 30 intervals and verification deadlines of 60, at least 3 minutes), alerting to the demo's
sinks, and the app logs the foundation's syslog drains send to the syslog TCP listener."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from alerting.rules import PACKS_DIR
from paramedic.demo._config import DemoSinks, alerting_config
from paramedic.demo._credentials import write_private

__all__ = ["CF_PACKS", "CF_POLICY_PACK", "cf_demo_config", "cf_demo_uaa"]

CF_PACKS = ("cloudfoundry", "cloudfoundry-apps")
CF_POLICY_PACK = Path(__file__).resolve().parents[2] / "remediation" / "packs" / "cloudfoundry.yaml"


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def cf_demo_rules(data_dir: Path, interval_s: float) -> Path:
    """Both Cloud Foundry rule packs in one file, every group each ``interval_s``, ``for:`` two intervals."""
    groups: list[dict[str, Any]] = []
    for pack in CF_PACKS:
        doc = yaml.safe_load((PACKS_DIR / f"{pack}.yaml").read_text(encoding="utf-8"))
        for group in doc["groups"]:
            group["interval"] = _ms(interval_s)
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = _ms(2 * interval_s)
            groups.append(group)
    path = data_dir / "rules" / "cloudfoundry-demo.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# Written by `paramedic demo --platform cloudfoundry`: {', '.join(CF_PACKS)} with demo timings.\n"
    )
    path.write_text(header + yaml.safe_dump({"groups": groups}, sort_keys=False), encoding="utf-8")
    return path


def cf_demo_policies(data_dir: Path, interval_s: float) -> Path:
    """The Cloud Foundry policy pack, every policy live, with demo timings (canary steps of 6 intervals)."""
    doc = yaml.safe_load(CF_POLICY_PACK.read_text(encoding="utf-8"))
    for policy in doc["policies"]:
        policy["mode"] = "live"
        policy.setdefault("rails", {})["cooldown"] = _ms(30 * interval_s)
        # Log Cache's per-app router data are one-minute windows: an alert clears a minute after the fix
        policy.setdefault("verify", {})["deadline"] = _ms(max(60 * interval_s, 180.0))
        action = policy["action"]
        if action.get("type") == "blue_green":
            action["step_duration"] = _ms(6 * interval_s)
            if isinstance(action.get("gates"), dict):
                action["gates"]["window"] = _ms(max(30.0, 6 * interval_s))
                action["gates"]["min_requests"] = 10
    path = data_dir / "remediation" / "cf-policies.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Written by `paramedic demo --platform cloudfoundry`: {CF_POLICY_PACK} live, demo timings.\n"
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _platform(creds: dict[str, Any], interval_s: float) -> dict[str, Any]:
    return {
        "type": "cloudfoundry",
        "api_url": creds["cc_url"],
        "uaa_url": creds["uaa_url"],
        "client_id": "paramedic",
        "client_secret": creds["clients"]["paramedic"],
        "timeout_s": 10.0,
        "app_cache_ttl_s": 5.0,
        "deployment_timeout_s": 120.0,
        "log_cache": {
            "url": creds["log_cache_url"],
            "interval_s": interval_s,
            "backfill_s": 600.0,
        },
    }


def cf_demo_uaa(data_dir: Path, creds: dict[str, Any]) -> dict[str, Any]:
    """``server.auth.uaa`` for the simulated foundation's UAA: the ``paramedic-ui`` client, its secret
    written to ``<data-dir>/uaa-client-secret`` (0600)."""
    secret_file = data_dir / "uaa-client-secret"
    write_private(secret_file, str(creds["clients"]["paramedic-ui"]) + "\n")
    return {
        "url": creds["uaa_url"],
        "client_id": "paramedic-ui",
        "client_secret_file": str(secret_file),
        "cc_api_url": creds["cc_url"],
    }


def cf_demo_config(
    data_dir: Path,
    http_port: int,
    interval_s: float,
    syslog_port: int,
    creds: dict[str, Any],
    sinks: DemoSinks,
) -> dict[str, Any]:
    """Paramedic watching the simulated foundation whose :meth:`CFStack.credentials` are ``creds``."""
    interval_s = max(1.0, interval_s)
    alerting = alerting_config(data_dir, http_port, sinks, interval_s, app_label="app_guid")
    return {
        "server": {
            "listen_host": "127.0.0.1",
            "listen_port": http_port,
            "auth": {
                "tokens_file": str(data_dir / "tokens.json"),
                "anonymous_read": True,
                "uaa": cf_demo_uaa(data_dir, creds),
            },
        },
        # app instances serve /metrics on the cells (the platform job discovers them through the CC)
        "collector": {
            "interval_s": interval_s,
            "timeout_s": max(1.0, round(interval_s * 0.8, 3)),
            "jobs": [{"name": "platform", "type": "platform", "refresh_interval_s": 5}],
        },
        "metrics_store": {"type": "embedded", "path": str(data_dir / "metrics")},
        "platform": _platform(creds, interval_s),
        "logs": {
            "syslog_tcp": {"host": "127.0.0.1", "port": syslog_port},
            "syslog_udp": None,
            "relp": None,
            "spool": {"path": str(data_dir / "logs" / "spool")},
            "search": {"type": "embedded", "path": str(data_dir / "logs" / "search")},
        },
        "rules": {
            "files": [str(cf_demo_rules(data_dir, interval_s))],
            "evaluation_interval_s": interval_s,
            "state_file": str(data_dir / "alerting" / "rules-state.json"),
        },
        "alerting": alerting,
        "remediation": {
            "policy_files": [str(cf_demo_policies(data_dir, interval_s))],
            "data_dir": str(data_dir / "remediation"),
            "global_rails": {
                "cooldown": _ms(30 * interval_s),
                "budget": {"max_actions": 30, "window": "1h"},
                "blast_radius": {"max_instances_pct": 100, "max_apps": 3},
            },
            "platform_retries": 2,
            "platform_backoff_s": 0.2,
        },
    }
