"""``paramedic demo``: start the platform (the local one, or with ``--platform cloudfoundry`` the simulated
foundation of :mod:`._run_cf`), the load generator, the notification sinks and ``paramedic serve`` (in that
order), print where to look, watch them, and stop them in the reverse order."""

from __future__ import annotations

import os
import signal
import stat
import sys
from pathlib import Path
from typing import Any

import yaml

from paramedic.config import ConfigError, parse_config
from paramedic.demo._banner import service_lines
from paramedic.demo._config import demo_config, demo_spaces
from paramedic.demo._credentials import local_space_login
from paramedic.demo._daily import DAY_S, POLICY_NAME, daily_load
from paramedic.demo._launch import LOAD_RPS, Launch, StopRequestedError, on_signal, serve_env
from paramedic.demo._log_store import STOP_TIMEOUT_S, opensearch_search, start_log_store
from paramedic.demo._options import DEFAULT_DATA_DIR, PLATFORMS, DemoOptions, data_dir_flag
from paramedic.demo._output import DemoError, Echo
from paramedic.demo._ports import busy_port, wait_http, wait_tcp
from paramedic.demo._record import check_not_running, record_path
from paramedic.demo._replicas import (
    leader_of,
    replica_config,
    replica_plans,
    start_etcd,
    start_front,
    start_store,
)
from paramedic.demo._run_cf import CFLaunch
from platforms.local import LocalPlatformError, LocalPlatformRunner
from platforms.local.processes import ProcessRecord, spawn
from platforms.local.state import PlatformState, reserve_ports

__all__ = ["APP_NAMES", "DEFAULT_DATA_DIR", "LOAD_RPS", "PLATFORMS", "DemoOptions", "run_demo"]

APP_NAMES = ("checkout", "catalog", "inventory", "payments", "search", "profile")


def run_demo(data_dir: Path, opts: DemoOptions, echo: Echo) -> int:
    """Run the demo for ``data_dir`` until SIGINT/SIGTERM or a child exits; returns the exit code. Whatever
    happens, every process it started has exited when this returns."""
    data_dir = data_dir.resolve()
    try:
        _private_dir(data_dir)
    except DemoError as exc:
        echo(f"paramedic demo: {exc}", err=True)
        return 1
    try:
        check_not_running(data_dir, echo)
    except DemoError as exc:
        echo(str(exc), err=True)
        return 1
    cf = opts.platform == "cloudfoundry"
    busy = busy_port(opts.http_port, None if cf else opts.relp_port, opts.syslog_port, syslog_udp=not cf)
    if busy is not None:
        echo(f"paramedic demo: {busy}", err=True)
        return 1
    reserve_ports(opts.http_port, opts.relp_port, opts.syslog_port)  # bound last: never picked meanwhile
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    launch: _LocalLaunch | CFLaunch = CFLaunch(data_dir, echo) if cf else _LocalLaunch(data_dir, echo, opts)
    exit_code = 0
    previous_umask = os.umask(0o077)  # every file the demo and its children create: the user's alone
    try:
        exit_code = launch.run(opts)
    except StopRequestedError:
        echo("\nstopping the demo ...")
    except (LocalPlatformError, RuntimeError, ConfigError, DemoError) as exc:
        echo(f"paramedic demo: {exc}", err=True)
        exit_code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the cleanup
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            launch.stop()
            record_path(data_dir).unlink(missing_ok=True)
        finally:
            os.umask(previous_umask)
        echo("demo stopped: every process it started has exited")
    return exit_code


def _private_dir(data_dir: Path) -> None:
    """Make ``data_dir`` the user's alone (0700): its mail holds signed approval links, its logs the apps'
    output. A folder the demo creates is made so; an existing one only if it is the user's own and not a
    shared folder (sticky bit, as /tmp), which is refused rather than changed for everyone."""
    if not data_dir.exists():
        data_dir.mkdir(parents=True, mode=0o700)
        data_dir.chmod(0o700)  # mkdir's mode is masked by the umask
        return
    st = data_dir.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise DemoError(f"--data-dir {data_dir} is not a folder")
    if st.st_uid != os.getuid() or st.st_mode & stat.S_ISVTX:
        raise DemoError(
            f"--data-dir {data_dir} is shared (owner uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):o}): "
            "the demo keeps approval links and logs there, so give it a folder of your own"
        )
    data_dir.chmod(0o700)


class _LocalLaunch(Launch):
    """The local demo: its platform's processes (rsyslog, supervisord, HAProxy, node exporter) are the
    runner's."""

    def __init__(self, data_dir: Path, echo: Echo, opts: DemoOptions) -> None:
        super().__init__(data_dir, echo)
        self.runner = LocalPlatformRunner(data_dir / "platform", relp_target=("127.0.0.1", opts.relp_port))

    def platform_records(self) -> list[ProcessRecord]:
        return self.runner.records()

    def stop_platform(self) -> None:
        self.runner.stop()

    def run(self, opts: DemoOptions) -> int:
        """Start everything, print where to look, then watch the children; returns the exit code."""
        names = list(APP_NAMES[: opts.apps])
        self.begin(
            platform="local", http_port=opts.http_port, relp_port=opts.relp_port, syslog_port=opts.syslog_port
        )
        state = self._start_platform(names, opts.instances)
        daily = daily_load(names, opts.instances) if opts.daily else None
        if daily is not None:
            self.record.update(daily_app=daily.app)
        self.start_loadgen(state.router_port, names, daily.loadgen_args() if daily else ())
        sinks = self.start_sinks()
        cfg = demo_config(
            self.data_dir,
            opts.http_port,
            opts.scrape_interval_s,
            opts.relp_port,
            opts.syslog_port,
            sinks=sinks,
            spaces=demo_spaces(names),
            daily=daily,
        )
        config_path = self.write_config(cfg, "Written by `paramedic demo`; regenerated on every start.")
        self.write_credentials(local_space_login(cfg.get("platform") or {}))
        if opts.replicas > 1:
            self._start_replicas(cfg, opts)
        else:
            self.start_paramedic(opts.http_port, config_path)
        _print_banner(self.record, names, self.data_dir, self.echo)
        return self.watch()

    def _start_replicas(self, base: dict[str, Any], opts: DemoOptions) -> None:
        """etcd, the shared store, ``opts.replicas`` replicas, the log front; records who leads."""
        data_dir = self.data_dir
        etcd, etcd_url = start_etcd(data_dir)
        self.children.append(etcd)
        store, store_url = start_store(data_dir)
        self.children.append(store)
        self.record.update(etcd_url=etcd_url, metrics_store_url=store_url)
        self.save()
        wait_http(etcd, f"{etcd_url}/health", 30.0)
        wait_http(store, f"{store_url}/health", 30.0)
        search = self._start_log_store()
        plans = replica_plans(data_dir, opts.replicas, opts.http_port)
        self.echo(f"starting {len(plans)} Paramedic replicas (etcd {etcd_url}, shared store {store_url}) ...")
        started = []
        for plan in plans:
            cfg = replica_config(base, plan, etcd_url=etcd_url, store_url=store_url, search=search)
            plan.dir.mkdir(parents=True, exist_ok=True)
            path = plan.dir / "paramedic.yaml"
            text = "# Written by `paramedic demo --replicas`; regenerated on every start.\n" + yaml.safe_dump(
                cfg, sort_keys=False
            )
            parse_config(text, str(path))
            path.write_text(text, encoding="utf-8")
            child = spawn(
                f"paramedic-{plan.id}",
                [sys.executable, "-m", "paramedic.cli", "serve", "--config", str(path)],
                data_dir / "logs" / f"paramedic-{plan.id}.log",
                env=serve_env(),
            )
            self.children.append(child)
            self.may_exit.add(child.name)  # kill a replica to watch the others take over
            started.append((plan, child))
        self.record.update(
            api_url=plans[0].api_url,
            config=str(plans[0].dir / "paramedic.yaml"),
            replicas=[p.to_json() for p in plans],
        )
        self.save()
        for plan, child in started:
            wait_http(child, f"{plan.api_url}/-/ready", 90.0)
        front = start_front(data_dir, opts.relp_port, opts.syslog_port, plans)
        self.children.append(front)
        for port in (opts.relp_port, opts.syslog_port):  # senders connect as soon as the demo says it is up
            wait_tcp(front, port, 30.0)
        token = (data_dir / "admin-token").read_text().strip()
        self.record.update(leader=leader_of(plans[0].api_url, token))
        self.save()

    def _start_log_store(self) -> dict[str, Any] | None:
        """The shared OpenSearch log store (its nodes become children); the replicas' ``logs.search``, or
        None when OpenSearch is not built (each replica keeps its own index)."""
        store = start_log_store(self.data_dir, self.echo)
        if store is None:
            self.record.update(log_store="per-replica", opensearch_urls=[])
            return None
        for child in store.children:
            self.children.append(child)
            self.stop_timeouts_s[child.name] = STOP_TIMEOUT_S
        self.record.update(log_store="opensearch", opensearch_urls=store.urls)
        self.save()
        self.echo(f"OpenSearch healthy after {store.started_s:.0f}s: {', '.join(store.urls)}")
        return opensearch_search(store.urls)

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


def _print_banner(record: dict[str, Any], names: list[str], data_dir: Path, echo: Echo) -> None:
    api, router, first = record["api_url"], record["router_url"], names[0]
    dd = data_dir_flag(data_dir)
    lines = [
        "",
        "Paramedic demo is running (Ctrl-C stops everything).",
        f"  Paramedic API      {api}   (targets: {api}/api/v1/targets)",
        f"  router (HAProxy)   {router}   Host: <app>.local  apps: {', '.join(names)}",
        "  spaces (tenancy)   "
        + "; ".join(f"{tenant}: {', '.join(apps)}" for tenant, apps in demo_spaces(names).items()),
        *(
            [
                f"  daily load         {record['daily_app']}: a day every {DAY_S:g}s; policy {POLICY_NAME} "
                f"scales it ahead (timeline: {api}/apps/{record['daily_app']})"
            ]
            if record.get("daily_app")
            else []
        ),
        *_replica_lines(record),
        f"  router metrics     {record['router_metrics_url']}",
        f"  node exporter      {record['node_exporter_url']}",
        f"  log listeners      RELP 127.0.0.1:{record['relp_port']} (from the platform's rsyslog), "
        + (
            f"syslog TCP 127.0.0.1:{record['syslog_port']} (HAProxy TCP front over every replica)"
            if record.get("replicas")
            else f"syslog TCP+UDP 127.0.0.1:{record['syslog_port']}"
        ),
        *service_lines(record, data_dir),
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


def _replica_lines(record: dict[str, Any]) -> list[str]:
    """``--replicas``: every replica's API, who leads, the shared store and etcd."""
    replicas = record.get("replicas") or []
    if not replicas:
        return []
    leader = record.get("leader") or {}
    lines = [
        f"  replica {r['id']:<10} {r['api_url']}"
        + (f"   LEADER (fencing token {leader.get('fencing_token')})" if r["id"] == leader.get("id") else "")
        for r in replicas
    ]
    return [
        *lines,
        f"  cluster status     {replicas[0]['api_url']}/api/v1/status/cluster (admin token)",
        f"  etcd               {record['etcd_url']}   shared metrics store {record['metrics_store_url']}",
        "  log store          "
        + (
            f"OpenSearch {', '.join(record['opensearch_urls'])} (every replica searches every line)"
            if record.get("opensearch_urls")
            else "per-replica indices: OpenSearch not built, a replica searches only the lines it received"
        ),
    ]
