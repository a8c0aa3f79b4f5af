"""Start and stop real servers for tests: free loopback ports, processes stopped by PID, readiness polling.

Never sleep a fixed time: poll with a deadline (``wait_until``) and fail loudly with the server's log tail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal

import httpx
import uvicorn
from starlette.types import ASGIApp

from platforms.local.state import free_port

__all__ = [
    "ManagedProcess",
    "closed_by_peer",
    "free_port",
    "load_factor",
    "require_binary",
    "served_in_thread",
    "wait_http",
    "wait_start",
    "wait_until",
]


def require_binary(name: str) -> str:
    """Path of ``name``; fails (never skips) when it is missing, naming the install step."""
    path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if path is None:
        raise RuntimeError(f"{name} is not installed: run scripts/install.sh (it installs the apt packages)")
    return path


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")


MAX_LOAD_FACTOR = 4.0  # a 60 s start deadline then ends (240 s) before pytest-timeout (300 s) would


def load_factor() -> float:
    """How many times longer a CPU-bound start takes now than on an idle machine, roughly: the 1-minute load
    average per core, at least 1, at most ``MAX_LOAD_FACTOR``."""
    return min(MAX_LOAD_FACTOR, max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1)))


def wait_start(predicate: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05) -> None:
    """``wait_until`` for a process start: ``timeout_s`` is the deadline on an idle machine, stretched by
    :func:`load_factor` (re-read while waiting) on a loaded one, where a start that needs seconds of CPU
    gets a fraction of a core. On an idle machine it fails exactly when ``wait_until`` would."""
    started = time.monotonic()
    while True:
        if predicate():
            return
        elapsed = time.monotonic() - started
        if elapsed >= timeout_s * load_factor():
            raise TimeoutError(
                f"timed out after {elapsed:.0f}s waiting for {what} ({timeout_s:.0f}s on an idle machine, "
                f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
            )
        time.sleep(interval_s)


def wait_http(url: str, timeout_s: float = 20.0, proc: ManagedProcess | None = None) -> None:
    """Polls until ``url`` answers below 500 (a server start: the deadline is :func:`wait_start`'s)."""

    def ok() -> bool:
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.log_tail()}")
        try:
            return httpx.get(url, timeout=1.0).status_code < 500
        except httpx.HTTPError:
            return False

    try:
        wait_start(ok, timeout_s, f"{url} to answer")
    except TimeoutError as exc:
        if proc is None:
            raise
        # A server that never became ready is stopped here, so a caller that had not yet entered its
        # try/finally cannot leave it running (and loading the machine) for the rest of the suite.
        proc.stop()
        raise TimeoutError(f"{exc}; {proc.name} was stopped, its log tail:\n{proc.log_tail()}") from exc


class ManagedProcess:
    """A child process in its own session, logging to ``log_path``; ``stop`` kills its whole group."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("ab")
        self.popen = subprocess.Popen(
            list(argv),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout_s)
        self._log.close()

    def kill9(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)


@contextlib.contextmanager
def running(
    name: str, argv: Sequence[str], log_path: Path, ready_url: str | None = None, timeout_s: float = 20.0
) -> Iterator[ManagedProcess]:
    proc = ManagedProcess(name, argv, log_path)
    try:
        if ready_url is not None:
            wait_http(ready_url, timeout_s, proc)
        yield proc
    finally:
        proc.stop()


def closed_by_peer(sock: socket.socket, timeout_s: float) -> bool:
    """True once the peer closed ``sock`` (EOF or reset) within ``timeout_s``; False if it is still open."""
    sock.settimeout(timeout_s)
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


@contextlib.contextmanager
def served_in_thread(
    app: ASGIApp,
    *,
    lifespan: Literal["auto", "on", "off"] = "auto",
    timeout_s: float = 10.0,
    name: str = "test-server",
) -> Iterator[str]:
    """``app`` on a real uvicorn on loopback in a daemon thread (streams and browsers need a real server);
    yields its base URL and stops it on exit."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, timeout_s, f"{name} started")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
