"""Log-in password hashes in child processes (:mod:`paramedic.auth._hash_child`): the same answers and errors
as argon2-cffi's ``PasswordHasher``; a child killed or stopped mid-hash gives a clear error (503 at the
log-in, with a fixed message) within its bound and the next call works in a new child, while a slow child that
still computes is left to finish; argon2's failures other than a mismatch are no verdict; a late idle-class
child is lifted with its lanes; where the idle class cannot be left again the children stay at nice 19 only;
the server wiring hashes in children, not in its own process, and reaps them when its lifespan ends."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from dashboard.auth_pages import LoginRefusedError
from metrics_store.sched_slice import get_thread_slice_ns, set_thread_slice
from paramedic.assembly import Paramedic
from paramedic.auth import LoginThrottle, SessionStore, UserStore, refusals_counter
from paramedic.auth._hash_child import (
    HashChildren,
    HashUnavailableError,
    hasher_parameters,
    idle_class_refusal,
)
from paramedic.auth._login import UNAVAILABLE, SessionLogin, login_counter
from paramedic.config import parse_config
from tests.metrics_store.test_sched_slice import HAS_SLICES
from tests.metrics_store.test_sched_slice import in_thread as slice_in_thread

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="child scheduling is Linux-only")

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # tests only: cheap hashes
FAST = hasher_parameters(FAST_HASHER)
SCHED_IDLE, SCHED_OTHER = 5, 0
CHILD = Path(__file__).resolve().parents[2] / "paramedic" / "auth" / "_hash_child.py"


def _no_memory_hash() -> str:
    """A stored hash of "right-password-1" whose verification asks for 4 TiB: argon2 answers "Memory
    allocation error", a ``VerificationError`` that is not a mismatch (as under real memory pressure)."""
    return FAST_HASHER.hash("right-password-1").replace("m=8,", "m=4294967295,")


needs_refused_overcommit = pytest.mark.skipif(
    Path("/proc/sys/vm/overcommit_memory").read_text().strip() == "1",
    reason="vm.overcommit_memory=1 would grant the 4 TiB instead of failing the allocation",
)


def _slow_hash(passes: int = 400) -> str:
    """A stored hash whose verification takes seconds (argon2 reads its parameters from the string) and
    never matches: a cheap hash with its parameters replaced, so the test process does not pay them."""
    cheap = FAST_HASHER.hash("right-password-1")
    return cheap.replace("m=8,t=1,p=1", f"m=8192,t={passes},p=4")


def _poll(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


def _children(hashes: HashChildren) -> list[int]:
    return [child.proc.pid for child in hashes._all]


def _busy_child(hashes: HashChildren) -> int:
    """The pid of ``hashes``' one child once it is hashing (its lanes started)."""
    _poll(lambda: len(_children(hashes)) == 1)
    pid = _children(hashes)[0]
    _poll(lambda: len(list(Path(f"/proc/{pid}/task").iterdir())) > 1)
    return pid


def _in_thread(fn: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []

    def run() -> None:
        try:
            out.append(fn())
        except Exception as exc:
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def _service(users: UserStore, registry: CollectorRegistry, throttle: LoginThrottle) -> SessionLogin:
    """The log-in service as the server wires it for hash children (one slot, its thread at nice 0)."""
    return SessionLogin(
        users,
        SessionStore(idle_s=60, max_s=60),
        throttle=throttle,
        max_concurrent_hashes=1,
        hash_wait_s=1,
        attempts=login_counter(registry),
        refusals=refusals_counter(registry),
        hash_thread_nice=0,
    )


@pytest.fixture
def fast() -> Iterator[HashChildren]:
    hashes = HashChildren(2, params=FAST)
    yield hashes
    hashes.close()


def test_answers_and_errors_are_those_of_password_hasher(fast: HashChildren) -> None:
    stored = fast.hash("right-password-1")
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert fast.verify(stored, "right-password-1") is True
    assert PasswordHasher().verify(stored, "right-password-1")  # a real argon2id hash
    with pytest.raises(VerifyMismatchError):
        fast.verify(stored, "wrong-password-1")
    with pytest.raises(InvalidHashError):
        fast.verify("not-a-hash", "right-password-1")
    assert len(_children(fast)) == 1  # calls one after another reuse the last child (2 slots)


def test_a_child_killed_mid_hash_gives_a_clear_error_and_the_next_call_works() -> None:
    hashes = HashChildren(1, params=FAST, idle=False, timeout_s=60)
    try:
        stored = _slow_hash()
        thread, out = _in_thread(lambda: hashes.verify(stored, "right-password-1"))
        os.kill(_busy_child(hashes), signal.SIGKILL)
        thread.join(10)
        assert not thread.is_alive() and isinstance(out[0], HashUnavailableError)
        assert "exited" in str(out[0])
        quick = FAST_HASHER.hash("right-password-1")
        assert hashes.verify(quick, "right-password-1") is True  # a new child
    finally:
        hashes.close()


def test_a_child_that_died_between_calls_is_replaced_without_an_error(fast: HashChildren) -> None:
    stored = fast.hash("right-password-1")
    (dead,) = _children(fast)
    os.kill(dead, signal.SIGKILL)
    _poll(lambda: "Z" in Path(f"/proc/{dead}/stat").read_text().rsplit(")", 1)[1].split()[0])
    assert fast.verify(stored, "right-password-1") is True
    assert dead not in _children(fast) and len(_children(fast)) == 1


def _gone(pid: int) -> bool:
    """``pid`` was reaped (a zombie still has its /proc entry)."""
    return not Path(f"/proc/{pid}").exists()


def test_a_stopped_child_is_killed_once_its_cpu_time_stands_still_and_replaced() -> None:
    hashes = HashChildren(1, params=FAST, idle=False, stall_s=1.0, timeout_s=60)
    try:
        stored = _slow_hash(passes=4000)
        thread, out = _in_thread(lambda: hashes.verify(stored, "right-password-1"))
        hung = _busy_child(hashes)
        os.kill(hung, signal.SIGSTOP)
        thread.join(10)  # the stall window (1 s), far below the overall cap (60 s)
        assert isinstance(out[0], HashUnavailableError) and "no progress" in str(out[0])
        assert _gone(hung)
        quick = FAST_HASHER.hash("right-password-1")
        assert hashes.verify(quick, "right-password-1") is True
        assert hung not in _children(hashes)
    finally:
        hashes.close()


def test_a_slow_child_that_still_computes_is_not_killed() -> None:
    """A saturated host, simulated: the child runs 0.3 s in every 1.3 s (stopped in between: shorter than
    the stall window), so its hash lasts well over the stall window of wall time while its CPU time keeps
    advancing: it must answer."""
    hashes = HashChildren(1, params=FAST, idle=False, stall_s=2.0, timeout_s=60)
    try:
        stored = _slow_hash(passes=400)
        start = time.monotonic()
        thread, out = _in_thread(lambda: hashes.verify(stored, "right-password-1"))
        pid = _busy_child(hashes)
        with contextlib.suppress(ProcessLookupError):  # a child killed meanwhile: the asserts say so
            while thread.is_alive():
                os.kill(pid, signal.SIGSTOP)
                time.sleep(1.0)
                os.kill(pid, signal.SIGCONT)
                thread.join(0.3)
        thread.join(10)
        assert isinstance(out[0], VerifyMismatchError)  # the verdict (the slow hash never matches), not 503
        assert time.monotonic() - start > 1.5 * hashes.stall_s  # a wall-clock limit of stall_s had killed it
        assert _children(hashes) == [pid]  # and the child kept
    finally:
        hashes.close()


@pytest.mark.parametrize(("stall_s", "timeout_s"), [(0, 1), (1, 0), (-1, 1)])
def test_bounds_must_be_positive(stall_s: float, timeout_s: float) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        HashChildren(1, params=FAST, idle=False, stall_s=stall_s, timeout_s=timeout_s)


def test_a_child_that_computes_past_the_overall_cap_is_killed() -> None:
    hashes = HashChildren(1, params=FAST, idle=False, stall_s=30, timeout_s=0.5)
    try:
        with pytest.raises(HashUnavailableError, match=r"took over 0\.5 s"):
            hashes.verify(_slow_hash(passes=4000), "right-password-1")
        assert _children(hashes) == []
    finally:
        hashes.close()


@needs_refused_overcommit
def test_an_argon2_failure_that_is_not_a_mismatch_is_no_verdict(tmp_path: Path, fast: HashChildren) -> None:
    with pytest.raises(HashUnavailableError, match="Memory allocation error"):
        fast.verify(_no_memory_hash(), "right-password-1")
    assert fast.verify(FAST_HASHER.hash("right-password-1"), "right-password-1") is True  # the child lives on
    in_process = UserStore(tmp_path / "users.json", hasher=FAST_HASHER)  # the same rule without children
    in_process.create("alice", "viewer", "right-password-1")
    path = tmp_path / "users.json"
    alice = next(u.password_hash for u in in_process.users())
    path.write_text(path.read_text().replace(alice, _no_memory_hash()))
    with pytest.raises(HashUnavailableError, match="Memory allocation error"):
        in_process.authenticate("alice", "right-password-1")


@needs_refused_overcommit
def test_a_log_in_that_argon2_cannot_check_is_503_not_cached_and_not_counted(
    tmp_path: Path, fast: HashChildren
) -> None:
    path = tmp_path / "users.json"
    users = UserStore(path, hasher=fast)
    users.create("alice", "viewer", "right-password-1")
    alice = next(u.password_hash for u in users.users())
    path.write_text(path.read_text().replace(alice, _no_memory_hash()))
    registry, throttle = CollectorRegistry(), LoginThrottle(free_failures=1)
    service = _service(users, registry, throttle)
    for _ in range(3):  # each one hashed again (no cached verdict) and none a failure (no lock-out)
        with pytest.raises(LoginRefusedError) as refused:
            asyncio.run(service.login("alice", "right-password-1", "c1"))
        assert refused.value.status == 503 and str(refused.value) == UNAVAILABLE
    assert registry.get_sample_value("paramedic_login_attempts_total", {"result": "busy"}) == 3
    assert registry.get_sample_value("paramedic_login_attempts_total", {"result": "failure"}) == 0
    assert throttle.retry_after("c1", "alice") == 0
    assert service.verdicts.get("alice", users.credential("alice"), "right-password-1") is None


def test_a_request_larger_than_the_pipe_to_a_stopped_child_is_bounded(fast: HashChildren) -> None:
    fast.stall_s = 0.5
    stored = fast.hash("right-password-1")
    (pid,) = _children(fast)
    os.kill(pid, signal.SIGSTOP)
    thread, out = _in_thread(lambda: fast.verify(stored, "x" * (1 << 20)))  # 1 MiB: 16 pipe buffers
    thread.join(10)
    assert not thread.is_alive() and isinstance(out[0], HashUnavailableError)
    assert _gone(pid)


def test_close_kills_and_reaps_every_child() -> None:
    hashes = HashChildren(2, params=FAST, idle=False)
    thread, _ = _in_thread(lambda: hashes.verify(_slow_hash(passes=4000), "right-password-1"))
    busy = _busy_child(hashes)
    idle_child = None
    try:
        hashes.hash("right-password-1")  # the other slot: a second child, idle once it answered
        (idle_child,) = set(_children(hashes)) - {busy}
    finally:
        hashes.close()
    thread.join(10)
    assert not thread.is_alive() and _gone(busy) and idle_child is not None and _gone(idle_child)


def test_a_child_that_died_in_an_unused_slot_is_reaped(fast: HashChildren) -> None:
    thread, _ = _in_thread(lambda: fast.verify(_slow_hash(), "right-password-1"))
    busy = _busy_child(fast)
    fast.hash("right-password-1")  # a second child
    thread.join(30)
    bottom = fast._free.queue[0]  # the slot the next call does not take (last in, first out)
    assert bottom is not None
    os.kill(bottom.proc.pid, signal.SIGKILL)
    _poll(lambda: "Z" in Path(f"/proc/{bottom.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0])
    assert fast.verify(FAST_HASHER.hash("right-password-1"), "right-password-1") is True
    assert _gone(bottom.proc.pid) and busy in _children(fast)


def test_children_that_fail_to_start_are_throttled_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A child that dies before its first answer (here: a parameter argon2 does not know) is retried with
    the next calls; after three in a row no child is started for a while, and that is said once."""
    hashes = HashChildren(1, params={**FAST, "no_such_parameter": 1}, idle=False)
    try:
        with caplog.at_level(logging.WARNING, logger="paramedic.auth._hash_child"):
            for _ in range(3):
                with pytest.raises(HashUnavailableError, match="exited"):
                    hashes.hash("right-password-1")
            for _ in range(5):
                with pytest.raises(HashUnavailableError, match="keep failing to start"):
                    hashes.hash("right-password-1")
        assert _children(hashes) == []
        backoffs = [r for r in caplog.records if "in a row exited before answering" in r.getMessage()]
        assert len(backoffs) == 1
    finally:
        hashes.close()


def test_a_child_whose_server_is_gone_exits_quietly() -> None:
    """The server exited (its end of our stdout closed) while we hashed: no BrokenPipeError traceback."""
    child = subprocess.Popen(
        [sys.executable, "-I", str(CHILD), json.dumps({**FAST, "idle": False})],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    child.stdout.close()
    _, err = child.communicate(
        json.dumps({"op": "hash", "password": "right-password-1"}).encode() + b"\n", 60
    )
    assert child.returncode == 0 and err == b""


@pytest.mark.skipif(idle_class_refusal() is not None, reason="this host may not leave SCHED_IDLE again")
def test_a_late_idle_class_hash_is_lifted_with_its_lanes() -> None:
    hashes = HashChildren(1, params=FAST, lift_after_s=1.0, timeout_s=60)
    try:
        assert hashes.idle
        thread, _ = _in_thread(lambda: hashes.verify(_slow_hash(passes=2000), "right-password-1"))
        pid = _busy_child(hashes)
        assert os.sched_getscheduler(pid) == SCHED_IDLE  # hashing idle-class first
        assert os.getpriority(os.PRIO_PROCESS, pid) == 19

        def lifted() -> bool:
            tids = [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
            try:
                return len(tids) > 1 and all(os.sched_getscheduler(t) == SCHED_OTHER for t in tids)
            except ProcessLookupError:  # a lane ended between the listing and the look
                return False

        _poll(lifted)  # the lanes too: those running and those started after
        assert thread.is_alive()  # lifted while it hashes, not after
    finally:
        hashes.close()


@pytest.mark.skipif(shutil.which("setpriv") is None or os.geteuid() != 0, reason="needs root and setpriv")
def test_a_host_that_refuses_the_lift_keeps_children_out_of_the_idle_class_with_one_warning() -> None:
    """Root without CAP_SYS_NICE and with RLIMIT_NICE 0 (the real kernel) may enter SCHED_IDLE but not
    leave it: the probe says so, the children never enter it, and one warning says why."""
    code = (
        "import logging, resource; logging.basicConfig()\n"
        "resource.setrlimit(resource.RLIMIT_NICE, (0, 0))\n"
        "from paramedic.auth._hash_child import HashChildren\n"
        "print(HashChildren(1).idle)\n"
    )
    drop = ["setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice"]
    out = subprocess.run(
        [*drop, sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"
    warnings = [line for line in out.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and "cannot leave SCHED_IDLE" in warnings[0] and "nice 19" in warnings[0]


def test_without_the_idle_class_the_child_hashes_at_nice_19_only() -> None:
    hashes = HashChildren(1, params=FAST, idle=False, timeout_s=60)
    try:
        stored = _slow_hash()
        thread, _ = _in_thread(lambda: hashes.verify(stored, "right-password-1"))
        pid = _busy_child(hashes)
        assert os.sched_getscheduler(pid) == SCHED_OTHER
        assert os.getpriority(os.PRIO_PROCESS, pid) == 19
        hashes.close()  # ends the call: it gets a clear error, not a hang
        thread.join(10)
        assert not thread.is_alive()
    finally:
        hashes.close()


def test_a_log_in_whose_child_dies_gets_503_and_the_next_log_in_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    hashes = HashChildren(1, params=FAST, idle=False, timeout_s=60)
    path = tmp_path / "users.json"
    users = UserStore(path, hasher=hashes)
    users.create("alice", "viewer", "right-password-1")
    users.create("bob", "viewer", "right-password-1")
    bob = next(u.password_hash for u in users.users() if u.name == "bob")
    path.write_text(path.read_text().replace(bob, _slow_hash()))  # bob's check takes seconds
    registry = CollectorRegistry()
    service = _service(users, registry, LoginThrottle())

    async def two() -> tuple[BaseException | str | None, str | None]:
        first = asyncio.create_task(service.login("bob", "right-password-1", "c1"))
        await asyncio.to_thread(_busy_child, hashes)
        os.kill(_children(hashes)[0], signal.SIGKILL)
        refused = (await asyncio.gather(first, return_exceptions=True))[0]
        return refused, await service.login("alice", "right-password-1", "c1")

    try:
        with caplog.at_level(logging.WARNING, logger="paramedic.auth._login"):
            refused, session = asyncio.run(two())
    finally:
        hashes.close()
    assert isinstance(refused, LoginRefusedError) and (refused.status, refused.retry_after_s) == (503, 1)
    assert str(refused) == UNAVAILABLE  # no internals on the page: the cause is in the server's log
    assert any("bob" in r.getMessage() and "exited (-9)" in r.getMessage() for r in caplog.records)
    assert isinstance(session, str)
    assert registry.get_sample_value("paramedic_login_attempts_total", {"result": "busy"}) == 1
    assert registry.get_sample_value("paramedic_login_attempts_total", {"result": "success"}) == 1


def test_unknown_names_are_verified_in_the_child_like_known_ones(tmp_path: Path, fast: HashChildren) -> None:
    users = UserStore(tmp_path / "users.json", hasher=fast)
    users.create("alice", "viewer", "right-password-1")
    assert users.authenticate("mallory", "right-password-1") is None  # the dummy hash, made by a child
    assert users._dummy_hash is not None and users._dummy_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert users.authenticate("alice", "right-password-1") is not None


def test_the_server_checks_passwords_in_a_child_process(tmp_path: Path) -> None:
    """The wiring (:func:`paramedic.auth.install`): a log-in's hash runs in a ``_hash_child.py`` process of
    the server, idle class first where this host allows the lift."""
    UserStore(tmp_path / "users.json", hasher=FAST_HASHER).create("admin", "admin", "admin-password-1")
    cfg = parse_config(
        "server: {auth: {tokens_file: tokens.json}}\nmetrics_store: {type: embedded, path: metrics}\n"
    )
    server = Paramedic(cfg, base_dir=tmp_path, registry=CollectorRegistry())
    before = set(_hash_children_of_this_process())
    with TestClient(server.app, base_url="http://127.0.0.1", follow_redirects=False) as client:
        page = client.get("/login")
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match is not None
        form = {"username": "admin", "password": "admin-password-1", "csrf_token": match.group(1)}
        assert client.post("/login", data=form).status_code == 303
        started = set(_hash_children_of_this_process()) - before
    assert started
    assert all(_gone(pid) for pid in started)  # the lifespan's end killed and reaped them


def _hash_children_of_this_process() -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"_hash_child.py" in cmdline:
            found.append(int(stat.parent.name))
    return found


def test_children_work_when_the_server_holds_over_1024_descriptors(fast: HashChildren) -> None:
    """A server with 1,024+ connections open gives a new child's pipes descriptors above 1023, which
    ``select()`` refuses (the right password answered 503 until the connections went away)."""
    import resource  # noqa: PLC0415 - this test only

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4096)), hard))
    held: list[int] = []
    try:
        while not held or held[-1] < 1100:
            held.append(os.open(os.devnull, os.O_RDONLY))
        assert fast.verify(FAST_HASHER.hash("right-password-1"), "right-password-1") is True
        assert min(child.stdout.fileno() for child in fast._all) > 1023
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_call_that_fails_after_its_request_was_sent_never_hands_its_answer_to_the_next(
    fast: HashChildren, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever ends a call once the child has the request (here a MemoryError), that child is dropped: were
    it reused, the next call would read the right password's "ok" as its own answer."""
    from paramedic.auth import _hash_child  # noqa: PLC0415 - this test only

    right = FAST_HASHER.hash("right-password-1")
    assert fast.verify(right, "right-password-1") is True  # a child in the slot
    checks = {"n": 0}
    real_check = _hash_child._Watch.check

    def check_then_fail(self: _hash_child._Watch) -> None:
        checks["n"] += 1
        if checks["n"] == 2:  # the request is written by the time of the loop's second check
            raise MemoryError("injected")
        real_check(self)

    monkeypatch.setattr(_hash_child._Watch, "check", check_then_fail)
    with pytest.raises(MemoryError):
        fast.verify(right, "right-password-1")
    monkeypatch.setattr(_hash_child._Watch, "check", real_check)
    with pytest.raises(VerifyMismatchError):
        fast.verify(right, "a-wrong-password")


class _Unavailable:
    """A hasher whose every verification finds no child (as while children keep failing to start)."""

    def hash(self, password: str) -> str:
        return FAST_HASHER.hash(password)

    def verify(self, hash: str, password: str) -> bool:
        raise HashUnavailableError("hash children keep failing to start: next try in 60 s")


def test_the_cause_of_a_503_is_logged_at_most_once_a_minute_with_the_name_cut_short(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    users = UserStore(tmp_path / "users.json", hasher=_Unavailable())
    name = "x" * 300  # no such user: unknown names are checked against a stand-in hash, the same way
    registry = CollectorRegistry()
    service = _service(users, registry, LoginThrottle())
    caplog.set_level(logging.WARNING, logger="paramedic.auth._login")
    for _ in range(20):  # a 503 is no throttle failure: a client may repeat it without bound
        with pytest.raises(LoginRefusedError):
            asyncio.run(service.login(name, "right-password-1", "c1"))
    lines = [r.getMessage() for r in caplog.records if "got 503" in r.getMessage()]
    assert len(lines) == 1 and "next try in 60 s" in lines[0]
    assert len(lines[0]) < 200 and "x" * 70 not in lines[0]
    assert registry.get_sample_value("paramedic_login_attempts_total", {"result": "busy"}) == 20


@pytest.mark.skipif(not HAS_SLICES, reason="slice requests need Linux >= 6.12 on x86_64/aarch64")
def test_a_child_started_by_a_short_slice_thread_hashes_at_the_default_slice() -> None:
    """The server's event loop asks for a short slice (paramedic.latency_slice), and a child inherits it:
    its argon2 lanes would then preempt reads as readily as the server's own threads do."""
    default = slice_in_thread(get_thread_slice_ns)
    hashes = HashChildren(1, params=FAST, idle=False, timeout_s=60)
    try:

        def hash_with_a_short_slice() -> int:
            set_thread_slice(200_000)
            hashes.hash("right-password-1")
            return get_thread_slice_ns()

        assert slice_in_thread(hash_with_a_short_slice) == 200_000
        (pid,) = _children(hashes)
        assert get_thread_slice_ns(pid) == default != 200_000
    finally:
        hashes.close()
