"""``paramedic demo``: start the local platform, the load generator, the notification sinks and
``paramedic serve`` (in that order), print where to look, watch them, and stop them in the reverse order."""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from paramedic.config import ConfigError, parse_config
from paramedic.demo._config import DemoSinks, demo_config
from paramedic.demo._credentials import admin_token, admin_user
from paramedic.demo._output import DemoError, Echo
from paramedic.demo._ports import busy_port, wait_http
from paramedic.demo._record import check_not_running, record_path, write_record
from platforms.local import LocalPlatformError, LocalPlatformRunner
from platforms.local.processes import ChildProcess, ProcessRecord, pid_start_time, spawn
from platforms.local.state import PlatformState, free_port

__all__ = ["APP_NAMES", "DEFAULT_DATA_DIR", "LOAD_RPS", "DemoOptions", "run_demo"]

APP_NAMES = ("checkout", "catalog", "inventory", "payments", "search", "profile")
DEFAULT_DATA_DIR = Path(".paramedic/demo")
LOAD_RPS = 15.0


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """The options of ``paramedic demo``."""

    http_port: int = 9300
    apps: int = 2
    instances: int = 3
    scrape_interval_s: float = 5.0
    relp_port: int = 2514
    syslog_port: int = 1514


class _StopRequestedError(Exception):
    """Raised by the SIGINT/SIGTERM handler to unwind into the shutdown path."""


def _on_signal(_sig: int, _frame: FrameType | None) -> None:
    raise _StopRequestedError


def run_demo(data_dir: Path, opts: DemoOptions, echo: Echo) -> int:
    """Run the demo for ``data_dir`` until SIGINT/SIGTERM or a child exits; returns the exit code. Whatever
    happens, every process it started has exited when this returns."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        check_not_running(data_dir, echo)
    except DemoError as exc:
        echo(str(exc), err=True)
        return 1
    busy = busy_port(opts.http_port, opts.relp_port, opts.syslog_port)
    if busy is not None:
        echo(f"paramedic demo: {busy}", err=True)
        return 1
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    runner = LocalPlatformRunner(data_dir / "platform", relp_target=("127.0.0.1", opts.relp_port))
    launch = _Launch(data_dir, runner, echo)
    exit_code = 0
    try:
        exit_code = launch.run(opts)
    except _StopRequestedError:
        echo("\nstopping the demo ...")
    except (LocalPlatformError, RuntimeError, ConfigError) as exc:
        echo(f"paramedic demo: {exc}", err=True)
        exit_code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in reversed(launch.children):
            child.stop()
        runner.stop()
        record_path(data_dir).unlink(missing_ok=True)
        echo("demo stopped: every process it started has exited")
    return exit_code


class _Launch:
    """One start of the demo: the processes started so far and demo.json, rewritten after each start."""

    def __init__(self, data_dir: Path, runner: LocalPlatformRunner, echo: Echo) -> None:
        self.data_dir = data_dir
        self.runner = runner
        self.echo = echo
        self.children: list[ChildProcess] = []
        self.record: dict[str, Any] = {}

    def save(self) -> None:
        procs = [*self.runner.records(), *(c.record for c in self.children)]
        self.record["processes"] = [p.to_json() for p in procs]
        write_record(self.data_dir, self.record)

    def run(self, opts: DemoOptions) -> int:
        """Start everything, print where to look, then watch the children; returns the exit code."""
        me = ProcessRecord("demo", os.getpid(), pid_start_time(os.getpid()), tuple(sys.argv))
        names = list(APP_NAMES[: opts.apps])
        self.record.update(
            demo=me.to_json(),
            data_dir=str(self.data_dir),
            http_port=opts.http_port,
            relp_port=opts.relp_port,
            syslog_port=opts.syslog_port,
        )
        self.save()
        state = self._start_platform(names, opts.instances)
        self._start_loadgen(state, names)
        sinks = self._start_sinks()
        self.save()
        config_path = self._write_config(opts, sinks)
        self._write_credentials()
        self._start_paramedic(opts.http_port, config_path)
        _print_banner(self.record, names, self.data_dir, self.echo)
        return self._watch()

    def _start_platform(self, names: list[str], instances: int) -> PlatformState:
        runner = self.runner
        self.echo(f"starting the local platform in {runner.paths.root} ...")
        state = runner.init(dict.fromkeys(names, instances))
        self.record.update(
            router_port=state.router_port,
            router_url=f"http://127.0.0.1:{state.router_port}",
            router_metrics_url=f"http://127.0.0.1:{state.stats_port}/metrics",
            node_exporter_url=f"http://127.0.0.1:{state.node_exporter_port}/metrics",
            state_dir=str(runner.paths.root),
            apps={a.name: {str(i.index): i.port for i in a.instances} for a in state.apps},
        )
        try:
            runner.start()
        finally:
            self.save()
        return state

    def _start_loadgen(self, state: PlatformState, names: list[str]) -> None:
        loadgen = spawn(
            "loadgen",
            [sys.executable, "-m", "platforms.local.loadgen", "--router", f"127.0.0.1:{state.router_port}",
             "--apps", ",".join(names), "--rps", str(LOAD_RPS)],
            self.data_dir / "logs" / "loadgen.log",
        )  # fmt: skip
        self.children.append(loadgen)
        self.save()

    def _start_sinks(self) -> DemoSinks:
        """Start the SMTP + webhook sink process; returns when its HTTP port answers."""
        data_dir = self.data_dir
        sinks = DemoSinks(smtp_port=free_port(), webhook_port=free_port())
        mail_dir, webhook_dir = data_dir / "mail", data_dir / "webhooks"
        child = spawn(
            "notification-sinks",
            [sys.executable, "-m", "platforms.local.smtp_sink", "--mail-dir", str(mail_dir), "--webhook-dir",
             str(webhook_dir), "--smtp-port", str(sinks.smtp_port), "--http-port", str(sinks.webhook_port)],
            data_dir / "logs" / "notification-sinks.log",
        )  # fmt: skip
        self.children.append(child)
        self.record.update(
            smtp_port=sinks.smtp_port,
            webhook_url=f"http://127.0.0.1:{sinks.webhook_port}/alerts",
            mail_dir=str(mail_dir),
            webhook_dir=str(webhook_dir),
        )
        wait_http(child, f"http://127.0.0.1:{sinks.webhook_port}/", 30.0)
        return sinks

    def _write_config(self, opts: DemoOptions, sinks: DemoSinks) -> Path:
        """Write ``<data-dir>/paramedic.yaml``, checked first (file:line errors here, not in the child)."""
        cfg = demo_config(
            self.data_dir,
            opts.http_port,
            opts.scrape_interval_s,
            opts.relp_port,
            opts.syslog_port,
            sinks=sinks,
        )
        text = "# Written by `paramedic demo`; regenerated on every start.\n" + yaml.safe_dump(
            cfg, sort_keys=False
        )
        config_path = self.data_dir / "paramedic.yaml"
        parse_config(text, str(config_path))
        config_path.write_text(text, encoding="utf-8")
        return config_path

    def _write_credentials(self) -> None:
        data_dir = self.data_dir
        token_file = admin_token(data_dir)
        self.record.update(admin_token_file=str(token_file), amtool_config=str(data_dir / "amtool.yml"))
        self.echo(f"admin API token written to {token_file} (mode 0600)")
        ui_password, credentials_file = admin_user(data_dir)
        self.record.update(admin_credentials_file=str(credentials_file))
        self.echo(f"web UI login: user admin, password {ui_password} (also in {credentials_file}, mode 0600)")

    def _start_paramedic(self, http_port: int, config_path: Path) -> None:
        api = f"http://127.0.0.1:{http_port}"
        serve = spawn(
            "paramedic",
            [sys.executable, "-m", "paramedic.cli", "serve", "--config", str(config_path)],
            self.data_dir / "logs" / "paramedic.log",
        )
        self.children.append(serve)
        self.record.update(api_url=api, config=str(config_path))
        self.save()
        wait_http(serve, f"{api}/-/ready", 60.0)

    def _watch(self) -> int:
        while True:
            for child in self.children:
                if not child.alive():
                    self.echo(
                        f"{child.name} exited with {child.popen.returncode}:\n{child.log_tail()}", err=True
                    )
                    return 1
            time.sleep(0.5)


def _print_banner(record: dict[str, Any], names: list[str], data_dir: Path, echo: Echo) -> None:
    api, router, first = record["api_url"], record["router_url"], names[0]
    dd = "" if data_dir == DEFAULT_DATA_DIR.resolve() else f" --data-dir {data_dir}"
    lines = [
        "",
        "Paramedic demo is running (Ctrl-C stops everything).",
        f"  Paramedic API      {api}   (targets: {api}/api/v1/targets)",
        f"  router (HAProxy)   {router}   Host: <app>.local  apps: {', '.join(names)}",
        f"  router metrics     {record['router_metrics_url']}",
        f"  node exporter      {record['node_exporter_url']}",
        f"  log listeners      RELP 127.0.0.1:{record['relp_port']} (from the platform's rsyslog), "
        f"syslog TCP+UDP 127.0.0.1:{record['syslog_port']}",
        f"  alerts             {api}/api/v2/alerts   (amtool --alertmanager.url {api} alert query)",
        f'  admin API token    {record["admin_token_file"]}   (curl -H "Authorization: Bearer $(cat '
        f'{record["admin_token_file"]})" ...; amtool --http.config.file {record["amtool_config"]} ...)',
        f"  web UI login       {api}/login   (user:password in {record['admin_credentials_file']})",
        f"  mail (SMTP sink)   127.0.0.1:{record['smtp_port']} -> {record['mail_dir']}   "
        f"(paramedic demo mail{dd})",
        f"  webhooks           {record['webhook_url']} -> {record['webhook_dir']}",
        f"  logs and state     {data_dir}",
        "",
        "Try:",
        f"  curl '{api.removeprefix('http://')}/api/v1/query?query=up'",
        f"  curl -s -G '{api}/api/v1/query' --data-urlencode "
        "'query=sum by (app) (rate(haproxy_backend_http_responses_total[1m]))'",
        f"  curl -H 'Host: {first}.local' {router}/api/items",
        f"  paramedic demo fault --app {first} --kind hang --instance 1{dd}",
        f"  paramedic demo fault --app {first} --kind errors --for-s 60{dd}   "
        "(fires AppRouter5xxRatioHigh: mail + webhook)",
        f"  curl '{api.removeprefix('http://')}/api/v1/logs/search?q=status:500'",
        f"  curl -N '{api}/api/v1/logs/tail?q=app:{first}'",
        f"  curl '{api.removeprefix('http://')}/api/v1/logs/patterns'",
        "",
    ]
    echo("\n".join(lines))
