"""``paramedic serve`` stops promptly on SIGTERM while a browser holds a live tail open.

uvicorn waits for open connections before the lifespan shutdown runs, and a live tail only ends with its
client: the server used to sit in "Waiting for connections to close" until it was SIGKILLed. The stop signal
now ends every live tail first (an ``event: shutdown`` to the client), so the process exits well inside its
graceful-shutdown window (set to 60 s here, so only the tail ending can explain a quick exit).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from paramedic.auth import TokenStore
from tests.support.servers import ManagedProcess, free_port, wait_http, wait_until

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def test_sigterm_ends_open_live_tails_and_exits(tmp_path: Path) -> None:
    http_port, tcp_port, relp_port = free_port(), free_port(), free_port()
    (tmp_path / "data").mkdir()
    token = TokenStore(tmp_path / "data" / "tokens.json").create("tail-reader", "viewer")
    cfg = tmp_path / "paramedic.yaml"
    cfg.write_text(
        f"server: {{listen_port: {http_port}, shutdown_grace_s: 60,"
        " auth: {tokens_file: data/tokens.json}}\n"
        "metrics_store: {type: embedded, path: data/metrics}\n"
        "logs:\n"
        f"  relp: {{port: {relp_port}}}\n"
        f"  syslog_tcp: {{port: {tcp_port}}}\n"
        "  syslog_udp: null\n"
        "  spool: {path: data/logs/spool}\n"
        "  search: {type: embedded, path: data/logs/search}\n"
    )
    proc = ManagedProcess(
        "paramedic-shutdown",
        [sys.executable, "-m", "paramedic.cli", "serve", "--config", str(cfg)],
        tmp_path / "paramedic.log",
        cwd=REPO,
    )
    url = f"http://127.0.0.1:{http_port}"
    received: list[bytes] = []
    connected = threading.Event()

    def tail() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.stream("GET", f"{url}/api/v1/logs/tail", headers=headers, timeout=90) as resp:
            for chunk in resp.iter_bytes():
                received.append(chunk)
                connected.set()

    try:
        wait_http(f"{url}/-/ready", 60, proc)
        reader = threading.Thread(target=tail, daemon=True)
        reader.start()
        wait_until(connected.is_set, 20, "the live tail to connect")
        started = time.monotonic()
        proc.popen.send_signal(signal.SIGTERM)
        try:
            proc.popen.wait(30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"serve still running 30 s after SIGTERM with a live tail open:\n{proc.log_tail()}")
        took = time.monotonic() - started
        reader.join(10)
        # uvicorn re-raises the stop signal once it has shut down cleanly
        assert proc.popen.returncode in {0, -signal.SIGTERM}, proc.log_tail()
        assert "paramedic stopped" in proc.log_tail()
        assert b"event: shutdown" in b"".join(received)
        assert took < 30  # the 60 s grace window was not what ended it
    finally:
        proc.stop(5)
