"""``paramedic demo``: a real local platform (HAProxy, supervisord, node exporter, sample apps, load)
watched by a Paramedic server; ``paramedic demo fault``: inject a fault into one of its app instances.

The demo owns every process it starts (each in its own session) and records them, with their ports, in
``<data-dir>/demo.json``. Start order: platform (rsyslog -> supervisord -> HAProxy -> node exporter) -> load
generator -> notification sinks (SMTP + webhook, ``platforms.local.smtp_sink``) -> ``paramedic serve``;
SIGINT/SIGTERM stop them by PID in the reverse order (supervisord stops its instances).
Alerting: the local rule pack, retimed for a demo (every group evaluated each scrape interval, ``for:`` two
intervals), routed to an email receiver (the SMTP sink, mails under ``<data-dir>/mail``) and a webhook
receiver (bodies under ``<data-dir>/webhooks``); ``paramedic demo mail`` lists the received mails.
The platform's rsyslog forwards app output and router access lines over RELP to Paramedic's ``--relp-port``,
as BOSH syslog-release does; it queues (on disk) until ``paramedic serve`` listens.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import typer
import yaml

from alerting.rules import PACKS_DIR
from collector.presets import router_relabel_rules
from paramedic.auth import TokenStore, UserStore
from paramedic.commands import demo_remediation
from paramedic.commands.demo_remediation import remediation_config
from paramedic.config import ConfigError, parse_config
from platforms.local import LocalPlatformError, LocalPlatformRunner, StateDir
from platforms.local.fault_client import inject_fault
from platforms.local.processes import (
    ChildProcess,
    ProcessRecord,
    pid_start_time,
    process_alive,
    spawn,
    stop_pid,
)
from platforms.local.sample_app.faults import KINDS
from platforms.local.smtp_sink import list_mails
from platforms.local.state import free_port

__all__ = ["APP_NAMES", "app", "demo_config", "read_demo_record"]

APP_NAMES = ("checkout", "catalog", "inventory", "payments", "search", "profile")
DEFAULT_DATA_DIR = Path(".paramedic/demo")
LOAD_RPS = 15.0

app = typer.Typer(help="Run the demo: a real local platform watched by Paramedic.")


class _StopRequestedError(Exception):
    """Raised by the SIGINT/SIGTERM handler to unwind into the shutdown path."""


# -- demo.json --------------------------------------------------------------------------------


def _record_path(data_dir: Path) -> Path:
    return data_dir / "demo.json"


def read_demo_record(data_dir: Path) -> dict[str, Any] | None:
    """The demo.json of ``data_dir``, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(_record_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_record(data_dir: Path, record: dict[str, Any]) -> None:
    path = _record_path(data_dir)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _check_not_running(data_dir: Path) -> None:
    """Refuse when a live demo owns ``data_dir``; clean up what a dead one left behind."""
    record = read_demo_record(data_dir)
    if record is None:
        _record_path(data_dir).unlink(missing_ok=True)
        return
    demo = ProcessRecord.from_json(record["demo"])
    if process_alive(demo):
        typer.echo(
            f"paramedic demo: a demo is already running for {data_dir} "
            f"(pid {demo.pid}, API {record.get('api_url')}).\n"
            f"Stop it with Ctrl-C in its terminal or `kill {demo.pid}`, or use another --data-dir.",
            err=True,
        )
        raise typer.Exit(1)
    leftovers = [ProcessRecord.from_json(p) for p in record.get("processes", [])]
    for proc in reversed(leftovers):
        if process_alive(proc):
            typer.echo(f"stopping {proc.name} (pid {proc.pid}) left by a demo that died")
            stop_pid(proc)
    _record_path(data_dir).unlink(missing_ok=True)
    typer.echo(f"removed stale {_record_path(data_dir)} (demo pid {demo.pid} is gone)")


# -- config --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoSinks:
    """Where the demo's notification sinks listen."""

    smtp_port: int
    webhook_port: int


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


def _alerting_config(data_dir: Path, http_port: int, sinks: DemoSinks, interval_s: float) -> dict[str, Any]:
    return {
        "external_url": f"http://127.0.0.1:{http_port}",
        "data_dir": str(data_dir / "alerting"),
        "route": {
            "receiver": "demo",
            "group_by": ["alertname", "app"],
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
                "equal": ["app"],
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
) -> dict[str, Any]:
    """The paramedic.yaml of the demo: one platform job; HAProxy's backend (``proxy``) becomes ``app``; log
    listeners (RELP from the platform's rsyslog; syslog TCP+UDP for anything else) with an embedded store;
    with ``sinks``, the retimed local rule pack and alerting to the demo's SMTP and webhook sinks."""
    interval_s = max(1.0, scrape_interval_s)
    alerting: dict[str, Any] = {}
    if sinks is not None:
        alerting = {
            "rules": {
                "files": [str(demo_rules(data_dir, interval_s))],
                "evaluation_interval_s": interval_s,
                "state_file": str(data_dir / "alerting" / "rules-state.json"),
            },
            "alerting": _alerting_config(data_dir, http_port, sinks, interval_s),
            "remediation": remediation_config(data_dir, interval_s),
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
                        for r in router_relabel_rules("haproxy")
                    ],
                }
            ],
        },
        "metrics_store": {"type": "embedded", "path": str(data_dir / "metrics")},
        "platform": {"type": "local", "state_dir": str(data_dir / "platform")},
        "logs": {
            "relp": {"host": "127.0.0.1", "port": relp_port},
            "syslog_tcp": {"host": "127.0.0.1", "port": syslog_port},
            "syslog_udp": {"host": "127.0.0.1", "port": syslog_port},
            "spool": {"path": str(data_dir / "logs" / "spool")},
            "search": {"type": "embedded", "path": str(data_dir / "logs" / "search")},
        },
        **alerting,
    }


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600 (created so, never world-readable in between)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    tmp.replace(path)


def _admin_token(data_dir: Path) -> Path:
    """A fresh admin token (name ``demo-admin``, replacing the last run's) in ``<data-dir>/admin-token`` and
    an amtool HTTP config carrying it in ``<data-dir>/amtool.yml``, both mode 0600; returns the token file."""
    token = TokenStore(data_dir / "tokens.json").create("demo-admin", "admin", replace=True)
    path = data_dir / "admin-token"
    _write_private(path, token + "\n")
    _write_private(data_dir / "amtool.yml", f"authorization:\n  credentials: {token}\n")
    return path


def _admin_user(data_dir: Path) -> tuple[str, Path]:
    """A web UI user ``admin`` (role admin) with a fresh random password, replacing the last run's, and
    ``<data-dir>/admin-credentials`` (``user:password``, mode 0600); returns (the password, the file)."""
    password = secrets.token_urlsafe(18)
    UserStore(data_dir / "users.json").create("admin", "admin", password, replace=True)
    path = data_dir / "admin-credentials"
    _write_private(path, f"admin:{password}\n")
    return password, path


def _port_free(port: int, kind: socket.SocketKind = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _busy_port(http_port: int, relp_port: int, syslog_port: int) -> str | None:
    """A message naming the first port that is in use (or given twice), or None when all are free."""
    wanted = [
        ("--http-port", http_port, socket.SOCK_STREAM, "TCP"),
        ("--relp-port", relp_port, socket.SOCK_STREAM, "TCP"),
        ("--syslog-port", syslog_port, socket.SOCK_STREAM, "TCP"),
        ("--syslog-port", syslog_port, socket.SOCK_DGRAM, "UDP"),
    ]
    tcp = [(opt, port) for opt, port, kind, _ in wanted if kind == socket.SOCK_STREAM]
    for i, (opt, port) in enumerate(tcp):
        for other, other_port in tcp[:i]:
            if port == other_port:
                return f"{opt} and {other} are both {port}: give them different ports"
    for opt, port, kind, proto in wanted:
        if not _port_free(port, kind):
            return f"{proto} port {port} is in use on 127.0.0.1: pass {opt} with a free port"
    return None


def _wait_http(child: ChildProcess, url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited with {child.popen.returncode}:\n{child.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=1.0) as resp:  # noqa: S310 -- loopback URL we built
                if int(resp.status) < 500:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{child.name}: {url} did not answer within {timeout_s:.0f}s:\n{child.log_tail()}")


# -- paramedic demo -----------------------------------------------------------------------------------------


@app.callback(invoke_without_command=True)
def demo(  # noqa: PLR0917 -- typer options
    ctx: typer.Context,
    http_port: int = typer.Option(9300, "--http-port", help="Port of Paramedic's HTTP API."),
    data_dir: Path = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help="Where the demo keeps its state."),
    apps: int = typer.Option(2, "--apps", min=1, max=len(APP_NAMES), help="Number of apps."),
    instances: int = typer.Option(3, "--instances", min=1, max=16, help="Instances per app."),
    scrape_interval_s: float = typer.Option(5.0, "--scrape-interval-s", min=0.5, help="Scrape interval."),
    relp_port: int = typer.Option(
        2514,
        "--relp-port",
        min=1,
        max=65535,
        help="Paramedic's RELP port (the platform's rsyslog sends here).",
    ),
    syslog_port: int = typer.Option(
        1514, "--syslog-port", min=1, max=65535, help="Paramedic's syslog port (TCP and UDP)."
    ),
) -> None:
    """Start the local platform (2 apps x 3 instances, load) and Paramedic watching it, until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    _check_not_running(data_dir)
    busy = _busy_port(http_port, relp_port, syslog_port)
    if busy is not None:
        typer.echo(f"paramedic demo: {busy}", err=True)
        raise typer.Exit(1)

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        raise _StopRequestedError

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    runner = LocalPlatformRunner(data_dir / "platform", relp_target=("127.0.0.1", relp_port))
    children: list[ChildProcess] = []
    exit_code = 0
    try:
        options = _Options(http_port, apps, instances, scrape_interval_s, relp_port, syslog_port)
        exit_code = _run(data_dir, runner, children, options)
    except _StopRequestedError:
        typer.echo("\nstopping the demo ...")
    except (LocalPlatformError, RuntimeError, ConfigError) as exc:
        typer.echo(f"paramedic demo: {exc}", err=True)
        exit_code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in reversed(children):
            child.stop()
        runner.stop()
        _record_path(data_dir).unlink(missing_ok=True)
        typer.echo("demo stopped: every process it started has exited")
    raise typer.Exit(exit_code)


@dataclass(frozen=True, slots=True)
class _Options:
    http_port: int
    apps: int
    instances: int
    scrape_interval_s: float
    relp_port: int
    syslog_port: int


def _run(data_dir: Path, runner: LocalPlatformRunner, children: list[ChildProcess], opts: _Options) -> int:
    """Start everything, print where to look, then watch the children; returns the exit code."""
    http_port = opts.http_port
    me = ProcessRecord("demo", os.getpid(), pid_start_time(os.getpid()), tuple(sys.argv))
    names = list(APP_NAMES[: opts.apps])
    record: dict[str, Any] = {
        "demo": me.to_json(),
        "data_dir": str(data_dir),
        "http_port": http_port,
        "relp_port": opts.relp_port,
        "syslog_port": opts.syslog_port,
    }

    def save() -> None:
        record["processes"] = [p.to_json() for p in [*runner.records(), *(c.record for c in children)]]
        _write_record(data_dir, record)

    save()
    typer.echo(f"starting the local platform in {runner.paths.root} ...")
    state = runner.init(dict.fromkeys(names, opts.instances))
    record.update(
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
        save()
    loadgen = spawn(
        "loadgen",
        [
            sys.executable,
            "-m",
            "platforms.local.loadgen",
            "--router",
            f"127.0.0.1:{state.router_port}",
            "--apps",
            ",".join(names),
            "--rps",
            str(LOAD_RPS),
        ],
        data_dir / "logs" / "loadgen.log",
    )
    children.append(loadgen)
    save()
    sinks = _start_sinks(data_dir, children, record)
    save()

    cfg = demo_config(
        data_dir, http_port, opts.scrape_interval_s, opts.relp_port, opts.syslog_port, sinks=sinks
    )
    text = "# Written by `paramedic demo`; regenerated on every start.\n" + yaml.safe_dump(
        cfg, sort_keys=False
    )
    config_path = data_dir / "paramedic.yaml"
    parse_config(text, str(config_path))  # fail here, with file:line: key, rather than in the child
    config_path.write_text(text, encoding="utf-8")
    token_file = _admin_token(data_dir)
    record.update(admin_token_file=str(token_file), amtool_config=str(data_dir / "amtool.yml"))
    typer.echo(f"admin API token written to {token_file} (mode 0600)")
    ui_password, credentials_file = _admin_user(data_dir)
    record.update(admin_credentials_file=str(credentials_file))
    typer.echo(f"web UI login: user admin, password {ui_password} (also in {credentials_file}, mode 0600)")
    api = f"http://127.0.0.1:{http_port}"
    serve = spawn(
        "paramedic",
        [sys.executable, "-m", "paramedic.cli", "serve", "--config", str(config_path)],
        data_dir / "logs" / "paramedic.log",
    )
    children.append(serve)
    record.update(api_url=api, config=str(config_path))
    save()
    _wait_http(serve, f"{api}/-/ready", 60.0)
    _print_banner(record, names, data_dir)
    while True:
        for child in children:
            if not child.alive():
                typer.echo(
                    f"{child.name} exited with {child.popen.returncode}:\n{child.log_tail()}", err=True
                )
                return 1
        time.sleep(0.5)


def _start_sinks(data_dir: Path, children: list[ChildProcess], record: dict[str, Any]) -> DemoSinks:
    """Start the SMTP + webhook sink process; returns when its HTTP port answers."""
    sinks = DemoSinks(smtp_port=free_port(), webhook_port=free_port())
    mail_dir, webhook_dir = data_dir / "mail", data_dir / "webhooks"
    child = spawn(
        "notification-sinks",
        [sys.executable, "-m", "platforms.local.smtp_sink", "--mail-dir", str(mail_dir), "--webhook-dir",
         str(webhook_dir), "--smtp-port", str(sinks.smtp_port), "--http-port", str(sinks.webhook_port)],
        data_dir / "logs" / "notification-sinks.log",
    )  # fmt: skip
    children.append(child)
    record.update(
        smtp_port=sinks.smtp_port,
        webhook_url=f"http://127.0.0.1:{sinks.webhook_port}/alerts",
        mail_dir=str(mail_dir),
        webhook_dir=str(webhook_dir),
    )
    _wait_http(child, f"http://127.0.0.1:{sinks.webhook_port}/", 30.0)
    return sinks


def _print_banner(record: dict[str, Any], names: list[str], data_dir: Path) -> None:
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
    typer.echo("\n".join(lines))


# -- paramedic demo fault -----------------------------------------------------------------------------------


@app.command("fault")
def fault(  # noqa: PLR0917 -- typer options
    app_name: str = typer.Option(..., "--app", help="App to break (see demo.json)."),
    kind: str = typer.Option(..., "--kind", help=f"One of: {', '.join(KINDS)}."),
    instance: int | None = typer.Option(None, "--instance", help="Instance index; default: every instance."),
    for_s: float | None = typer.Option(None, "--for-s", min=0.001, help="Recover after this many seconds."),
    rate: float | None = typer.Option(None, "--rate", help="errors: fraction of 5xx; leak: MiB per second."),
    delay_ms: int | None = typer.Option(None, "--delay-ms", min=0, help="latency: added delay."),
    data_dir: Path = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help="Data dir of the running demo."),
) -> None:
    """Inject a fault directly into a running demo's app instance(s)."""
    data_dir = data_dir.resolve()
    record = read_demo_record(data_dir)
    if record is None or not process_alive(ProcessRecord.from_json(record["demo"])):
        typer.echo(
            f"paramedic demo fault: no demo is running for {data_dir} (start one: paramedic demo)", err=True
        )
        raise typer.Exit(1)
    if kind not in KINDS:
        typer.echo(
            f"paramedic demo fault: --kind must be one of: {', '.join(KINDS)} (got {kind!r})", err=True
        )
        raise typer.Exit(2)
    paths = StateDir(Path(record["state_dir"]))
    try:
        results = inject_fault(paths, app_name, kind, instance, for_s=for_s, rate=rate, delay_ms=delay_ms)
    except LocalPlatformError as exc:
        typer.echo(f"paramedic demo fault: {exc}", err=True)
        raise typer.Exit(1) from None
    until = f"for {for_s:g}s" if for_s is not None else "until the instance is restarted"
    for res in results:
        typer.echo(
            f"injected {kind} into {res.app} instance {res.index} ({res.url}) {until}: "
            f"{res.reply['injected']}"
        )


@app.command("deploy")
def deploy(  # noqa: PLR0917 -- typer options
    app_name: str = typer.Option(..., "--app", help="App to deploy a new revision of."),
    version: str = typer.Option(..., "--version", help="The new revision's app version, e.g. 2.0.0."),
    bad: str | None = typer.Option(None, "--bad", help="Bake a fault into the release: errors or latency."),
    steps: str | None = typer.Option(None, "--steps", help="Traffic steps in percent, e.g. 10,50,100."),
    step_duration_s: float | None = typer.Option(None, "--step-duration-s", min=1, help="Time per step."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Follow the deployment to its end."),
    data_dir: Path = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help="Data dir of the running demo."),
) -> None:
    """Deploy a new revision of an app blue-green, judged on error rate and latency at each traffic step
    and rolled back automatically when it is worse than the live one."""
    data_dir = data_dir.resolve()
    record = read_demo_record(data_dir)
    if record is None or not process_alive(ProcessRecord.from_json(record["demo"])):
        typer.echo(
            f"paramedic demo deploy: no demo is running for {data_dir} (start one: paramedic demo)", err=True
        )
        raise typer.Exit(1)
    try:
        step_list = [int(x) for x in steps.split(",")] if steps else None
    except ValueError:
        typer.echo(f"paramedic demo deploy: --steps must be numbers like 10,50,100 (got {steps!r})", err=True)
        raise typer.Exit(2) from None
    code = demo_remediation.deploy(
        record,
        data_dir,
        app_name,
        version,
        bad=bad,
        steps=step_list,
        step_duration_s=step_duration_s,
        wait=wait,
    )
    raise typer.Exit(code)


# -- paramedic demo mail ------------------------------------------------------------------------------------


@app.command("mail")
def mail(
    data_dir: Path = typer.Option(DEFAULT_DATA_DIR, "--data-dir", help="Data dir of the demo."),
) -> None:
    """List the mails the demo's SMTP sink received (newest last), with the file to open."""
    mail_dir = data_dir.resolve() / "mail"
    mails = list_mails(mail_dir) if mail_dir.is_dir() else []
    if not mails:
        typer.echo(f"no mail in {mail_dir} yet (try: paramedic demo fault --kind errors --app <app>)")
        return
    for path, msg in mails:
        parts = [p.get_content_type() for p in msg.walk() if not p.is_multipart()]
        typer.echo(f"{msg['Date']}  {msg['To']}  {msg['Subject']}")
        typer.echo(f"    {path}  ({', '.join(parts)})")
