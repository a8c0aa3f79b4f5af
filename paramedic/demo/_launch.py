"""What the local and the Cloud Foundry demo share: one start's children and demo.json, the load generator,
the notification sinks, paramedic.yaml (checked before it is written), the admin token and user,
``paramedic serve``, watching the children, and stopping them in the reverse order."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from paramedic.config import parse_config
from paramedic.demo._config import DemoSinks
from paramedic.demo._credentials import SpaceLogin, admin_token, admin_user, space_user
from paramedic.demo._output import Echo
from paramedic.demo._ports import wait_http
from paramedic.demo._record import write_record
from platforms.local.processes import ChildProcess, ProcessRecord, pid_start_time, spawn
from platforms.local.state import free_port

__all__ = ["LOAD_RPS", "Launch", "StopRequestedError", "on_signal", "serve_env"]

LOAD_RPS = 15.0


def serve_env() -> dict[str, str]:
    """The environment ``paramedic serve`` is started with on top of ours: at most two glibc malloc arenas.

    Plain targets are fetched in the scrape pool's threads, and glibc gives each thread that allocates an
    arena of its own (up to 8 per core) that keeps the response bodies it freed: memory per active series
    ~1.25 KB against ~0.84 KB on main (``bench/ingest_rss.py --nofold``), ~0.76-0.92 KB with two arenas
    (bench/README, stop 35). Set in the environment, not by ``mallopt`` in the process: arenas are taken by
    the first threads (the store's, the libraries'), before any code of ours could run. An operator's own
    ``MALLOC_ARENA_MAX`` wins."""
    return {"MALLOC_ARENA_MAX": os.environ.get("MALLOC_ARENA_MAX", "2")}


class StopRequestedError(Exception):
    """Raised by the SIGINT/SIGTERM handler to unwind into the shutdown path."""


def on_signal(_sig: int, _frame: FrameType | None) -> None:
    raise StopRequestedError


class Launch:
    """One start of a demo: the processes started so far and demo.json, rewritten after each start.
    Subclasses add their platform (:meth:`platform_records`, :meth:`stop_platform`)."""

    def __init__(self, data_dir: Path, echo: Echo) -> None:
        self.data_dir = data_dir
        self.echo = echo
        self.children: list[ChildProcess] = []
        self.record: dict[str, Any] = {}
        self.stop_timeouts_s: dict[str, float] = {}  # per child name; default 15 s, then SIGKILL
        self.may_exit: set[str] = set()  # children whose exit is reported but does not end the demo

    # -- hooks ---------------------------------------------------------------------------------------------

    def platform_records(self) -> list[ProcessRecord]:
        """The platform's processes not in :attr:`children` (recorded in demo.json first)."""
        return []

    def stop_platform(self) -> None:
        """Stop what :meth:`platform_records` names; called after every child has stopped."""

    # -- shared steps --------------------------------------------------------------------------------------

    def begin(self, **fields: Any) -> None:
        """Record the demo process itself (and ``fields``) before anything starts."""
        me = ProcessRecord("demo", os.getpid(), pid_start_time(os.getpid()), tuple(sys.argv))
        self.record.update(demo=me.to_json(), data_dir=str(self.data_dir), **fields)
        self.save()

    def save(self) -> None:
        procs = [*self.platform_records(), *(c.record for c in self.children)]
        self.record["processes"] = [p.to_json() for p in procs]
        write_record(self.data_dir, self.record)

    def start_loadgen(self, router_port: int, names: list[str], extra: Sequence[str] = ()) -> None:
        """The load generator; ``extra``: more of its options (the daily pattern of one app)."""
        loadgen = spawn(
            "loadgen",
            [sys.executable, "-m", "platforms.local.loadgen", "--router", f"127.0.0.1:{router_port}",
             "--apps", ",".join(names), "--rps", str(LOAD_RPS), *extra],
            self.data_dir / "logs" / "loadgen.log",
        )  # fmt: skip
        self.children.append(loadgen)
        self.save()

    def start_sinks(self) -> DemoSinks:
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
        self.save()
        return sinks

    def write_config(self, cfg: dict[str, Any], header: str) -> Path:
        """Write ``cfg`` to ``<data-dir>/paramedic.yaml``, checked first (file:line errors here, not in the
        child)."""
        text = f"# {header}\n" + yaml.safe_dump(cfg, sort_keys=False)
        config_path = self.data_dir / "paramedic.yaml"
        parse_config(text, str(config_path))
        config_path.write_text(text, encoding="utf-8")
        return config_path

    def write_credentials(self, space: SpaceLogin) -> None:
        """The admin token and user, and the web UI user of the one space ``space``."""
        data_dir = self.data_dir
        token_file = admin_token(data_dir)
        self.record.update(admin_token_file=str(token_file), amtool_config=str(data_dir / "amtool.yml"))
        self.echo(f"admin API token written to {token_file} (mode 0600)")
        ui_password, credentials_file = admin_user(data_dir)
        self.record.update(admin_credentials_file=str(credentials_file))
        self.echo(f"web UI login: user admin, password {ui_password} (also in {credentials_file}, mode 0600)")
        space_password, space_file = space_user(data_dir, space)
        self.record.update(
            space_credentials_file=str(space_file), space_user=space.name, space_tenant=space.tenant
        )
        self.echo(
            f"web UI login of space {space.tenant} only: user {space.name}, password {space_password} "
            f"(also in {space_file}, mode 0600)"
        )

    def start_paramedic(self, http_port: int, config_path: Path) -> None:
        api = f"http://127.0.0.1:{http_port}"
        serve = spawn(
            "paramedic",
            [sys.executable, "-m", "paramedic.cli", "serve", "--config", str(config_path)],
            self.data_dir / "logs" / "paramedic.log",
            env=serve_env(),
        )
        self.children.append(serve)
        self.record.update(api_url=api, config=str(config_path))
        self.save()
        wait_http(serve, f"{api}/-/ready", 60.0)

    def watch(self) -> int:
        """Until a child exits (then 1, with its log tail) or a signal unwinds. A child in :attr:`may_exit`
        (a replica: the others carry on) is reported once; when all of them have exited, the demo ends."""
        reported: set[str] = set()
        while True:
            for child in self.children:
                if child.name in self.may_exit and child.name not in reported and not child.alive():
                    reported.add(child.name)
                    self.echo(
                        f"{child.name} exited with {child.popen.returncode}; the others carry on", err=True
                    )
                    if reported >= self.may_exit:
                        return 1
                    continue
                if child.name not in self.may_exit and not child.alive():
                    self.echo(
                        f"{child.name} exited with {child.popen.returncode}:\n{child.log_tail()}", err=True
                    )
                    return 1
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop every child in the reverse start order, then the platform."""
        for child in reversed(self.children):
            child.stop(self.stop_timeouts_s.get(child.name, 15.0))
        self.stop_platform()
