"""The embedded store written by a child process (log_pipeline.search.index_process): the same documents as
the in-process store, metrics in the server's registry, a killed child restarted with the batch failed (so
the consumer retries it), and no child outliving its server, even after kill -9. Real processes (``spawn``)
over real tantivy indexes; every wait polls with a deadline."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from log_pipeline.model import LogRecord
from log_pipeline.search._index_worker import decode, encode
from log_pipeline.search.base import SearchError
from log_pipeline.search.config import EmbeddedSearchConfig
from log_pipeline.search.factory import open_search_store
from log_pipeline.search.index_process import IndexProcessStore
from log_pipeline.search.tantivy_store import TantivyStore
from tests.support.servers import wait_until

NS = 10**9
T0 = 1_714_564_800 * NS
PARTITION_S = 60
REPO = Path(__file__).resolve().parents[2]
QUERIES = (
    "",
    "number",
    "app:cart",
    "status:503",
    "status:>=500",
    "latency_s:[0.5 TO *]",
    '"number 7"',
    "-app:db",
)


def _recs(first: int, n: int, word: str = "number") -> list[LogRecord]:
    return [
        LogRecord(
            f"{i:016x}",
            T0 + i * 7 * NS,  # several partitions of 60 s
            f"{word} {i} ünïcode",
            {"app": "cart" if i % 3 else "db", "instance": str(i % 2)},
            {"status": 500 + i % 5, "latency_s": i / 10, "path": f"/p/{i}"},
            pattern_id=f"p{i % 4}",
            template=f"{word} <*>",
        )
        for i in range(first, first + n)
    ]


def _odd(first: int) -> list[LogRecord]:
    """Records JSON would change (non-finite floats, integers beyond 64 bits) or seem to (a "null" text)."""
    values: list[str | int | float] = [float("nan"), float("inf"), -float("inf"), 2**70, "null", -(2**63)]
    return [
        LogRecord(f"{first + i:016x}", T0 + i * NS, f"odd {i} null", {"app": "odd"}, {"v": v, "w": 0.1 + i})
        for i, v in enumerate(values)
    ]


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def _sample(registry: CollectorRegistry, name: str, labels: dict[str, str] | None = None) -> float:
    return registry.get_sample_value(name, labels or {}) or 0.0


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def store(tmp_path: Path, registry: CollectorRegistry) -> Iterator[IndexProcessStore]:
    s = IndexProcessStore(tmp_path / "child", partition_s=PARTITION_S, registry=registry)
    yield s
    s.close()


def test_child_writes_the_documents_the_in_process_store_writes(
    tmp_path: Path, store: IndexProcessStore
) -> None:
    local = TantivyStore(tmp_path / "local", partition_s=PARTITION_S, registry=CollectorRegistry())
    finite = [r for r in _odd(1000) if not isinstance(r.fields["v"], int) or abs(r.fields["v"]) < 2**63]
    # upserts across partitions; non-finite floats and "null" texts
    batches = [_recs(0, 40), _recs(30, 20, "replayed"), _recs(5, 3, "again"), finite]
    for batch in batches:
        local.write(batch)
        store.write(batch)
    for query in QUERIES:
        want, got = local.search(query, None, None, 1000), store.search(query, None, None, 1000)
        assert got.total == want.total, query
        assert got.hits == want.hits, query
    assert store.search("", None, None, 1000).total == 50 + len(finite)
    assert sorted(p.name for p in (tmp_path / "child").iterdir()) == sorted(
        p.name for p in (tmp_path / "local").iterdir()
    )
    local.close()


def test_rows_cross_as_json_unless_json_would_change_a_value() -> None:
    plain = _recs(0, 50)
    assert isinstance(encode(plain), bytes)  # the cheap path for ordinary lines
    assert decode(encode(plain)) == plain
    for odd in _odd(100):
        assert not isinstance(encode([*plain, odd]), bytes)
        back = decode(encode([*plain, odd]))
        assert back[:-1] == plain
        assert repr(back[-1]) == repr(odd)  # nan != nan: compared as text, types included
        assert type(back[-1].fields["v"]) is type(odd.fields["v"])


def test_written_records_and_dropped_partitions_are_counted_in_the_servers_registry(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    store = IndexProcessStore(tmp_path, partition_s=PARTITION_S, retention_s=86_400, registry=registry)
    try:
        store.write(_recs(0, 20))  # 2024: every partition is past the retention
        assert _sample(registry, "paramedic_log_store_records_written_total", {"backend": "tantivy"}) == 20
        dropped = store.apply_retention()
        assert sorted(p.name for p in dropped) == [f"p{T0 // NS + s}" for s in (0, 60, 120)]
        assert all(not p.exists() for p in dropped)
        labels = {"backend": "tantivy", "reason": "age"}
        assert _sample(registry, "paramedic_log_store_partitions_dropped_total", labels) == 3
        assert store.search("", None, None, 100).total == 0
    finally:
        store.close()


def test_a_killed_child_fails_the_batch_and_is_restarted(
    store: IndexProcessStore, registry: CollectorRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    store.write(_recs(0, 10))
    first = store.child_pid
    assert first is not None
    assert Path(f"/proc/{first}/comm").read_text().strip() == "paramedic-index"  # as ps and top show it
    os.kill(first, signal.SIGKILL)
    wait_until(lambda: _gone(first), 20.0, "the killed index process to exit")
    with (
        caplog.at_level(logging.ERROR, "log_pipeline.index_process"),
        pytest.raises(SearchError, match="died"),
    ):
        store.write(_recs(10, 10))
    assert "died during a write (exit code -9): restarting it" in caplog.text
    assert _sample(registry, "paramedic_log_index_process_restarts_total") == 1
    assert (
        _sample(registry, "paramedic_log_store_errors_total", {"backend": "tantivy", "reason": "write"}) == 1
    )
    assert store.child_pid not in (None, first)
    store.write(_recs(10, 10))  # the consumer's retry
    assert store.search("", None, None, 100).total == 20


def test_close_stops_the_child_and_refuses_writes(tmp_path: Path) -> None:
    store = IndexProcessStore(tmp_path, partition_s=PARTITION_S, registry=CollectorRegistry())
    store.write(_recs(0, 5))
    pid = store.child_pid
    assert pid is not None
    store.close()
    wait_until(lambda: _gone(pid), 20.0, "the index process to exit")
    with pytest.raises(SearchError, match="closed"):
        store.write(_recs(5, 5))
    reopened = TantivyStore(tmp_path, partition_s=PARTITION_S, registry=CollectorRegistry())
    assert reopened.search("", None, None, 100).total == 5  # its writers were closed after the commit
    reopened.close()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_the_child_never_outlives_its_server(tmp_path: Path, sig: signal.Signals) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from prometheus_client import CollectorRegistry
        from log_pipeline.search.index_process import IndexProcessStore
        from tests.log_pipeline.test_index_process import _recs

        if __name__ == "__main__":
            store = IndexProcessStore(Path({str(tmp_path)!r}), partition_s=60, registry=CollectorRegistry())
            store.write(_recs(0, 5))
            print(store.child_pid, flush=True)
            sys.stdin.read()  # until the test kills this process
        """
    )
    server = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        child = int(server.stdout.readline())
        assert not _gone(child)
        server.send_signal(sig)
        server.wait(30)
        wait_until(lambda: _gone(child), 30.0, "the index process to exit after its server")
    finally:
        server.kill()
        server.wait(30)


def test_a_store_the_child_cannot_open_fails_wait_ready_and_the_first_write(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    store = IndexProcessStore(blocked, partition_s=PARTITION_S, registry=CollectorRegistry())
    try:
        with pytest.raises(SearchError, match="cannot open search store"):
            store.wait_ready()  # the server's start fails: the store did not open
        with pytest.raises(SearchError, match="cannot open search store"):
            store.write(_recs(0, 1))  # a new child is started for it, and fails the same way
    finally:
        store.close()


def test_the_factory_writes_through_the_child_unless_index_process_is_off(tmp_path: Path) -> None:
    child = open_search_store(EmbeddedSearchConfig(path="a"), tmp_path, CollectorRegistry())
    local = open_search_store(
        EmbeddedSearchConfig(path="b", index_process=False), tmp_path, CollectorRegistry()
    )
    try:
        assert isinstance(child, IndexProcessStore)
        assert type(local) is TantivyStore
    finally:
        child.close()
        local.close()


def test_the_child_does_not_import_from_the_servers_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a module in the directory the server was started from must not shadow the child's own imports
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    (cwd / "orjson.py").write_text(
        "raise ImportError('shadowed orjson imported from the working directory')\n"
    )
    monkeypatch.chdir(cwd)
    store = IndexProcessStore(tmp_path / "store", partition_s=PARTITION_S, registry=CollectorRegistry())
    try:
        store.write(_recs(0, 3))
        assert store.search("", None, None, 10).total == 3
    finally:
        store.close()


def test_close_kills_a_hung_child_instead_of_waiting_forever(tmp_path: Path) -> None:
    store = IndexProcessStore(tmp_path, partition_s=PARTITION_S, registry=CollectorRegistry())
    store.stop_timeout_s = 1.0
    store.write(_recs(0, 3))
    pid = store.child_pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # hung: it neither answers nor exits
    failures: list[BaseException] = []

    def stuck_write() -> None:
        try:
            store.write(_recs(3, 3))
        except SearchError as exc:
            failures.append(exc)

    writer = threading.Thread(target=stuck_write)
    writer.start()
    wait_until(store._call_lock.locked, 10.0, "the write to wait for the hung child")
    store.close()  # returns: the child is killed after stop_timeout_s
    writer.join(20.0)
    assert not writer.is_alive()
    assert len(failures) == 1, "the write in progress must fail (the consumer retries it), not hang"
    wait_until(lambda: _gone(pid), 20.0, "the hung index process to be killed")
    assert store.child_pid is None or _gone(store.child_pid), "close() must not leave a restarted child"
