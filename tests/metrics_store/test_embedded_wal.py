"""The WAL's samples records: a scrape's shared timestamp written once (``SAMPLES_AT``), older ``SAMPLES``
records still replayed, torn ``SAMPLES_AT`` tails truncated, and a short ``writev`` finished."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from metrics_store.embedded import _wal
from metrics_store.embedded._head import shared_ts
from metrics_store.embedded._wal import SAMPLES, SAMPLES_AT, WalWriter, encode_samples, replay
from metrics_store.model import STALE_NAN

HEADER = 9  # u8 type, u32 length, u32 crc


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
