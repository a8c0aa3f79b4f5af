"""Remembered password verdicts: the same name, unchanged user and password again costs no argon2 hash;
a wrong password is never accepted; a replaced or deleted user's remembered verdicts no longer apply; the
throttle still counts every failure; the cache is bounded in size and time."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from prometheus_client import CollectorRegistry

from dashboard.auth_pages import LoginRefusedError
from paramedic.auth import LoginThrottle, Principal, SessionStore, UserStore, refusals_counter
from paramedic.auth._login import SessionLogin, login_counter
from paramedic.auth._verdicts import VerdictCache
from paramedic.config import parse_config

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # tests only: cheap hashes
RIGHT = "right-password-1"
CLIENT = "203.0.113.9"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingUsers(UserStore):
    """A real user store that counts its password verifications (each one an argon2 hash)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, hasher=FAST)
        self.hashes = 0
        self._count_lock = threading.Lock()

    def authenticate(self, name: str, password: str) -> Principal | None:
        with self._count_lock:
            self.hashes += 1
        return super().authenticate(name, password)


@pytest.fixture
def users(tmp_path: Path) -> CountingUsers:
    store = CountingUsers(tmp_path / "users.json")
    store.create("alice", "viewer", RIGHT)
    return store


def _service(
    users: UserStore, *, hashes: int = 2, verdicts: VerdictCache | None = None, free_failures: int = 5
) -> tuple[SessionLogin, CollectorRegistry]:
    registry = CollectorRegistry()
    service = SessionLogin(
        users,
        SessionStore(idle_s=60, max_s=60),
        throttle=LoginThrottle(free_failures=free_failures, initial_s=30, clock=Clock()),
        max_concurrent_hashes=hashes,
        hash_wait_s=5,
        attempts=login_counter(registry),
        refusals=refusals_counter(registry),
        verdicts=verdicts,
    )
    return service, registry


def test_the_cache_answers_only_for_the_same_name_credential_and_password() -> None:
    cache = VerdictCache()
    assert cache.get("alice", "c1", "pw") is None
    cache.put("alice", "c1", "pw", ok=True)
    cache.put("alice", "c1", "other", ok=False)
    assert cache.get("alice", "c1", "pw") is True
    assert cache.get("alice", "c1", "other") is False
    assert cache.get("alice", "c2", "pw") is None  # replaced user: a new credential
    assert cache.get("alice", None, "pw") is None  # deleted user
    assert cache.get("bob", "c1", "pw") is None
    assert cache.get("alice", "c1", "pw ") is None
    cache.put("ab", "c", "d", ok=True)  # fields are length-prefixed: no two triples share an input
    assert cache.get("a", "bc", "d") is None and cache.get("ab", "cd", "") is None


def test_the_cache_keeps_no_password_and_differs_per_process() -> None:
    one, two = VerdictCache(), VerdictCache()
    one.put("alice", "c1", RIGHT, ok=True)
    two.put("alice", "c1", RIGHT, ok=True)
    assert set(one._entries).isdisjoint(two._entries)  # keyed with a random key per cache
    assert all(RIGHT.encode() not in key for key in one._entries)


def test_verdicts_expire_and_are_bounded() -> None:
    clock = Clock()
    cache = VerdictCache(ttl_s=10, max_entries=3, clock=clock)
    cache.put("alice", "c", "pw", ok=True)
    clock.now += 9.9
    assert cache.get("alice", "c", "pw") is True
    clock.now += 0.1
    assert cache.get("alice", "c", "pw") is None and len(cache) == 0
    for i in range(10):
        cache.put("alice", "c", f"guess-{i}", ok=False)
    assert len(cache) == 3
    assert cache.get("alice", "c", "guess-0") is None and cache.get("alice", "c", "guess-9") is False
    off = VerdictCache(ttl_s=0)
    off.put("alice", "c", "pw", ok=True)
    assert off.get("alice", "c", "pw") is None and len(off) == 0  # off: nothing is kept


def test_a_repeated_wrong_password_costs_no_hash_and_still_counts_as_a_failure(users: CountingUsers) -> None:
    service, registry = _service(users, free_failures=3)

    async def guesses() -> LoginRefusedError:
        for _ in range(3):
            assert await service.login("alice", "wrong-password", CLIENT) is None
        with pytest.raises(LoginRefusedError) as info:  # locked out after the 3 free failures
            await service.login("alice", RIGHT, CLIENT)
        return info.value

    refused = asyncio.run(guesses())
    assert users.hashes == 1
    assert (refused.status, refused.retry_after_s) == (429, 30)
    assert registry.get_sample_value("paramedic_login_attempts_total", {"result": "failure"}) == 3


def test_a_remembered_success_logs_in_without_a_hash_and_never_accepts_another_password(
    users: CountingUsers,
) -> None:
    service, registry = _service(users)

    async def logins() -> list[str | None]:
        first = await service.login("alice", RIGHT, CLIENT)
        again = await service.login("alice", RIGHT, "198.51.100.1")
        wrong = await service.login("alice", RIGHT + "x", CLIENT)
        return [first, again, wrong]

    first, again, wrong = asyncio.run(logins())
    assert first is not None and again is not None and first != again
    assert wrong is None
    assert users.hashes == 2  # the right password once, the wrong one once
    session = service.sessions.get(again)
    assert session is not None and session.user == "alice"
    assert session.credential == users.credential("alice")
    assert registry.get_sample_value("paramedic_login_attempts_total", {"result": "success"}) == 2


def test_a_replaced_or_deleted_user_is_verified_afresh(users: CountingUsers) -> None:
    service, _ = _service(users)
    new_password = "new-password-22"

    async def logins() -> list[str | None]:
        assert await service.login("alice", RIGHT, CLIENT) is not None
        users.create("alice", "viewer", new_password, replace=True)  # the password changed
        old = await service.login("alice", RIGHT, CLIENT)
        new = await service.login("alice", new_password, CLIENT)
        users.delete("alice")
        gone = await service.login("alice", new_password, CLIENT)
        return [old, new, gone]

    old, new, gone = asyncio.run(logins())
    assert old is None and new is not None and gone is None
    assert users.hashes == 4  # no remembered verdict applied after the change or the deletion


def test_the_same_guess_sent_at_once_is_hashed_once_per_slot(users: CountingUsers) -> None:
    service, registry = _service(users, hashes=1, free_failures=50)

    async def burst() -> list[str | None]:
        return await asyncio.gather(*(service.login("alice", "guess-0", CLIENT) for _ in range(7)))

    assert asyncio.run(burst()) == [None] * 7
    assert users.hashes == 1  # those that waited for the slot found the verdict made meanwhile
    assert registry.get_sample_value("paramedic_login_attempts_total", {"result": "failure"}) == 7


def test_the_verdict_settings_are_in_the_config() -> None:
    login = parse_config("{}").server.auth.login
    assert (login.verdict_ttl_s, login.verdict_max_entries) == (60.0, 10_000)
    text = "server:\n  auth:\n    login: {verdict_ttl_s: 0, verdict_max_entries: 5}\n"
    login = parse_config(text).server.auth.login
    assert (login.verdict_ttl_s, login.verdict_max_entries) == (0.0, 5)
