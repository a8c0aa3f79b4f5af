"""The Paramedic remediation pipeline for bench/remediation.py: ``paramedic serve`` over the local platform.

Collector: the platform job (discovery from the platform), 1 s scrapes, 1 s timeout. Rules: the local pack
(alerting/rules/packs/local.yaml) with every group evaluated each second and AppInstanceDown's ``for:`` set to
the bench's ``--for-s`` (the same as the Prometheus rule). Remediation: one live policy restarting the
instance named by the alert's app / app_instance labels, cooldown 5 s; verification = the alert resolves.
After each fault, the action's audit record (``GET /api/v1/actions/{id}``) gives Paramedic's own times.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench._remediation_probe import Injection, Probe, run_injections
from platforms.local import LocalPlatform
from tests.support.servers import ManagedProcess, free_port, wait_http

REPO = Path(__file__).resolve().parent.parent
ALERT = "AppInstanceDown"
COOLDOWN_S = 5.0
TERMINAL = {"refused", "dry_run", "rejected", "expired", "failed", "verified", "escalated", "reverted"} | {
    "interrupted",
    "verification_failed",
}


def rules_file(work: Path, for_s: float) -> Path:
    doc = yaml.safe_load((REPO / "alerting" / "rules" / "packs" / "local.yaml").read_text(encoding="utf-8"))
    for group in doc["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            if rule.get("alert") == ALERT:
                rule["for"] = f"{round(for_s * 1000)}ms"
    path = work / "rules-local.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def policy_file(work: Path) -> Path:
    doc = {
        "policies": [
            {
                "name": "bench-restart-hung-instance",
                "mode": "live",
                "trigger": {"matchers": [f'alertname="{ALERT}"']},
                "target": {"app_label": "app", "instance_label": "app_instance"},
                "action": {"type": "restart_instance"},
                "rails": {
                    "cooldown": f"{COOLDOWN_S:g}s",
                    "budget": {"max_actions": 1000, "window": "1h"},
                    "blast_radius": {"max_instances_pct": 50},
                    "circuit_breaker": {"max_failures": 1000, "window": "1h"},
                },
                "verify": {"deadline": "60s", "on_failure": "none"},
            }
        ]
    }
    path = work / "policy.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def paramedic_config(work: Path, port: int, state_dir: Path, for_s: float) -> dict[str, Any]:
    return {
        "server": {"listen_host": "127.0.0.1", "listen_port": port, "auth": {"anonymous_read": True}},
        "collector": {
            "interval_s": 1.0,
            "timeout_s": 1.0,
            "jobs": [{"name": "platform", "type": "platform", "refresh_interval_s": 5}],
        },
        "metrics_store": {"type": "embedded", "path": str(work / "metrics")},
        "platform": {"type": "local", "state_dir": str(state_dir)},
        "rules": {
            "files": [str(rules_file(work, for_s))],
            "evaluation_interval_s": 1.0,
            "state_file": str(work / "rules-state.json"),
        },
        # A receiver without notifiers: the alerts reach the remediation engine, nobody gets mail.
        "alerting": {
            "data_dir": str(work / "alerting"),
            "route": {"receiver": "null"},
            "receivers": [{"name": "null"}],
        },
        "remediation": {
            "policy_files": [str(policy_file(work))],
            "data_dir": str(work / "remediation"),
            "global_rails": {"cooldown": f"{COOLDOWN_S:g}s", "budget": {"max_actions": 1000, "window": "1h"}},
        },
    }


def _firing_quiet(base: str) -> bool:
    try:
        alerts = httpx.get(f"{base}/api/v1/alerts", timeout=2).json()["data"]["alerts"]
    except (httpx.HTTPError, ValueError, KeyError):
        return False
    return not any(a.get("labels", {}).get("alertname") == ALERT for a in alerts)


class _Actions:
    """Reads the audit trail; creates a viewer token only if the API asks for one."""

    def __init__(self, base: str, config: Path) -> None:
        self.base = base
        self.config = config
        self.headers: dict[str, str] = {}

    def _get(self, path: str) -> Any:
        r = httpx.get(f"{self.base}{path}", headers=self.headers, timeout=5)
        if r.status_code == 401 and not self.headers:
            out = subprocess.run(
                [sys.executable, "-m", "paramedic.cli", "token", "create", "--name", "bench-remediation",
                 "--role", "viewer", "--config", str(self.config)],
                capture_output=True, text=True, check=True, cwd=REPO,
            )  # fmt: skip
            self.headers = {"Authorization": f"Bearer {out.stdout.strip().splitlines()[-1].strip()}"}
            r = httpx.get(f"{self.base}{path}", headers=self.headers, timeout=5)
        r.raise_for_status()
        return r.json()

    def for_injection(self, inj: Injection) -> dict[str, Any] | None:
        """The action record (GET /api/v1/actions/{id}) for this fault: same instance, requested after it."""
        listing = self._get("/api/v1/actions")
        records = listing.get("data", listing.get("actions", [])) if isinstance(listing, dict) else listing
        best: tuple[float, str] | None = None  # the first action on this instance after the injection
        for rec in records if isinstance(records, list) else []:
            target = _find(rec, "target")
            instance = target.get("instance") if isinstance(target, dict) else None
            if str(instance) != str(inj.index) and not str(target).endswith(f"/{inj.index}"):
                continue
            created = _when(_find(rec, "created_at"))
            if (
                created is not None
                and created >= inj.injected_wall - 0.5
                and (best is None or created < best[0])
            ):
                best = (created, str(rec["id"]))
        if best is None:
            return None
        deadline = time.monotonic() + 75  # the policy's verify deadline is 60 s
        while True:
            detail = self._get(f"/api/v1/actions/{best[1]}")
            if not isinstance(detail, dict):
                return None
            if detail.get("status") in TERMINAL or time.monotonic() > deadline:
                return dict(detail)
            time.sleep(0.5)


def _find(obj: Any, key: str) -> Any:
    """``obj[key]`` or ``obj['request'][key]`` (the record may or may not nest its request)."""
    if not isinstance(obj, dict):
        return None
    if key in obj:
        return obj[key]
    req = obj.get("request")
    return req.get(key) if isinstance(req, dict) else None


def _when(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def audit_times(record: dict[str, Any] | None, inj: Injection) -> dict[str, float | str | None]:
    """Seconds from the injection to each audit event (first of each kind), and the final status."""
    out: dict[str, float | str | None] = {"action_status": None}
    if record is None:
        return out
    out["action_status"] = str(_find(record, "status"))
    for event in record.get("events", []):
        at = _when(event.get("at"))
        kind = f"{event.get('kind')}_s"
        if at is not None and kind not in out:
            out[kind] = round(at - inj.injected_wall, 3)
    return out


def run_paramedic(
    platform: LocalPlatform, app: str, tmp: Path, n: int, for_s: float
) -> tuple[list[Injection], dict[str, Any]]:
    """Start ``paramedic serve`` watching the platform with a live restart policy; run ``n`` faults."""
    work = tmp / "paramedic"
    work.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = work / "paramedic.yaml"
    config.write_text(
        yaml.safe_dump(paramedic_config(work, port, platform.paths.root, for_s), sort_keys=False)
    )
    base = f"http://127.0.0.1:{port}"
    probe = Probe(platform, app)
    proc = ManagedProcess(
        "paramedic",
        [sys.executable, "-m", "paramedic.cli", "serve", "--config", str(config)],
        work / "paramedic.log",
        cwd=REPO,
    )
    try:
        wait_http(f"{base}/-/ready", 60, proc)
        injections = run_injections(
            probe,
            n,
            timeout_s=60.0,
            quiet=lambda: _firing_quiet(base),
            settle_s=COOLDOWN_S,  # instances rotate, but never act inside a cooldown
            label="paramedic",
            jitter_s=1.0,  # the rule interval
        )
        actions = _Actions(base, config)
        for inj in injections:
            try:
                inj.extra.update(audit_times(actions.for_injection(inj), inj))
            except (httpx.HTTPError, subprocess.CalledProcessError, ValueError, KeyError) as exc:
                inj.extra["action_status"] = f"audit unavailable: {exc}"
        info = {
            "config": "paramedic serve: 1s scrapes, local rule pack evaluated every 1s, live restart_instance"
            f" policy (cooldown {COOLDOWN_S:g}s)",
            "log": str(work / "paramedic.log"),
        }
        return injections, info
    finally:
        proc.stop()
        probe.close()
