"""The WAL's samples records: a scrape's shared timestamp written once (``SAMPLES_AT``), older ``SAMPLES``
records still replayed, torn ``SAMPLES_AT`` tails truncated, a short ``writev`` finished, and a write that
fails leaves nothing behind."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from metrics_store.config import EmbeddedStoreConfig
from metrics_store.embedded import EmbeddedStore, _wal
from metrics_store.embedded._head import shared_ts
from metrics_store.embedded._wal import SAMPLES, SAMPLES_AT, WalWriter, encode_samples, replay
from metrics_store.model import STALE_NAN, Matcher, MatchOp

HEADER = 9  # u8 type, u32 length, u32 crc
B = 1_700_000_000_000


def _columns(n: int, ts: int = 1_700_000_000_000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    refs = np.arange(n, dtype=np.uint32) * 3
    values = np.linspace(-1.5, 7.25, n)
    values[1] = STALE_NAN  # a NaN payload that must survive bit for bit
    return refs, np.full(n, ts, np.int64), values


def _writer(tmp_path: Path) -> WalWriter:
    return WalWriter(tmp_path, "never", 1.0, lambda: 0.0)


def _replayed(tmp_path: Path) -> list[_wal.WalRecord]:
    torn: list[str] = []
    out = list(replay(tmp_path, torn.append))
    assert not torn
    return out


def test_shared_timestamp_is_written_once_and_replays_bit_for_bit(tmp_path: Path) -> None:
    refs, ts, values = _columns(2_005)
    w = _writer(tmp_path)
    w.write(encode_samples(refs, shared_ts(ts), values))
    w.close()
    data = next(tmp_path.glob("*.wal")).read_bytes()
    assert data[0] == SAMPLES_AT
    assert len(data) == HEADER + 4 + 8 + 12 * len(refs)  # 12 bytes a sample, not 20
    (rec,) = _replayed(tmp_path)
    assert rec.refs is not None and rec.ts is not None and rec.values is not None
    assert rec.refs.tolist() == refs.tolist()
    assert rec.ts.tolist() == ts.tolist()
    assert rec.values.tobytes() == values.tobytes()


def test_timestamps_that_differ_keep_the_full_record(tmp_path: Path) -> None:
    refs, ts, values = _columns(10)
    ts = ts + np.arange(10)
    w = _writer(tmp_path)
    w.write(encode_samples(refs, shared_ts(ts), values))
    w.close()
    data = next(tmp_path.glob("*.wal")).read_bytes()
    assert data[0] == SAMPLES
    assert len(data) == HEADER + 4 + 20 * 10
    (rec,) = _replayed(tmp_path)
    assert rec.ts is not None and rec.ts.tolist() == ts.tolist()
    assert rec.values is not None and rec.values.tobytes() == values.tobytes()


def _old_samples_record(refs: np.ndarray, ts: np.ndarray, values: np.ndarray) -> bytes:
    """A ``SAMPLES`` record as the code before ``SAMPLES_AT`` wrote every batch."""
    payload = struct.pack("<I", len(refs)) + refs.tobytes() + ts.tobytes() + values.tobytes()
    return struct.pack("<BII", SAMPLES, len(payload), zlib.crc32(payload)) + payload


def test_a_wal_written_by_older_code_replays_with_new_records_after_it(tmp_path: Path) -> None:
    refs, ts, values = _columns(50)
    (tmp_path / "00000001.wal").write_bytes(_old_samples_record(refs, ts, values))
    w = _writer(tmp_path)  # opens segment 2, as a restarted store does
    later = values.copy()
    later[0] = 99.0
    w.write(encode_samples(refs, shared_ts(ts + 1000), later))
    w.close()
    first, second = _replayed(tmp_path)
    assert first.ts is not None and first.ts.tolist() == ts.tolist()
    assert second.ts is not None and second.ts.tolist() == (ts + 1000).tolist()
    assert second.values is not None and second.values.tobytes() == later.tobytes()


def test_a_torn_shared_timestamp_record_is_truncated(tmp_path: Path) -> None:
    refs, ts, values = _columns(100)
    w = _writer(tmp_path)
    w.write(encode_samples(refs, shared_ts(ts), values))
    w.write(encode_samples(refs, shared_ts(ts + 1), values))
    w.close()
    path = next(tmp_path.glob("*.wal"))
    whole = path.stat().st_size
    os.truncate(path, whole - 7)
    torn: list[str] = []
    records = list(replay(tmp_path, torn.append))
    assert torn == ["short payload"]
    assert len(records) == 1 and records[0].ts is not None and records[0].ts[0] == ts[0]
    assert path.stat().st_size == whole // 2


def test_a_short_writev_is_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.writev

    def short(fd: int, buffers: list[bytes | memoryview]) -> int:
        return real(fd, [bytes(buffers[0])[:5]])  # as a full disk might: part of the first piece only

    monkeypatch.setattr(os, "writev", short)
    refs, ts, values = _columns(20)
    record = encode_samples(refs, shared_ts(ts), values)
    w = _writer(tmp_path)
    w.write(record)
    w.close()
    assert next(tmp_path.glob("*.wal")).read_bytes() == b"".join(record)
    assert w.size == sum(len(p) for p in record)


_FULL_DISK = r"""
import os, resource, signal, sys
from pathlib import Path
from prometheus_client import CollectorRegistry
from metrics_store.config import EmbeddedStoreConfig
from metrics_store.embedded import EmbeddedStore
from metrics_store.model import labels_from
d = Path(sys.argv[1]); B = 1_700_000_000_000
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
cfg = EmbeddedStoreConfig(downsample_after_s=None)
s = EmbeddedStore(d, cfg, registry=CollectorRegistry(), background=False)
refs = [s.series_ref(labels_from({"__name__": "m", "i": str(i)})) for i in range(100)]
s.append(refs, [B] * 100, [1.0] * 100)
wal = max((d / "wal").glob("*.wal"))
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (wal.stat().st_size + 500, hard))  # the disk fills mid-record
try:
    s.append(refs, [B + 1000] * 100, [2.0] * 100)
    print("batch 2 acknowledged")
except Exception as e:
    print("batch 2 refused:", type(e).__name__)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space freed
for k in (3, 4, 5):
    s.append(refs, [B + k * 1000] * 100, [float(k)] * 100)
os._exit(0)  # a crash: nothing folded, the WAL alone must bring the acknowledged batches back
"""


def test_a_write_that_fails_mid_record_loses_no_later_acknowledged_append(tmp_path: Path) -> None:
    """A full disk cuts a record short (a real short write: RLIMIT_FSIZE in a child process); that batch is
    refused, the space comes back, three more are acknowledged, then the process dies. Replay must bring
    back all four acknowledged batches: the failed write's partial record is cut off, not left mid-segment
    where replay's torn-record truncation would drop everything after it."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(tmp_path)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "batch 2 refused: WalError" in out.stdout, out.stdout
    store = EmbeddedStore(
        tmp_path, EmbeddedStoreConfig(downsample_after_s=None), registry=CollectorRegistry()
    )
    try:
        got = store.select([Matcher("__name__", MatchOp.EQ, "m")], B - 1, B + 10**6)
        stamps = sorted({int(t) - B for s in got for t in s.timestamps_ms})
        assert stamps == [0, 3000, 4000, 5000]
        assert sum(len(s.timestamps_ms) for s in got) == 400
    finally:
        store.close()
