"""Log-in throttling (per client, per user name, exponential lockouts), the bound on concurrent password
hashes, hashing off the event loop, and unknown names costing one verification like known ones."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from dashboard.auth_pages import LoginRefusedError
from paramedic.assembly import Paramedic
from paramedic.auth import LoginThrottle, Principal, SessionStore, UserStore, refusals_counter
from paramedic.auth._login import LOGIN_HASH_NICE, SessionLogin, login_counter
from paramedic.config import parse_config

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # tests only: cheap hashes
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_lockouts_start_after_the_free_failures_and_double_up_to_the_cap() -> None:
    clock = Clock()
    throttle = LoginThrottle(free_failures=5, initial_s=1, max_s=900, clock=clock)
    for _ in range(4):
        throttle.failure("198.51.100.7", "admin")
        assert throttle.retry_after("198.51.100.7", "admin") == 0
    waits = []
    for _ in range(13):
        throttle.failure("198.51.100.7", "admin")
        waits.append(throttle.retry_after("198.51.100.7", "admin"))
    assert waits[:6] == [1, 2, 4, 8, 16, 32]
    assert waits[-1] == 900 and max(waits) == 900
    clock.now += 900
    assert throttle.retry_after("198.51.100.7", "admin") == 0


def test_client_and_user_are_counted_apart() -> None:
    clock = Clock()
    throttle = LoginThrottle(free_failures=2, initial_s=10, max_s=100, clock=clock)
    throttle.failure("a", "alice")
    throttle.failure("b", "alice")  # alice: 2 failures from two clients: locked
    assert throttle.retry_after("c", "alice") == 10
    assert throttle.retry_after("a", "bob") == 0  # client a: 1 failure
    for name in ("u1", "u2"):  # a spray of names from one client: the client is locked
        throttle.failure("d", name)
    assert throttle.retry_after("d", "u3") == 10


def test_a_success_clears_the_user_but_not_the_client() -> None:
    clock = Clock()
    throttle = LoginThrottle(free_failures=1, initial_s=5, max_s=60, clock=clock)
    throttle.failure("guesser", "alice")
    clock.now += 5
    throttle.success("alice")
    assert throttle.retry_after("elsewhere", "alice") == 0
    throttle.failure("guesser", "bob")
    assert throttle.retry_after("guesser", "carol") == 10  # the client kept its count: 2 failures


def test_records_are_bounded_and_forgotten_when_idle() -> None:
    clock = Clock()
    throttle = LoginThrottle(free_failures=1, initial_s=1, max_s=10, max_entries=50, clock=clock)
    for i in range(1000):
        throttle.failure(f"10.0.{i // 250}.{i % 250}", f"user{i}")
    assert len(throttle._records) == 50
    throttle.failure("x", "y")
    clock.now += 100
    assert throttle.retry_after("x", "y") == 0
    assert ("client", "x") not in throttle._records


class SlowUsers:
    """A user store whose verification blocks until released, recording the threads it ran on."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.threads: list[int] = []

    def credential(self, name: str) -> str | None:
        return "c"

    def authenticate(self, name: str, password: str) -> Principal | None:
        self.threads.append(threading.get_ident())
        assert self.release.wait(10)
        return Principal(name, "viewer") if password == "right-password" else None

    def get(self, name: str) -> Principal | None:
        return Principal(name, "viewer")


def _service(users: object, *, hashes: int, wait_s: float) -> tuple[SessionLogin, CollectorRegistry]:
    registry = CollectorRegistry()
    service = SessionLogin(
        users,  # type: ignore[arg-type]
        SessionStore(idle_s=60, max_s=60),
        throttle=LoginThrottle(),
        max_concurrent_hashes=hashes,
        hash_wait_s=wait_s,
        attempts=login_counter(registry),
        refusals=refusals_counter(registry),
    )
    return service, registry


def test_hashes_run_off_the_event_loop_and_excess_log_ins_get_503() -> None:
    users = SlowUsers()
    service, registry = _service(users, hashes=2, wait_s=0.05)

    async def burst() -> tuple[list[object], int]:
        loop = asyncio.get_running_loop()
        tasks = [asyncio.create_task(service.login(f"u{i}", "right-password", f"c{i}")) for i in range(5)]
        deadline = loop.time() + 5
        while sum(t.done() for t in tasks) < 3 and loop.time() < deadline:  # the 3 over the bound give up
            await asyncio.sleep(0.01)
        users.release.set()
        return await asyncio.gather(*tasks, return_exceptions=True), threading.get_ident()

    outcomes, loop_thread = asyncio.run(burst())
    busy = [o for o in outcomes if isinstance(o, LoginRefusedError)]
    assert {(e.status, e.retry_after_s) for e in busy} == {(503, 1)}
    assert len(busy) == 3 and sum(isinstance(o, str) for o in outcomes) == 2
    assert len(users.threads) == 2 and loop_thread not in users.threads
    assert registry.get_sample_value("paramedic_login_attempts_total", {"result": "busy"}) == 3
    assert registry.get_sample_value("paramedic_login_attempts_total", {"result": "success"}) == 2
    assert registry.get_sample_value("paramedic_http_refusals_total", {"reason": "login_busy"}) == 3


def test_a_locked_out_log_in_costs_no_hash() -> None:
    users = SlowUsers()
    users.release.set()
    service, registry = _service(users, hashes=2, wait_s=1)

    async def guesses() -> LoginRefusedError:
        for i in range(5):  # five different guesses: a repeated one costs no hash (test_login_verdicts)
            assert await service.login("admin", f"guess-{i}", "203.0.113.9") is None
        with pytest.raises(LoginRefusedError) as info:
            await service.login("admin", "right-password", "203.0.113.9")
        return info.value

    refused = asyncio.run(guesses())
    assert (refused.status, refused.retry_after_s) == (429, 1)
    assert len(users.threads) == 5
    assert registry.get_sample_value("paramedic_http_refusals_total", {"reason": "login_throttled"}) == 1


def test_guesses_sent_at_once_cost_no_hash_once_the_first_ones_lock_the_user_out() -> None:
    """Eight wrong passwords at once all pass the throttle before any has failed; those that queued for the
    hash slot behind the first five failures are refused (429) when they get it, unhashed."""
    users = SlowUsers()
    users.release.set()
    registry = CollectorRegistry()
    service = SessionLogin(
        users,  # type: ignore[arg-type]
        SessionStore(idle_s=60, max_s=60),
        throttle=LoginThrottle(free_failures=5, initial_s=30, clock=Clock()),
        max_concurrent_hashes=1,
        hash_wait_s=10,
        attempts=login_counter(registry),
        refusals=refusals_counter(registry),
    )

    async def burst() -> list[object]:
        tasks = [service.login("admin", f"guess-{i}", "203.0.113.9") for i in range(8)]
        return await asyncio.gather(*tasks, return_exceptions=True)

    outcomes = asyncio.run(burst())
    assert outcomes.count(None) == 5 and len(users.threads) == 5
    refused = [o for o in outcomes if isinstance(o, LoginRefusedError)]
    assert [(e.status, e.retry_after_s) for e in refused] == [(429, 30)] * 3
    assert registry.get_sample_value("paramedic_login_attempts_total", {"result": "failure"}) == 5
    assert registry.get_sample_value("paramedic_login_attempts_total", {"result": "throttled"}) == 3


class NiceRecordingUsers(SlowUsers):
    """Records the nice value of the thread each verification runs on."""

    def __init__(self) -> None:
        super().__init__()
        self.release.set()
        self.nice: list[int] = []

    def authenticate(self, name: str, password: str) -> Principal | None:
        self.nice.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return super().authenticate(name, password)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux-only")
def test_password_hashes_run_at_the_lowest_cpu_priority() -> None:
    """argon2's lanes inherit the hash thread's nice value: at 19 two hashes at once weigh 120 against a
    query thread's 1,024 (at 10 they weighed 880)."""
    users = NiceRecordingUsers()
    service, _ = _service(users, hashes=2, wait_s=1)

    async def two() -> list[object]:
        return await asyncio.gather(*(service.login(f"u{i}", "right-password", f"c{i}") for i in range(2)))

    assert all(isinstance(s, str) for s in asyncio.run(two()))
    assert users.nice == [LOGIN_HASH_NICE] * 2 and LOGIN_HASH_NICE == 19


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified.append(str(hash))
        return super().verify(hash, password)


def test_unknown_names_cost_one_verification_with_the_same_parameters(tmp_path: Path) -> None:
    hasher = CountingHasher()
    users = UserStore(tmp_path / "users.json", hasher=hasher)
    users.create("alice", "operator", "alice-password-1")
    assert users.authenticate("alice", "wrong-password-1") is None
    assert users.authenticate("mallory", "wrong-password-1") is None
    assert users.authenticate("mallory", "another-guess-1") is None
    assert len(hasher.verified) == 3
    params = {h.rsplit("$", 2)[0] for h in hasher.verified}  # $argon2id$v=19$m=8,t=1,p=1
    assert len(params) == 1


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    UserStore(tmp_path / "users.json").create("admin", "admin", "admin-password-1")
    cfg = parse_config(
        "server: {auth: {tokens_file: tokens.json, login: {free_failures: 3, lockout_initial_s: 30}}}\n"
        "metrics_store: {type: embedded, path: metrics}\n"
    )
    server = Paramedic(cfg, base_dir=tmp_path, registry=CollectorRegistry())
    with TestClient(server.app, base_url="http://127.0.0.1", follow_redirects=False) as c:
        yield c


def _post_login(client: TestClient, password: str) -> int:
    page = client.get("/login")
    match = _CSRF_FIELD.search(page.text)
    assert match is not None
    form = {"username": "admin", "password": password, "csrf_token": match.group(1)}
    resp = client.post("/login", data=form)
    if resp.status_code == 429:
        assert int(resp.headers["Retry-After"]) >= 1
        assert "Too many failed log-ins" in resp.text
    return resp.status_code


def test_login_page_answers_429_with_retry_after(client: TestClient) -> None:
    assert [_post_login(client, "wrong-password-x") for _ in range(3)] == [401, 401, 401]
    assert _post_login(client, "admin-password-1") == 429  # locked: even the right password waits
    metrics = client.get("/metrics").text
    assert 'paramedic_login_attempts_total{result="throttled"} 1.0' in metrics
    assert 'paramedic_login_attempts_total{result="failure"} 3.0' in metrics
