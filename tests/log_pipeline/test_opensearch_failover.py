"""SIGKILL one node of the live 3-node OpenSearch cluster while lines flow RELP -> spool -> pipeline -> store:
every line the RELP receiver acknowledged is searchable afterwards, once (ids derive from the spool seq, so a
batch the consumer retried after the kill upserts rather than duplicates).

The store writes daily indices with 3 shards and 1 replica: the killed node held primaries (the index
green, every replica started), which the cluster promotes from their replicas; a bulk request caught by the
kill fails or is retried by the client on another node, and a batch the store could not write stays in the
spool until it can (backpressure).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from log_pipeline.model import LogRecord
from log_pipeline.pipeline import PipelineMetrics, Stage, build_pipeline
from log_pipeline.receivers import SpoolConsumer
from log_pipeline.search.es_store import ElasticsearchStore
from log_pipeline.search.opensearch_cluster import OpenSearchCluster, OpenSearchNode
from log_pipeline.syslog import SyslogParser
from tests.log_pipeline.conftest import opensearch_store
from tests.log_pipeline.receivers_harness import Harness, port0_config, spool_at
from tests.support.servers import wait_until

pytestmark = pytest.mark.opensearch

LINES = 3000
WINDOW = 50  # RELP frames in flight before the sender waits for their acks
KILL_AFTER = 1000  # acknowledged lines before one node is SIGKILLed


def _frame(txnr: int, cmd: bytes, data: bytes = b"") -> bytes:
    return b"%d %s %d %s\n" % (txnr, cmd, len(data), data) if data else b"%d %s 0\n" % (txnr, cmd)


def _line(i: int) -> bytes:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    return f"<14>1 {stamp}.000000Z cell-1 loadgen - - - failover line {i:06d}".encode()


class RelpSender:
    """Sends ``LINES`` syslog frames in windows and records the numbers of the lines the server acked."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(60)
        self.acked: list[int] = []
        self._buf = b""
        self.sock.sendall(_frame(1, b"open", b"relp_version=0\nrelp_software=test,1\ncommands=syslog"))
        self._fill(b"commands=syslog\n")  # the open's answer spans lines
        self._buf = self._buf.split(b"commands=syslog\n", 1)[1]

    def _fill(self, until: bytes) -> None:
        while until not in self._buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("RELP server closed the session")
            self._buf += chunk

    def _read_rsp(self) -> int:
        self._fill(b"\n")
        line, self._buf = self._buf.split(b"\n", 1)
        txnr, cmd, rest = line.split(b" ", 2)
        assert cmd == b"rsp" and rest == b"6 200 OK", line
        return int(txnr)

    def send(self, numbers: range) -> None:
        self.sock.sendall(b"".join(_frame(i + 2, b"syslog", _line(i)) for i in numbers))
        for _ in numbers:
            self.acked.append(self._read_rsp() - 2)


@pytest.fixture
def pipeline(
    tmp_path: Path, live_opensearch: OpenSearchCluster
) -> Iterator[tuple[Harness, ElasticsearchStore]]:
    store = opensearch_store(live_opensearch, "failover-logs", shards=3, replicas=1, max_retries=3)
    receivers = Harness(port0_config(), spool_at(tmp_path / "spool"))
    metrics = CollectorRegistry()
    process = build_pipeline(
        SyslogParser(registry=CollectorRegistry()),
        [Stage("store", "sink", store.write)],
        metrics=PipelineMetrics(metrics),
    )
    consumer = SpoolConsumer(receivers.spool, process, batch_messages=200, retry_backoff_s=0.2)
    consumer.start()
    try:
        yield receivers, store
    finally:
        consumer.stop()
        failed = sum(
            s.value
            for m in metrics.collect()
            for s in m.samples
            if s.name == "paramedic_log_pipeline_errors_total" and s.labels.get("stage") == "store"
        )
        print(f"\nbatches the store failed during the kill (retried from the spool): {failed:.0f}")
        receivers.close()
        store.close()


def _primary_holder(cluster: OpenSearchCluster) -> OpenSearchNode | None:
    """A node holding a started primary shard of the test's index (None before the index exists)."""
    rows = httpx.get(f"{cluster.live_urls[0]}/_cat/shards/failover-logs-*?format=json", timeout=10).json()
    names = {row["node"] for row in rows if row.get("prirep") == "p" and row.get("state") == "STARTED"}
    return next((n for n in cluster.nodes if n.name in names), None)


def _wait_green(cluster: OpenSearchCluster) -> None:
    """Every replica of the index started: a node killed before its replicas finished their first recovery
    takes the only copy of a shard with it (the index is red and writes wait, in the spool, until it returns:
    nothing acknowledged is lost, but nothing is written either — not the failover this test is about)."""
    url = f"{cluster.live_urls[0]}/_cluster/health/failover-logs-*"
    resp = httpx.get(url, params={"wait_for_status": "green", "timeout": "60s"}, timeout=70)
    assert resp.json()["status"] == "green", resp.text


def _all_messages(store: ElasticsearchStore) -> list[LogRecord]:
    out: list[LogRecord] = []
    cursor = None
    while True:
        page = store.search("failover", None, None, 1000, cursor)
        out += page.hits
        cursor = page.next_cursor
        if cursor is None:
            return out


def test_sigkill_one_node_mid_stream_loses_no_acknowledged_line(
    pipeline: tuple[Harness, ElasticsearchStore], live_opensearch: OpenSearchCluster
) -> None:
    receivers, store = pipeline
    victim: OpenSearchNode | None = None
    sender = RelpSender(receivers.receivers.ports["relp"])
    try:
        for start in range(0, LINES, WINDOW):
            sender.send(range(start, min(start + WINDOW, LINES)))
            if len(sender.acked) >= KILL_AFTER and victim is None:
                wait_until(lambda: _primary_holder(live_opensearch) is not None, 30, "the index's primaries")
                _wait_green(live_opensearch)
                victim = _primary_holder(live_opensearch)
                assert victim is not None
                victim.kill9()  # SIGKILL of a node holding primaries: no shutdown, no flush
        assert victim is not None and not victim.alive
        assert sorted(sender.acked) == list(range(LINES))
        spool = receivers.spool
        wait_until(lambda: spool.committed_seq >= spool.last_seq, 120, "the pipeline to drain the spool")
        found = _all_messages(store)
        numbers = sorted(int(r.message.rsplit(" ", 1)[1]) for r in found)
        assert numbers == sorted(sender.acked)  # every acknowledged line, once
        assert store.search("failover", None, None, 1).total == LINES
    finally:
        sender.sock.close()
        if victim is not None and not victim.alive:  # leave the session's cluster whole for the other tests
            victim.restart()
            live_opensearch.wait_healthy(3, 180)
