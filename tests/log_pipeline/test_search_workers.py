"""Search worker processes (log_pipeline.search.workers): the same answers as the in-process path, new
commits and partitions seen, retention racing searches, a killed worker, a deadline overrun, a full line
(503 busy), and no worker outliving its server. Real processes (``spawn``) over a real tantivy index; the
hanging query of ``search_worker_hooks`` stands in for a pathological one so timings are deterministic."""

from __future__ import annotations

import asyncio
import errno
import gzip
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from log_pipeline.api import logs_router
from log_pipeline.config import LogsConfig, SearchApiConfig
from log_pipeline.model import LogRecord
from log_pipeline.search.base import Bucket, SearchError, SearchTimeoutError
from log_pipeline.search.render import Body, context_body, search_body
from log_pipeline.search.tantivy_store import TantivyStore
from log_pipeline.search.workers import SearchWorkerPool
from metrics_store.sched_slice import SliceError, get_thread_slice_ns, set_thread_slice
from paramedic.logs import LogService
from tests.log_pipeline.search_worker_hooks import (
    BAD_LENGTH,
    BIG,
    BIG_BYTES,
    HANG,
    HUGE_LENGTH,
    PARTIAL,
    hang_file,
    partial_file,
    serve_with_hang,
    serve_with_pid,
    serve_with_slow_answers,
)
from tests.metrics_store.test_sched_slice import HAS_SLICES
from tests.metrics_store.test_sched_slice import in_thread as slice_in_thread
from tests.support.servers import load_factor, wait_until

NS = 10**9
T0 = 1_714_564_800 * NS
PARTITION_S = 60
RETENTION_S = 14 * 86_400
# the deadline also bounds the respawn of a killed worker (a queued call waits 2x the deadline for it): a
# loaded machine gets a longer one, so a slow spawn is not read as a failure (2 s on an idle machine)
DEADLINE_S = 2.0 * load_factor()
LIMITS = SearchApiConfig(search_processes=1, max_queued_searches=1, search_deadline_s=DEADLINE_S)
REPO = Path(__file__).resolve().parents[2]


def _recs(first: int, n: int, word: str, step_ns: int = NS) -> list[LogRecord]:
    return [
        LogRecord(f"{i:016x}", T0 + i * step_ns, f"{word} number {i}", {"app": "cart", "instance": "0"})
        for i in range(first, first + n)
    ]


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")  # exited (a zombie only waits for init to reap it)


class Env:
    def __init__(self, root: Path, clock: list[int], target: Callable[..., None] = serve_with_hang) -> None:
        self.root = root
        self.clock = clock
        self.registry = CollectorRegistry()
        self.store = TantivyStore(
            root,
            partition_s=PARTITION_S,
            retention_s=RETENTION_S,
            clock=lambda: clock[0],
            registry=CollectorRegistry(),
        )
        self.pool = SearchWorkerPool(
            root, partition_s=PARTITION_S, limits=LIMITS, registry=self.registry, target=target
        )

    def restarts(self, reason: str) -> float:
        return (
            self.registry.get_sample_value("paramedic_log_search_worker_restarts_total", {"reason": reason})
            or 0.0
        )

    def gauge(self, name: str) -> float:
        return self.registry.get_sample_value(name) or 0.0

    async def total(self, q: str = "") -> int:
        body = orjson.loads((await self.pool.search_body((q, None, None, 10, None), False, LIMITS)).content)
        return int(body["data"]["total"])


async def _until(predicate: Callable[[], bool], what: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    e = Env(tmp_path_factory.mktemp("workers") / "idx", [T0])
    e.store.write(_recs(0, 300, "alpha"))  # 300 s: five partitions
    e.pool.start()
    yield e
    e.pool.close()
    e.store.close()


async def test_answers_match_the_in_process_path_and_new_commits_are_seen(env: Env) -> None:
    args = ("alpha OR number", T0, T0 + 250 * NS, 40, None)
    expected = search_body(env.store, args, True, LIMITS)
    assert await env.pool.search_body(args, True, LIMITS) == Body(expected)
    zipped = await env.pool.search_body(args, True, LIMITS, gzip_ok=True)  # compressed in the worker
    assert zipped.encoding == "gzip" and gzip.decompress(zipped.content) == expected
    rid = f"{150:016x}"
    assert await env.pool.context_body(rid, 5, 5, LIMITS) == Body(context_body(env.store, rid, 5, 5, LIMITS))
    buckets = await env.pool.histogram("alpha", T0, T0 + 299 * NS, 60 * NS)
    assert buckets == env.store.histogram("alpha", T0, T0 + 299 * NS, 60 * NS)
    assert buckets == [Bucket(T0 + k * 60 * NS, 60) for k in range(5)]

    assert await env.total("bravo") == 0
    env.store.write(_recs(300, 100, "bravo"))  # into the last partition and two new ones
    assert await env.total("bravo") == 100
    assert await env.total() == 400


async def test_the_worker_that_answered_last_takes_the_next_search(tmp_path: Path) -> None:
    """Idle workers are taken last in, first out: one after another, searches go to the same (warm) worker
    rather than round robin over cold ones; calls at once still get answers from live workers."""
    (tmp_path / "idx").mkdir()
    limits = SearchApiConfig(search_processes=3, max_queued_searches=3, search_deadline_s=DEADLINE_S)
    pool = SearchWorkerPool(
        tmp_path / "idx",
        partition_s=PARTITION_S,
        limits=limits,
        registry=CollectorRegistry(),
        target=serve_with_pid,
    )

    async def pid() -> int:  # serve_with_pid answers a search with the worker's pid, not a Body
        answer: object = await pool.search_body(("anything", None, None, 1, None), False, limits)
        assert isinstance(answer, int)
        return answer

    pool.start()
    try:
        one_by_one = [await pid() for _ in range(6)]
        assert len(set(one_by_one)) == 1 and one_by_one[0] in pool.pids()
        at_once = await asyncio.gather(*(pid() for _ in range(6)))
        assert set(at_once) <= set(pool.pids())
        again = [await pid() for _ in range(4)]
        assert len(set(again)) == 1
    finally:
        pool.close()


async def test_a_cancelled_caller_leaves_the_worker_with_its_reply_taken(
    env: Env,
) -> None:
    restarts = env.restarts("crash") + env.restarts("deadline")
    for _ in range(5):  # the caller gives up while its job is queued, sent or running
        task = asyncio.ensure_future(env.pool.search_body(("alpha", None, None, 10, None), False, LIMITS))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await env.total("zulu") == 0  # its own answer on the one worker, not the cancelled one's
    assert await env.total("alpha") == 300
    await _until(lambda: env.gauge("paramedic_log_search_in_flight") == 0, "no search in flight")
    assert env.restarts("crash") + env.restarts("deadline") == restarts


async def test_a_worker_killed_mid_search_is_a_clean_error_and_is_replaced(env: Env) -> None:
    marker = hang_file(env.root)
    marker.unlink(missing_ok=True)
    before, crashes = env.pool.pids(), env.restarts("crash")
    task = asyncio.ensure_future(env.pool.search_body((HANG, None, None, 10, None), False, LIMITS))
    await _until(lambda: marker.exists() and marker.read_text() != "", "the worker to be inside the search")
    pid = int(marker.read_text())
    assert pid in before
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(SearchError, match="worker stopped") as err:
        await task
    assert not isinstance(err.value, SearchTimeoutError)
    assert env.restarts("crash") == crashes + 1
    assert await env.total() >= 300  # the next search works, on a new process
    assert pid not in env.pool.pids() and len(env.pool.pids()) == 1


async def test_a_deadline_overrun_is_killed_and_replaced_and_the_line_is_bounded(env: Env) -> None:
    app = FastAPI()
    app.include_router(logs_router(env.store, limits=LIMITS, executor=env.pool))
    transport = httpx.ASGITransport(app=app)
    before, kills = env.pool.pids(), env.restarts("deadline")
    async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=30) as client:
        url = "/api/v1/logs/search"
        started = time.monotonic()
        hang_file(env.root).unlink(missing_ok=True)
        hang = asyncio.ensure_future(client.get(url, params={"q": HANG}))
        await _until(lambda: hang_file(env.root).exists(), "the hanging search to reach the worker")
        queued = asyncio.ensure_future(client.get(url, params={"q": "alpha", "limit": "3"}))
        await _until(lambda: env.gauge("paramedic_log_search_queued") == 1, "a search waiting in line")
        refused = await client.get(url, params={"q": "alpha"})  # the worker is busy, the line (1) is full
        assert refused is not None and refused.status_code == 503
        assert refused.headers["Retry-After"] == "1" and "busy" in refused.json()["error"]
        timed_out = await hang
        assert timed_out.status_code == 503 and timed_out.json()["errorType"] == "timeout"
        assert DEADLINE_S <= time.monotonic() - started < DEADLINE_S + 10
        ok = await queued  # waited in line, then ran on the replacement
        assert ok.status_code == 200 and ok.json()["data"]["total"] >= 300
        big = await client.get(url, params={"q": "alpha", "limit": "100"})  # httpx takes gzip: compressed
        assert big.headers["content-encoding"] == "gzip" and len(big.json()["data"]["hits"]) == 100
    assert env.restarts("deadline") == kills + 1
    assert all(_gone(p) for p in before) and len(env.pool.pids()) == 1
    assert env.gauge("paramedic_log_search_rejected_total") >= 1


async def test_retention_deleting_partitions_during_searches(tmp_path: Path) -> None:
    clock = [T0]
    e = Env(tmp_path / "idx", clock)
    e.store.write(_recs(0, 20 * PARTITION_S, "charlie"))  # 20 partitions of 60 records
    await asyncio.to_thread(e.pool.start)
    try:
        pids = e.pool.pids()
        results: list[int | str] = []

        async def searches() -> None:
            for _ in range(30):
                try:
                    results.append(await e.total("charlie"))
                except SearchError as exc:  # a clean error is allowed, a crash is not
                    results.append(str(exc))

        def retention() -> None:
            for k in range(1, 16):  # drop one more partition after each search answered
                wait_until(lambda k=k: len(results) >= k, 20, f"search {k}", interval_s=0.005)  # type: ignore[misc]
                clock[0] = T0 + (k * PARTITION_S + RETENTION_S) * NS
                assert len(e.store.apply_retention()) == 1

        await asyncio.gather(searches(), asyncio.to_thread(retention))
        counts = [r for r in results if isinstance(r, int)]
        assert counts and all(c % PARTITION_S == 0 and c <= 20 * PARTITION_S for c in counts)
        assert e.pool.pids() == pids and e.restarts("crash") == 0
        assert await e.total("charlie") == 5 * PARTITION_S  # the five partitions retention kept
    finally:
        e.pool.close()
        e.store.close()


async def test_workers_stop_with_the_log_service(tmp_path: Path) -> None:
    cfg = LogsConfig.model_validate(
        {
            "relp": None,
            "syslog_tcp": None,
            "syslog_udp": None,
            "spool": {"path": "spool"},
            "search": {"type": "embedded", "path": "search"},
            "search_api": {"search_processes": 2},
        }
    )
    service = LogService(cfg, base_dir=tmp_path, appender=None, registry=CollectorRegistry())
    await service.start()
    assert service.searchers is not None
    pids = service.searchers.pids()
    assert len(pids) == 2
    await service.stop()
    assert all(_gone(p) for p in pids)


def test_workers_exit_when_their_server_is_killed(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from log_pipeline.config import SearchApiConfig
        from log_pipeline.search.workers import SearchWorkerPool
        pool = SearchWorkerPool(Path({str(tmp_path / "idx")!r}), partition_s=60,
                                limits=SearchApiConfig(search_processes=2))
        pool.start()
        print(*pool.pids(), flush=True)
        time.sleep(600)
        """
    )
    server = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        pids = [int(p) for p in server.stdout.readline().split()]
        assert len(pids) == 2 and not any(_gone(p) for p in pids)
    finally:
        server.kill()
        server.wait(10)
    wait_until(lambda: all(_gone(p) for p in pids), 10, "the workers of a killed server to exit")


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """A pool whose worker can answer in pieces (:data:`BIG`) or stop mid-answer (:data:`PARTIAL`)."""
    e = Env(tmp_path_factory.mktemp("slow") / "idx", [T0], serve_with_slow_answers)
    e.store.write(_recs(0, 10, "alpha"))
    e.pool.start()
    yield e
    e.pool.close()
    e.store.close()


async def _raw(pool: SearchWorkerPool, query: str) -> object:
    """The worker's answer as it came (the slow hooks answer BIG with bytes, not a Body)."""
    answer: object = await pool.search_body((query, None, None, 10, None), False, LIMITS)
    return answer


async def test_a_large_answer_arriving_in_pieces_is_read_whole_while_the_loop_runs(slow: Env) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1

    other = asyncio.ensure_future(ticker())
    try:
        answer = await _raw(slow.pool, BIG)
    finally:
        other.cancel()
    assert answer == bytes(range(256)) * (BIG_BYTES // 256)
    assert ticks >= 10  # ~100 pieces 1 ms apart: the loop kept running while they arrived
    assert await slow.total("alpha") == 10  # the frame ended where it should: the next answer is its own


async def test_a_worker_killed_mid_answer_is_a_clean_error_and_is_replaced(slow: Env) -> None:
    marker = partial_file(slow.root)
    marker.unlink(missing_ok=True)
    crashes = slow.restarts("crash")
    task = asyncio.ensure_future(_raw(slow.pool, PARTIAL))
    await _until(lambda: marker.exists() and marker.read_text() != "", "half an answer to be written")
    pid = int(marker.read_text())
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(SearchError, match="worker stopped") as err:
        await task
    assert not isinstance(err.value, SearchTimeoutError)
    assert slow.restarts("crash") == crashes + 1
    assert await slow.total("alpha") == 10
    assert pid not in slow.pool.pids() and len(slow.pool.pids()) == 1


async def test_a_worker_stuck_mid_answer_meets_the_deadline_and_is_replaced(slow: Env) -> None:
    """Half an answer, then nothing (a worker stopped, frozen or swapped out while writing it): the caller
    gets the deadline's error, not a thread blocked in ``recv`` for good, and the worker is replaced."""
    marker = partial_file(slow.root)
    marker.unlink(missing_ok=True)
    kills = slow.restarts("deadline")
    started = time.monotonic()
    with pytest.raises(SearchTimeoutError, match="search_deadline_s"):
        await _raw(slow.pool, PARTIAL)
    assert DEADLINE_S <= time.monotonic() - started < DEADLINE_S + 10
    pid = int(marker.read_text())
    assert slow.restarts("deadline") == kills + 1
    assert _gone(pid) and len(slow.pool.pids()) == 1
    assert await slow.total("alpha") == 10


@pytest.mark.parametrize("query", [BAD_LENGTH, HUGE_LENGTH])
async def test_a_worker_whose_stream_is_broken_is_replaced_and_never_answers_the_next_caller(
    slow: Env, query: str
) -> None:
    """A length no answer can have (negative; 1 TiB) is a broken stream: the worker is replaced, so the
    bytes behind it never reach the next caller as its answer (another reader's, in another scope), and
    nothing of the announced size is allocated."""
    crashes = slow.restarts("crash")
    (before,) = slow.pool.pids()
    with pytest.raises(SearchError, match="could not be read"):
        await _raw(slow.pool, query)
    assert slow.restarts("crash") == crashes + 1 and _gone(before)
    assert await slow.total("alpha") == 10
    assert await slow.total("alpha") == 10


@pytest.mark.skipif(not HAS_SLICES, reason="slice requests need Linux >= 6.12 (x86_64, aarch64)")
def test_workers_started_by_a_short_slice_thread_search_at_the_default_slice(tmp_path: Path) -> None:
    """The server's event loop asks for a short slice (paramedic.latency_slice) and a worker process inherits
    it: the worker gives it back, or its searches would preempt reads as readily as the server's threads."""
    store = TantivyStore(
        tmp_path / "idx",
        partition_s=PARTITION_S,
        retention_s=RETENTION_S,
        clock=lambda: T0,
        registry=CollectorRegistry(),  # not the process-wide one: later tests register the same names
    )
    store.write(_recs(0, 10, "alpha"))
    store.close()
    pool = SearchWorkerPool(
        tmp_path / "idx", partition_s=PARTITION_S, limits=LIMITS, registry=CollectorRegistry()
    )
    default = slice_in_thread(get_thread_slice_ns)
    try:

        def start_with_a_short_slice() -> list[int]:
            set_thread_slice(200_000)
            pool.start()
            return pool.pids()

        pids = slice_in_thread(start_with_a_short_slice)
        assert pids
        tasks = [t for pid in pids for t in Path(f"/proc/{pid}/task").iterdir()]
        slices = {s for t in tasks if (s := _slice_or_none(t)) is not None}
        assert slices == {default} != {200_000}
    finally:
        pool.close()
        store.close()


def _slice_or_none(task: Path) -> int | None:
    """The slice of the thread ``/proc/<pid>/task/<tid>``, or None when it ended after it was listed."""
    try:
        return get_thread_slice_ns(int(task.name))
    except SliceError as exc:
        if exc.errno == errno.ESRCH:
            return None
        raise


@pytest.mark.skipif(not HAS_SLICES, reason="slice requests need Linux >= 6.12 (x86_64, aarch64)")
def test_a_thread_that_ended_after_it_was_listed_is_skipped() -> None:
    """The listing of /proc/<pid>/task and the read of each slice are not atomic (a worker's short-lived
    thread can end in between): such a thread is skipped, any other error is raised."""
    gone = 2**22 + 12345  # above the default pid_max: an ended thread whose id was not reused yet
    assert _slice_or_none(Path(f"/proc/{os.getpid()}/task/{gone}")) is None
    assert _slice_or_none(Path(f"/proc/{os.getpid()}/task/{threading.get_native_id()}")) is not None
