"""The test harness's own guarantees: a server that never becomes ready is stopped, not leaked."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from tests.support.servers import ManagedProcess, free_port, wait_http


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
