"""Run ``paramedic demo`` for a test module: free ports everywhere, ready when ``paramedic serve`` answers,
stopped by PID (SIGTERM to the demo, which stops everything it started)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from platforms.local.processes import children_by_parent, pid_start_time
from tests.support.servers import ManagedProcess, free_port, require_binary, wait_start

__all__ = ["Demo", "descendants", "paramedic_cli", "processes_mentioning", "running_demo"]


def paramedic_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "paramedic.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass
class Demo:
    proc: ManagedProcess
    data_dir: Path
    api: str

    def record(self) -> dict[str, Any]:
        return dict(json.loads((self.data_dir / "demo.json").read_text()))

    @property
    def admin_token(self) -> str:
        """The admin API token ``paramedic demo`` wrote to ``<data-dir>/admin-token``."""
        return (self.data_dir / "admin-token").read_text(encoding="utf-8").strip()

    @property
    def admin_credentials(self) -> tuple[str, str]:
        """(user, password) of the web UI admin, from ``<data-dir>/admin-credentials``."""
        user, _, password = (
            (self.data_dir / "admin-credentials").read_text(encoding="utf-8").strip().partition(":")
        )
        return user, password

    @property
    def space_credentials(self) -> tuple[str, str]:
        """(user, password) of the demo's space-scoped web UI user (``team-a``; ``dev-acme-prod`` on Cloud
        Foundry), from ``<data-dir>/space-credentials``."""
        user, _, password = (
            (self.data_dir / "space-credentials").read_text(encoding="utf-8").strip().partition(":")
        )
        return user, password

    @property
    def auth_headers(self) -> dict[str, str]:
        """Headers for state-changing requests to the demo's API."""
        return {"Authorization": f"Bearer {self.admin_token}"}

    @property
    def amtool_config(self) -> Path:
        """An amtool ``--http.config.file`` carrying the admin token."""
        return self.data_dir / "amtool.yml"


@contextlib.contextmanager
def running_demo(
    data_dir: Path,
    *,
    scrape_interval_s: float = 1.0,
    apps: int = 2,
    instances: int = 2,
    platform: str = "local",
    start_timeout_s: float = 60.0,
    extra_args: Sequence[str] = (),
) -> Iterator[Demo]:
    for binary in ("haproxy", "prometheus-node-exporter", "rsyslogd"):
        require_binary(binary)
    port = free_port()
    options = {
        "--data-dir": str(data_dir),
        "--http-port": str(port),
        "--apps": str(apps),
        "--instances": str(instances),
        "--scrape-interval-s": str(scrape_interval_s),
        "--relp-port": str(free_port()),
        "--syslog-port": str(free_port()),
        "--platform": platform,
    }
    flags = [x for pair in options.items() for x in pair]
    argv = [sys.executable, "-m", "paramedic.cli", "demo", *flags, *extra_args]
    proc = ManagedProcess("paramedic-demo", argv, data_dir.parent / f"{data_dir.name}.log")
    api = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"demo exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        try:
            return "api_url" in json.loads((data_dir / "demo.json").read_text()) and (
                httpx.get(f"{api}/-/ready", timeout=1).status_code == 200
            )
        except (OSError, ValueError, httpx.HTTPError):
            return False

    try:
        wait_start(ready, start_timeout_s, "the demo to start paramedic serve")
        yield Demo(proc, data_dir, api)
    finally:
        proc.stop(30)


def descendants(pid: int) -> set[tuple[int, int]]:
    """(pid, start time) of every live descendant of ``pid``."""
    tree, out, todo = children_by_parent(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            start = pid_start_time(child)
            if start is not None:
                out.add((child, start))
                todo.append(child)
    return out


def processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline and pid_start_time(int(entry.name)) is not None:
                found.append(f"{entry.name}: {cmdline}")
    return found
