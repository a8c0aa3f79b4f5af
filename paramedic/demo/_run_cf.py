"""``paramedic demo --platform cloudfoundry``: the simulated foundation (:mod:`platforms.cf_sim`, as a child
process, :mod:`._cf_stack`) instead of the local platform, Paramedic configured for it by
:func:`._cf_config.cf_demo_config` (CC + UAA discovery, Log Cache metrics, both CF rule packs, the CF policy
pack, the foundation's syslog drains to Paramedic's syslog TCP listener). The load generator, notification
sinks, admin access and ``paramedic serve`` are the local demo's (:mod:`._launch`).

The foundation's credentials (users, passwords, client secrets of this run) go to
``<data-dir>/cf-credentials.json`` (mode 0600), never to the terminal. Stopping: the stack child stops its
platform on SIGTERM; any of its processes still alive after it exited are stopped by PID."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from paramedic.demo._banner import service_lines
from paramedic.demo._cf_apps import foundation_record
from paramedic.demo._cf_config import cf_demo_config
from paramedic.demo._cf_stack import descendants, read_credentials, spawn_stack
from paramedic.demo._credentials import CF_SPACE_LOGIN, write_private
from paramedic.demo._launch import Launch
from paramedic.demo._options import DemoOptions, data_dir_flag
from paramedic.demo._output import Echo
from platforms.cf_sim.foundation import default_foundation
from platforms.local.processes import ProcessRecord, process_alive, stop_pid
from platforms.local.state import StateDir

__all__ = ["STACK_START_TIMEOUT_S", "CFLaunch"]

STACK_START_TIMEOUT_S = 120.0
_STACK_STOP_TIMEOUT_S = 60.0  # CC, UAA, Log Cache, then its platform (supervisord stops the instances)


class CFLaunch(Launch):
    """One start of the Cloud Foundry demo."""

    def __init__(self, data_dir: Path, echo: Echo) -> None:
        super().__init__(data_dir, echo)
        self.foundation = default_foundation()  # what python -m platforms.cf_sim runs
        self.stack_pid: int | None = None
        self._seen: dict[int, ProcessRecord] = {}
        self.stop_timeouts_s["cf-stack"] = _STACK_STOP_TIMEOUT_S

    def platform_records(self) -> list[ProcessRecord]:
        """The stack's processes: every one seen under it so far (for demo.json and the cleanup)."""
        if self.stack_pid is not None:
            for rec in descendants(self.stack_pid):
                self._seen.setdefault(rec.pid, rec)
        return [r for r in self._seen.values() if process_alive(r)]

    def stop(self) -> None:
        self.platform_records()  # what runs under the stack now, in case it must be killed
        super().stop()

    def stop_platform(self) -> None:
        for rec in reversed(list(self._seen.values())):
            if process_alive(rec):
                self.echo(f"stopping {rec.name} (pid {rec.pid}) left by the Cloud Foundry simulation")
                stop_pid(rec, timeout_s=5.0)

    def run(self, opts: DemoOptions) -> int:
        """Start everything, print where to look, then watch the children; returns the exit code."""
        self.begin(platform="cloudfoundry", http_port=opts.http_port, syslog_port=opts.syslog_port)
        creds = self._start_foundation(opts)
        names = [a.local_app for a in self.foundation.apps]
        self.start_loadgen(int(self.record["router_port"]), names)
        sinks = self.start_sinks()
        cfg = cf_demo_config(
            self.data_dir, opts.http_port, opts.scrape_interval_s, opts.syslog_port, creds, sinks
        )
        config_path = self.write_config(
            cfg, "Written by `paramedic demo --platform cloudfoundry`; regenerated on every start."
        )
        self.write_credentials(CF_SPACE_LOGIN)
        self.start_paramedic(opts.http_port, config_path)
        print_cf_banner(self.record, self.data_dir, self.echo)
        return self.watch()

    def _start_foundation(self, opts: DemoOptions) -> dict[str, Any]:
        root = self.data_dir / "foundation"
        self.echo(f"starting the simulated Cloud Foundry foundation in {root} ...")
        drain = f"syslog://127.0.0.1:{opts.syslog_port}"
        callbacks = tuple(
            f"http://{host}:{opts.http_port}/login/uaa/callback" for host in ("127.0.0.1", "localhost")
        )
        log = self.data_dir / "logs" / "cf-stack.log"
        stack = spawn_stack(root, drain, opts.instances, log, callbacks)
        self.children.append(stack)
        self.stack_pid = stack.popen.pid
        self.save()
        creds = read_credentials(stack, STACK_START_TIMEOUT_S)
        creds_file = self.data_dir / "cf-credentials.json"
        write_private(creds_file, json.dumps(creds, indent=2) + "\n")
        self.echo(
            f"foundation credentials (users, passwords, client secrets) written to {creds_file} (mode 0600)"
        )
        platform_dir = root / "platform"
        state = StateDir(platform_dir).load()
        self.record.update(
            cc_url=creds["cc_url"],
            uaa_url=creds["uaa_url"],
            log_cache_url=creds["log_cache_url"],
            gorouter_metrics_url=creds["gorouter_metrics_url"],
            cf_credentials_file=str(creds_file),
            router_port=state.router_port,
            router_url=f"http://127.0.0.1:{state.router_port}",
            state_dir=str(platform_dir),
            apps={a.name: {str(i.index): i.port for i in a.instances} for a in state.apps},
            foundation=foundation_record(self.foundation),
        )
        self.save()
        return creds


def _foundation_lines(foundation: dict[str, Any]) -> list[str]:
    lines = []
    for org in foundation["orgs"]:
        lines.append(f"  org {org['name']:<8} {org['guid']}")
        for space in org["spaces"]:
            lines.append(f"    space {space['name']:<6} {space['guid']}")
            for app in foundation["apps"]:
                if (app["org"], app["space"]) == (org["name"], space["name"]):
                    lines.append(f"      app {app['name']:<6} {app['guid']}   (local app {app['local_app']})")
    return lines


def print_cf_banner(record: dict[str, Any], data_dir: Path, echo: Echo) -> None:
    api, router, cc, uaa = record["api_url"], record["router_url"], record["cc_url"], record["uaa_url"]
    dd, creds = data_dir_flag(data_dir), record["cf_credentials_file"]
    acme_api = next(
        a
        for a in record["foundation"]["apps"]
        if (a["org"], a["space"], a["name"]) == ("acme", "prod", "api")
    )
    lines = [
        "",
        "Paramedic demo on a simulated Cloud Foundry foundation is running (Ctrl-C stops everything).",
        f"  Paramedic API      {api}   (targets: {api}/api/v1/targets)",
        f"  dashboard          {api}/apps",
        f"  Cloud Controller   {cc}   (v3; cf api {cc} --skip-ssl-validation)",
        f"  UAA                {uaa}",
        f"  Log Cache          {record['log_cache_url']}",
        f"  gorouter metrics   {record['gorouter_metrics_url']}",
        f"  router             {router}   Host: <local app>.local",
        f"  CF credentials     {creds}   (users, passwords, client secrets; mode 0600)",
        f"  UAA log-in         {api}/login -> 'Log in with Cloud Foundry (UAA)': dev-acme (space "
        "developer of acme/prod: sees and operates that space only), auditor-globex (auditor of org globex), "
        "admin (foundation); passwords in the CF credentials file",
        f"  syslog drains      every app -> 127.0.0.1:{record['syslog_port']} "
        "(Paramedic's syslog TCP listener)",
        *service_lines(record, data_dir),
        "",
        "Foundation (orgs, spaces, apps with GUIDs):",
        *_foundation_lines(record["foundation"]),
        "",
        "Try:",
        f"  paramedic demo fault --app api-acme-prod --kind errors --for-s 60{dd}   "
        "(or --app acme/prod/api; fires CFAppErrorRatioHigh: mail + webhook)",
        f"  curl '{api}/api/v1/alerts'",
        f"  curl '{api}/api/v1/actions'   (policy cf-restart-erroring-app restarts it via the CC)",
        f"  curl -s -G '{api}/api/v1/query' --data-urlencode 'query=gorouter_latency_p95'",
        f"  curl -H 'Host: api-acme-prod.local' {router}/api/items",
        f"  TOKEN=$(curl -s -u cf: -d grant_type=password -d username=admin --data-urlencode "
        f'"password=$(jq -r .users.admin {creds})" {uaa}/oauth/token | jq -r .access_token)',
        f'  curl -H "Authorization: bearer $TOKEN" {cc}/v3/apps/{acme_api["guid"]}/processes',
        "",
    ]
    echo("\n".join(lines))
