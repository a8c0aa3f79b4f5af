"""Durability of the embedded store: kill -9 of a writer process loses no acknowledged sample; a torn WAL
tail is truncated on open with a warning, never an exception."""

from __future__ import annotations

import logging
import re
import struct
import sys
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from metrics_store.config import EmbeddedStoreConfig
from metrics_store.embedded import EmbeddedStore
from metrics_store.model import Matcher, MatchOp, labels_get
from tests.metrics_store import wal_writer
from tests.support.servers import ManagedProcess, wait_until

REPO = Path(__file__).resolve().parents[2]


def _acks(log: Path) -> list[tuple[int, int]]:
    return [(int(k), int(n)) for k, n in re.findall(r"^ACK (\d+) (\d+)$", log.read_text(), re.M)]


def _open(path: Path, registry: CollectorRegistry | None = None) -> EmbeddedStore:
    cfg = EmbeddedStoreConfig(downsample_after_s=None)
    return EmbeddedStore(path, cfg, registry=registry or CollectorRegistry(), background=False)


def test_kill9_keeps_every_acked_sample_and_torn_tail_is_truncated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "store"
    log = tmp_path / "writer.log"
    proc = ManagedProcess(
        "wal-writer", [sys.executable, "-m", "tests.metrics_store.wal_writer", str(data)], log, cwd=REPO
    )
    try:
        # enough batches that several background checkpoints ran (3,000 samples each) and WAL remains
        def checkpointed_and_acked() -> bool:
            segments = sorted((data / "wal").glob("*.wal"))
            return len(_acks(log)) >= 400 and bool(segments) and int(segments[-1].stem) > 2

        wait_until(checkpointed_and_acked, 90, "400 acked batches and a background checkpoint")
    finally:
        proc.kill9()
    acks = _acks(log)
    last_k, n_series = acks[-1]
    assert proc.popen.returncode == -9

    # a crash in the middle of the next write: a header promising more bytes than were written
    segments = sorted((data / "wal").glob("*.wal"))
    assert segments, "the writer left no WAL segment"
    assert int(segments[-1].stem) > 2, "no background checkpoint ran: the test would only cover the WAL"
    with segments[-1].open("ab") as f:
        f.write(struct.pack("<BII", 2, 4096, 0) + b"\x01" * 100)

    registry = CollectorRegistry()
    with caplog.at_level(logging.WARNING, logger="metrics_store.wal"):
        store = _open(data, registry)
    try:
        assert any("torn record" in r.getMessage() for r in caplog.records)
        assert (
            registry.get_sample_value(
                "paramedic_store_errors_total", {"backend": "embedded", "reason": "wal_torn"}
            )
            == 1.0
        )
        res = store.select(
            [Matcher("__name__", MatchOp.EQ, "kill_test")], wal_writer.BASE, wal_writer.BASE + last_k
        )
        by_i = {int(labels_get(s.labels, "i")): s for s in res}
        assert len(by_i) >= n_series
        for i in range(n_series):
            s = by_i[i]
            first_k = 0 if i < wal_writer.SERIES else (i - wal_writer.SERIES) * 25 + 24
            ks = np.arange(first_k, last_k + 1)
            assert s.timestamps_ms.tolist() == (wal_writer.BASE + ks).tolist(), f"series {i}"
            assert np.array_equal(s.values, ks + i / 1000), f"series {i}"
    finally:
        store.close()
    # after a clean close everything is in DuckDB and the WAL is empty
    assert sum(p.stat().st_size for p in (data / "wal").glob("*.wal")) == 0


def test_reopen_after_clean_close_and_crc_mismatch(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "store"
    store = _open(data)
    ref = store.series_ref((("__name__", "m"),))
    store.append([ref], [1000], [1.5])
    store.close()
    store.close()  # idempotent
    wal = data / "wal"
    seg = sorted(wal.glob("*.wal"))[-1]
    good = struct.pack("<BII", 2, 4, 0xDEADBEEF) + b"\x00" * 4  # complete record, wrong CRC
    seg.write_bytes(seg.read_bytes() + good)
    with caplog.at_level(logging.WARNING, logger="metrics_store.wal"):
        store = _open(data)
    try:
        assert any("crc mismatch" in r.getMessage() for r in caplog.records)
        res = store.select([Matcher("__name__", MatchOp.EQ, "m")], 0, 10_000)
        assert [(s.timestamps_ms.tolist(), s.values.tolist()) for s in res] == [([1000], [1.5])]
        assert store.series_ref((("__name__", "m"),)) == ref
        assert store.series_ref((("__name__", "other"),)) == ref + 1
    finally:
        store.close()
