"""FileSpool: round trip, restart, torn tails, reclaim, group commit, backpressure, consumer resume."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from log_pipeline.base import Spool
from log_pipeline.model import RawMessage
from log_pipeline.receivers import SpoolConsumer
from log_pipeline.spool import FileSpool, SpoolClosedError


def msg(i: int) -> RawMessage:
    return RawMessage(
        b"<13>1 - host app - - - msg %d" % i, 1_700_000_000_000_000_000 + i, "relp", "127.0.0.1:1"
    )


def test_round_trip_and_restart(tmp_path: Path) -> None:
    s = FileSpool(tmp_path)
    assert isinstance(s, Spool)
    assert s.append([msg(0), msg(1)]) == 2
    assert s.append([msg(2)]) == 3
    assert s.read(0, 10) == [(1, msg(0)), (2, msg(1)), (3, msg(2))]
    assert s.read(1, 1) == [(2, msg(1))]
    s.commit(2)
    s.close()
    s = FileSpool(tmp_path)
    assert (s.committed_seq, s.last_seq) == (2, 3)
    assert s.read(2, 10) == [(3, msg(2))]
    assert s.append([msg(3)]) == 4
    s.close()


@pytest.mark.parametrize("cut", ["header", "payload", "crc"])
def test_torn_tail_is_truncated_with_a_log_line(
    tmp_path: Path, cut: str, caplog: pytest.LogCaptureFixture
) -> None:
    s = FileSpool(tmp_path)
    s.append([msg(0)])
    s.append([msg(1), msg(2)])
    s.close()
    (seg,) = tmp_path.glob("*.seg")
    data = seg.read_bytes()
    size_first = len(data) // 2  # records: 1 msg then 2 msgs -> the first is shorter than half
    if cut == "header":
        seg.write_bytes(data + b"\x01\x02")
    elif cut == "payload":
        seg.write_bytes(data[:-5])
    else:
        seg.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    with caplog.at_level(logging.WARNING):
        s = FileSpool(tmp_path)
    assert any("torn record" in r.getMessage() for r in caplog.records)
    expected = [(1, msg(0)), (2, msg(1)), (3, msg(2))] if cut == "header" else [(1, msg(0))]
    assert s.read(0, 10) == expected
    assert s.append([msg(9)]) == len(expected) + 1  # appends continue after the repaired tail
    assert seg.stat().st_size > size_first
    s.close()


def test_commit_reclaims_segments_and_survives_restart(tmp_path: Path) -> None:
    s = FileSpool(tmp_path, segment_bytes=2000)
    for i in range(100):
        s.append([msg(i)])
    assert len(list(tmp_path.glob("*.seg"))) > 3
    s.commit(90)
    assert len(list(tmp_path.glob("*.seg"))) <= 2
    assert [q for q, _ in s.read(90, 100)] == list(range(91, 101))
    assert s.read(0, 1)[0][0] > 50  # older segments are gone
    s.close()
    s = FileSpool(tmp_path, segment_bytes=2000)
    assert s.read(s.committed_seq, 100)[0][0] == 91
    assert s.append([msg(100)]) == 101
    s.close()


def test_group_commit_concurrent_appends_are_contiguous(tmp_path: Path) -> None:
    s = FileSpool(tmp_path)
    results: list[int] = []
    lock = threading.Lock()

    def writer(k: int) -> None:
        for i in range(500):
            last = s.append([msg(k * 1000 + i), msg(k * 1000 + i + 500)])
            with lock:
                results.append(last)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = s.read(0, 100_000)
    assert [q for q, _ in got] == list(range(1, 8001))
    assert len(set(results)) == 4000
    s.close()


def test_append_blocks_when_full_until_commit_and_close_unblocks(tmp_path: Path) -> None:
    s = FileSpool(tmp_path, max_backlog_messages=10)
    s.append([msg(i) for i in range(10)])
    done = threading.Event()
    t = threading.Thread(target=lambda: (s.append([msg(10)]), done.set()))
    t.start()
    assert not done.wait(0.3)  # observation window: blocked by backpressure
    s.commit(5)
    assert done.wait(10)
    t.join()
    s.append([msg(i) for i in range(4)])  # 6 + 4 = 10: fits
    errors: list[BaseException] = []

    def blocked() -> None:
        try:
            s.append([msg(99)])
        except SpoolClosedError as e:
            errors.append(e)

    t = threading.Thread(target=blocked)
    t.start()
    s.close()
    t.join(10)
    assert len(errors) == 1


def test_consumer_processes_commits_and_resumes(tmp_path: Path) -> None:
    s = FileSpool(tmp_path)
    s.append([msg(i) for i in range(25)])
    seen: list[int] = []
    c = SpoolConsumer(s, lambda batch: seen.extend(q for q, _ in batch), batch_messages=10)
    assert c.run_once() == 10 and c.run_once() == 10
    s.close()
    s = FileSpool(tmp_path)
    c = SpoolConsumer(s, lambda batch: seen.extend(q for q, _ in batch), batch_messages=10)
    assert c.run_once() == 5 and c.run_once() == 0
    assert seen == list(range(1, 26))
    s.close()


def test_segment_is_written_before_append_returns(tmp_path: Path) -> None:
    s = FileSpool(tmp_path)
    s.append([msg(0)])
    (seg,) = tmp_path.glob("*.seg")
    assert os.stat(seg).st_size > 0  # in the OS page cache: survives kill -9 of this process
    s.close()
