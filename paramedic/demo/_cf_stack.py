"""The Cloud Foundry demo's foundation as a child process: ``python -m platforms.cf_sim`` started in its own
session, its one JSON line of credentials read from its stdout (never logged: secrets), and the processes
it runs (supervisord, HAProxy, node exporter, app instances) found under it so the demo can record them and
stop any it left behind."""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from paramedic.demo._output import DemoError
from platforms.local.processes import ChildProcess, ProcessRecord, children_by_parent, pid_start_time

__all__ = ["MAX_CREDENTIALS_LINE", "descendants", "read_credentials", "spawn_stack"]

MAX_CREDENTIALS_LINE = 1 << 20  # bytes: the line is a few hundred; anything longer is not ours
_REQUIRED = ("cc_url", "uaa_url", "log_cache_url", "gorouter_metrics_url", "users", "clients")


def spawn_stack(
    root: Path, drain_url: str, instances: int, log_path: Path, redirect_uris: tuple[str, ...] = ()
) -> ChildProcess:
    """Start the simulated foundation in ``root``; stdout is a pipe (the credentials), stderr ``log_path``.
    ``redirect_uris``: Paramedic's UAA log-in callbacks, registered for the ``paramedic-ui`` client."""
    argv = [sys.executable, "-m", "platforms.cf_sim", str(root), "--drain", drain_url,
            "--instances", str(instances)]  # fmt: skip
    for uri in redirect_uris:
        argv += ["--redirect-uri", uri]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, start_new_session=True
        )
    return ChildProcess("cf-stack", popen, argv, log_path)


def _died(child: ChildProcess, what: str) -> DemoError:
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.popen.wait(5.0)
    return DemoError(
        f"the Cloud Foundry simulation {what} (exit {child.popen.returncode}):\n{child.log_tail()}"
    )


def read_credentials(child: ChildProcess, timeout_s: float) -> dict[str, Any]:
    """The stack's JSON line, within ``timeout_s``; :class:`DemoError` with its log tail when it dies first,
    times out or prints something else."""
    stdout = child.popen.stdout
    if stdout is None:
        raise DemoError("the Cloud Foundry simulation has no stdout pipe")
    fd, buf = stdout.fileno(), b""
    deadline = time.monotonic() + timeout_s
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise DemoError(f"the Cloud Foundry simulation did not start within {timeout_s:.0f}s:\n"
                            f"{child.log_tail()}")  # fmt: skip
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            raise _died(child, "exited before it was ready")
        buf += chunk
        if len(buf) > MAX_CREDENTIALS_LINE:
            raise DemoError(
                f"the Cloud Foundry simulation printed over {MAX_CREDENTIALS_LINE} bytes, no line"
            )
    try:
        creds = json.loads(buf.split(b"\n", 1)[0])
    except ValueError:
        creds = None
    missing = [k for k in _REQUIRED if not isinstance(creds, dict) or k not in creds]
    if missing:  # never echo the line itself: it carries secrets
        raise DemoError(f"the Cloud Foundry simulation's first line lacks {', '.join(missing)}")
    assert isinstance(creds, dict)
    return creds


def descendants(pid: int) -> list[ProcessRecord]:
    """Every live descendant of ``pid`` (named after its ``comm``), parents before their children."""
    tree, out, todo = children_by_parent(), [], [pid]
    while todo:
        for child in tree.get(todo.pop(0), []):
            start = pid_start_time(child)
            try:
                comm = Path(f"/proc/{child}/comm").read_text().strip()
                argv = Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue
            if start is not None:
                out.append(ProcessRecord(f"cf-stack/{comm}", child, start, tuple(a for a in argv if a)))
                todo.append(child)
    return out
