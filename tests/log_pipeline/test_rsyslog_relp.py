"""Real rsyslog (omrelp) -> Paramedic RELP receiver (a subprocess) -> spool; including kill -9 mid-stream."""

from __future__ import annotations

import json
import re
import socket
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from log_pipeline.spool import dump
from tests.log_pipeline.rsyslog import Rsyslog, feed_lines, relp_forwarder_config
from tests.support.servers import ManagedProcess, free_port, wait_until

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
SEQ = re.compile(rb"seq=(\d+)")


def start_receiver(tmp: Path, relp_port: int, n: int) -> ManagedProcess:
    ports = tmp / f"ports{n}.json"
    proc = ManagedProcess(
        f"receiver{n}",
        [
            sys.executable,
            "-m",
            "tests.log_pipeline.receiver_proc",
            str(tmp / "spool"),
            str(ports),
            "--relp-port",
            str(relp_port),
        ],
        tmp / f"receiver{n}.log",
        cwd=REPO,
    )

    def ready() -> bool:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"receiver exited:\n{proc.log_tail()}")
        return ports.exists() and json.loads(ports.read_text())["relp"] == relp_port

    wait_until(ready, 20, "the receiver to listen")
    return proc


def seqs(spool: Path) -> Counter[int]:
    out: Counter[int] = Counter()
    for _, msg in dump(spool):
        m = SEQ.search(msg.data)
        if m:
            out[int(m.group(1))] += 1
    return out


def test_rsyslog_relp_all_messages_arrive(tmp_path: Path) -> None:
    n = 20_000
    relp_port, in_port = free_port(), free_port()
    receiver = start_receiver(tmp_path, relp_port, 0)
    rs = Rsyslog(
        "fwd", tmp_path / "rsyslog", relp_forwarder_config(tmp_path / "rsyslog", in_port, relp_port, 1024)
    )
    try:
        rs.wait_port(in_port)
        with socket.create_connection(("127.0.0.1", in_port)) as sock:
            feed_lines(sock, 0, n)
        wait_until(lambda: len(seqs(tmp_path / "spool")) >= n, 45, f"{n} messages in the spool", 0.25)
        got = seqs(tmp_path / "spool")
        assert set(got) == set(range(n))
        first = next(iter(dump(tmp_path / "spool")))[1]
        assert first.transport == "relp" and first.data.startswith(b"<14>1 2024-05-01T12:00:00")
        assert first.data.endswith(b"seq=0")
    finally:
        rs.stop()
        receiver.stop()


def test_kill9_mid_stream_loses_nothing(tmp_path: Path) -> None:
    n = 30_000
    relp_port, in_port = free_port(), free_port()
    spool = tmp_path / "spool"
    receiver = start_receiver(tmp_path, relp_port, 0)
    rs = Rsyslog(
        "fwd", tmp_path / "rsyslog", relp_forwarder_config(tmp_path / "rsyslog", in_port, relp_port, 1024)
    )
    done = threading.Event()
    sent = [0]

    def feeder() -> None:
        with socket.create_connection(("127.0.0.1", in_port)) as sock:
            for start in range(0, n, 500):  # about 20k msgs/s, so the kill lands mid-stream
                feed_lines(sock, start, start + 500)
                sent[0] = start + 500
                time.sleep(0.025)
            k = n
            while not done.is_set():  # keep traffic flowing: rsyslog may only reconnect on a new message
                feed_lines(sock, k, k + 1, host="keepalive")
                k += 1
                time.sleep(0.1)

    t0 = time.monotonic()
    thread = threading.Thread(target=feeder, daemon=True)
    try:
        rs.wait_port(in_port)
        thread.start()
        wait_until(lambda: len(seqs(spool)) >= n // 4, 30, "a quarter of the stream", 0.1)
        receiver.kill9()
        killed_at, fed_at_kill = len(seqs(spool)), sent[0]
        receiver = start_receiver(tmp_path, relp_port, 1)
        wait_until(lambda: set(range(n)) <= set(seqs(spool)), 50, "every number after the restart", 0.25)
    finally:
        done.set()
        thread.join(10)
        rs.stop()
        receiver.stop()
    got = seqs(spool)
    missing = set(range(n)) - set(got)
    dups = sum(c - 1 for s, c in got.items() if s < n)
    print(
        f"kill -9 with {killed_at} in spool, {fed_at_kill} fed: {n} numbers, missing {len(missing)}, "
        f"duplicates {dups}, {time.monotonic() - t0:.1f}s"
    )
    assert not missing
