"""The test harness's own guarantees: a server that never becomes ready is stopped, not leaked."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import servers
from tests.support.servers import ManagedProcess, free_port, wait_http, wait_start, wait_until


def test_wait_http_stops_a_server_that_never_becomes_ready(tmp_path: Path) -> None:
    # A child that keeps running but never listens: the port is free and nothing binds it.
    port = free_port()
    proc = ManagedProcess(
        "never-ready", [sys.executable, "-c", "import time\nwhile True: time.sleep(1)"], tmp_path / "log"
    )
    with pytest.raises(TimeoutError, match="never-ready was stopped"):
        wait_http(f"http://127.0.0.1:{port}/", 1.0, proc)
    assert proc.popen.poll() is not None, "the never-ready child was left running"
    with socket.socket() as sock:  # the port is still free: nothing answered there
        sock.bind(("127.0.0.1", port))


def test_wait_http_reports_a_server_that_exited(tmp_path: Path) -> None:
    proc = ManagedProcess(
        "exits", [sys.executable, "-c", "print('bad config: key x'); raise SystemExit(3)"], tmp_path / "log"
    )
    with pytest.raises(RuntimeError, match=r"exits exited with 3[\s\S]*bad config: key x"):
        wait_http(f"http://127.0.0.1:{free_port()}/", 10.0, proc)
    proc.stop()


def _load(monkeypatch: pytest.MonkeyPatch, per_core: float) -> None:
    cores = os.cpu_count() or 1
    monkeypatch.setattr(os, "getloadavg", lambda: (per_core * cores, 0.0, 0.0))


def _ready_after(seconds: float) -> Callable[[], bool]:
    started = time.monotonic()
    return lambda: time.monotonic() - started >= seconds


def test_a_start_deadline_is_stretched_by_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """A start that takes 0.5 s against a 0.2 s deadline: too slow for ``wait_until``, in time for
    ``wait_start`` at a load of 3 per core (0.6 s)."""
    _load(monkeypatch, 3.0)
    with pytest.raises(TimeoutError):
        wait_until(_ready_after(0.5), 0.2, "a slow start")
    wait_start(_ready_after(0.5), 0.2, "a slow start")


@pytest.mark.parametrize(("per_core", "factor"), [(0.1, 1.0), (1.0, 1.0), (100.0, servers.MAX_LOAD_FACTOR)])
def test_a_start_deadline_is_the_idle_one_at_low_load_and_capped(
    monkeypatch: pytest.MonkeyPatch, per_core: float, factor: float
) -> None:
    _load(monkeypatch, per_core)
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"0s on an idle machine"):
        wait_start(lambda: False, 0.1, "a start that never comes")
    elapsed = time.monotonic() - started
    assert 0.1 * factor <= elapsed < 0.1 * factor + 5.0  # late only by the scheduler, never by more load
