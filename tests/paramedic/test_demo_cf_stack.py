"""paramedic.demo._cf_stack: reading the simulated foundation's credentials line from a real child process -
the line itself, a child that dies first (its log tail, never its stdout), a wrong line (secrets not echoed),
a silent child (timeout), and finding the processes it runs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paramedic.demo import DemoError
from paramedic.demo._cf_stack import descendants, read_credentials
from platforms.local.processes import ChildProcess, ProcessRecord, stop_pid

CREDS = {
    "cc_url": "http://127.0.0.1:1",
    "uaa_url": "http://127.0.0.1:2",
    "log_cache_url": "http://127.0.0.1:3",
    "gorouter_metrics_url": "http://127.0.0.1:4/metrics",
    "users": {"admin": "pw-admin-secret"},
    "clients": {"paramedic": "client-secret"},
}


def _child(tmp_path: Path, code: str) -> ChildProcess:
    log = tmp_path / "child.log"
    argv = [sys.executable, "-c", code]
    with log.open("ab") as out:
        popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=out, start_new_session=True)
    return ChildProcess("fake-stack", popen, argv, log)


def test_reads_the_first_line_as_the_credentials(tmp_path: Path) -> None:
    child = _child(
        tmp_path, f"import sys,time; print({json.dumps(json.dumps(CREDS))}, flush=True); time.sleep(30)"
    )
    try:
        assert read_credentials(child, 20) == CREDS
    finally:
        child.stop()


def test_a_child_that_dies_first_is_reported_with_its_log_tail(tmp_path: Path) -> None:
    child = _child(tmp_path, "import sys; sys.stderr.write('haproxy: cannot bind\\n'); sys.exit(3)")
    with pytest.raises(DemoError, match=r"exited before it was ready \(exit 3\):\nhaproxy: cannot bind"):
        read_credentials(child, 20)


def test_a_line_without_the_urls_is_refused_without_echoing_it(tmp_path: Path) -> None:
    line = json.dumps({"users": {"admin": "pw-admin-secret"}})
    child = _child(tmp_path, f"import time; print({json.dumps(line)}, flush=True); time.sleep(30)")
    try:
        with pytest.raises(DemoError) as err:
            read_credentials(child, 20)
        assert "lacks cc_url, uaa_url, log_cache_url, gorouter_metrics_url, clients" in str(err.value)
        assert "pw-admin-secret" not in str(err.value)
    finally:
        child.stop()


def test_a_silent_child_times_out(tmp_path: Path) -> None:
    child = _child(
        tmp_path, "import sys,time; sys.stderr.write('still starting\\n'); sys.stderr.flush(); time.sleep(30)"
    )
    try:
        started = time.monotonic()
        with pytest.raises(DemoError, match="did not start within 1s"):
            read_credentials(child, 1.0)
        assert time.monotonic() - started < 5
    finally:
        child.stop()


def test_descendants_finds_grandchildren(tmp_path: Path) -> None:
    sleeper = "[sys.executable, '-c', 'import time; time.sleep(30)']"
    code = f"import subprocess, sys, time; subprocess.Popen({sleeper}); time.sleep(30)"
    child = _child(tmp_path, code)
    found: list[ProcessRecord] = []
    try:
        deadline = time.monotonic() + 10
        while not found and time.monotonic() < deadline:
            found = descendants(child.popen.pid)
            time.sleep(0.05)
        assert [r.pid for r in found] != [] and found[0].pid != child.popen.pid
        assert found[0].name.startswith("cf-stack/") and "time.sleep(30)" in " ".join(found[0].argv)
    finally:
        for rec in found:
            stop_pid(rec, timeout_s=5)
        child.stop()
