"""argon2 password hashes in child processes, so a burst of log-in attempts costs the server's GIL and its
query threads' cores nothing (issue 11).

Why a child: argon2id verification is ~50 ms of CPU on 4 lane threads. In the server process, at nice 19, a
running lane keeps its ~3 ms slice when a query thread wakes (EEVDF), and the Python around the call holds
the server's GIL; putting the calling thread in ``SCHED_IDLE`` there stalled the event loop for 1.5-1.8 s
when that thread was preempted while holding the GIL (``bench/README.md``, "Tried in stop 31"). A child has
its own GIL: preempting it, in any class, stalls nobody in the server.

Scheduling: each child runs at nice 19 and enters ``SCHED_IDLE`` for every hash (its lanes inherit it), so
it runs only on a core nothing else wants. A hash must still finish on a saturated host: the thread waiting
for the answer (a normal-class server thread) lifts every thread of the child back to ``SCHED_OTHER`` (still
nice 19) after ``lift_after_s``. Leaving ``SCHED_IDLE`` needs ``CAP_SYS_NICE`` or ``RLIMIT_NICE`` >= 1, so
:func:`idle_class_refusal` tries the round trip once at start on a throwaway thread; where it is refused the
children stay at nice 19 only, with one warning.

Failure rule: a child that dies, answers nonsense or takes longer than ``timeout_s`` during a call is killed
and the call raises :class:`HashUnavailableError` (the log-in answers 503); the next call starts a new child
(one found dead between calls is replaced silently). A child ends when its stdin closes (the server exited).
A call never waits longer than ``timeout_s`` once it has a child. Thread-safe: up to ``children`` calls run
at once, each in its own child; more wait for a free one (the caller bounds how many: the log-in's slots).

The child is this file run by path under ``python -I`` (no server code, no ``PYTHONPATH``): it imports only
the standard library and argon2-cffi, and speaks one JSON line per request and answer over its stdin/stdout.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["HashChildren", "HashUnavailableError", "hasher_parameters", "idle_class_refusal"]

_log = logging.getLogger(__name__)
CHILD_NICE = 19
_MAX_LINE = 64 * 1024  # a PHC hash string is ~100 bytes: longer means the child is broken


class HashUnavailableError(RuntimeError):
    """No hash child could answer in time (it died, hung or failed to start): try again."""


def hasher_parameters(hasher: Any) -> dict[str, int]:
    """The parameters of an argon2-cffi ``PasswordHasher``, for :class:`HashChildren` to hash with."""
    names = ("time_cost", "memory_cost", "parallelism", "hash_len", "salt_len")
    return {name: int(getattr(hasher, name)) for name in names}


def idle_class_refusal() -> str | None:
    """None when a thread here can enter ``SCHED_IDLE`` and be lifted back by another thread; else why
    not. The children share this process' user and limits, so the answer holds for them."""
    if not sys.platform.startswith("linux"):
        return f"the idle scheduling class is Linux-only (platform {sys.platform})"
    entered, done = threading.Event(), threading.Event()
    state: dict[str, Any] = {}

    def throwaway() -> None:
        try:  # at the children's nice: leaving SCHED_IDLE is checked against RLIMIT_NICE at that value
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), CHILD_NICE)
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            state["tid"] = threading.get_native_id()
        except OSError as exc:
            state["error"] = f"cannot enter SCHED_IDLE: {exc}"
        entered.set()
        done.wait(5.0)

    thread = threading.Thread(target=throwaway, name="idle-class-probe", daemon=True)
    thread.start()
    try:
        if not entered.wait(5.0) or "tid" not in state:
            return str(state.get("error", "the probe thread did not start"))
        try:
            os.sched_setscheduler(state["tid"], os.SCHED_OTHER, os.sched_param(0))
        except OSError as exc:
            return f"a thread cannot leave SCHED_IDLE again ({exc}: needs CAP_SYS_NICE or RLIMIT_NICE >= 1)"
        return None
    finally:
        done.set()
        thread.join(5.0)


class _Child:
    """One child process and its read buffer; used by one call at a time."""

    def __init__(self, params: dict[str, int], idle: bool) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(Path(__file__).resolve()), json.dumps({**params, "idle": idle})],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        if self.proc.stdin is None or self.proc.stdout is None:  # pragma: no cover - both are PIPE above
            raise HashUnavailableError("the hash child has no pipes")
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        self.buffer = b""

    def ask(self, request: dict[str, str], lift_after_s: float | None, timeout_s: float) -> dict[str, Any]:
        self.stdin.write(json.dumps(request).encode() + b"\n")
        self.stdin.flush()
        fd, start = self.stdout.fileno(), time.monotonic()
        while b"\n" not in self.buffer:
            waited = time.monotonic() - start
            if waited >= timeout_s:
                raise HashUnavailableError(f"the password hash took over {timeout_s:g} s")
            wait = timeout_s - waited
            if lift_after_s is not None:
                wait = min(wait, max(0.0, lift_after_s - waited))
            if select.select([fd], [], [], wait)[0]:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise HashUnavailableError(f"the hash child exited ({self.proc.wait(1.0)})")
                self.buffer += chunk
                if len(self.buffer) > _MAX_LINE:
                    raise HashUnavailableError("the hash child sent an over-long answer")
            elif lift_after_s is not None and time.monotonic() - start >= lift_after_s:
                self.lift()
                lift_after_s = None
        line, _, self.buffer = self.buffer.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def lift(self) -> None:
        """Every thread of the child out of ``SCHED_IDLE`` (the main one first: lanes it starts after that
        inherit the normal class; those started before are in the listing taken after)."""
        pid = self.proc.pid
        tids = [pid]
        with contextlib.suppress(OSError):
            tids += [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir() if int(t.name) != pid]
        for tid in tids:
            try:
                os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
            except ProcessLookupError:
                pass  # a lane that ended meanwhile
            except OSError as exc:  # the probe said it works: a capability dropped since
                _log.warning("a password hash child could not leave the idle class: %s", exc)
                return

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5.0)
        for stream in (self.stdin, self.stdout):
            with contextlib.suppress(OSError):
                stream.close()


class HashChildren:
    """argon2id hashing and verification (the part of argon2-cffi's ``PasswordHasher`` that
    :class:`~paramedic.auth.UserStore` uses) in up to ``children`` child processes, started on first use.

    ``params``: the ``PasswordHasher`` parameters for new hashes (``time_cost``, ``memory_cost``,
    ``parallelism``, ``hash_len``, ``salt_len``); verification reads them from the stored hash.
    ``idle``: None probes (:func:`idle_class_refusal`); False keeps the children at nice 19 only."""

    def __init__(
        self,
        children: int,
        *,
        params: dict[str, int] | None = None,
        idle: bool | None = None,
        lift_after_s: float = 0.5,
        timeout_s: float = 10.0,
    ) -> None:
        if idle is None:
            refusal = idle_class_refusal()
            if refusal is not None:
                _log.warning("password hashes run at nice %d, not in the idle class: %s", CHILD_NICE, refusal)
            idle = refusal is None
        self.idle, self.lift_after_s, self.timeout_s = idle, lift_after_s, timeout_s
        self.params = params or {}
        self._free: queue.LifoQueue[_Child | None] = queue.LifoQueue()  # the last used child first
        self._all: set[_Child] = set()
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(children):
            self._free.put(None)  # a slot whose child starts on first use

    def verify(self, hash: str, password: str) -> bool:
        """True when ``password`` matches ``hash``; raises argon2's ``VerifyMismatchError``,
        ``VerificationError`` or ``InvalidHashError`` as ``PasswordHasher.verify`` does, and
        :class:`HashUnavailableError` when no child answered."""
        answer = self._ask({"op": "verify", "hash": hash, "password": password})
        if answer.get("ok") is True:
            return True
        from argon2 import exceptions  # noqa: PLC0415 - the errors PasswordHasher.verify raises

        error = {"mismatch": exceptions.VerifyMismatchError, "invalid": exceptions.InvalidHashError}
        raise error.get(str(answer.get("error")), exceptions.VerificationError)(str(answer.get("detail", "")))

    def hash(self, password: str) -> str:
        """A new argon2id hash of ``password`` with this object's parameters."""
        answer = self._ask({"op": "hash", "password": password})
        if not isinstance(answer.get("hash"), str):
            raise HashUnavailableError(f"the hash child failed: {answer.get('detail', '')}")
        return str(answer["hash"])

    def close(self) -> None:
        """Kill every child; later calls raise :class:`HashUnavailableError`."""
        with self._lock:
            self._closed = True
            children, self._all = list(self._all), set()
        for child in children:
            child.kill()

    def _ask(self, request: dict[str, str]) -> dict[str, Any]:
        child = self._free.get()
        if child is not None and child.proc.poll() is not None:  # died between calls: replaced, no error
            self._drop(child)
            child = None
        try:
            if child is None:
                with self._lock:
                    if self._closed:
                        raise HashUnavailableError("the password hash children are stopped")
                    child = _Child(self.params, self.idle)
                    self._all.add(child)
            lift = self.lift_after_s if self.idle else None
            answer = child.ask(request, lift, self.timeout_s)
        except (OSError, ValueError, HashUnavailableError) as exc:
            if child is not None:
                self._drop(child)
                child = None
            if isinstance(exc, HashUnavailableError):
                raise
            raise HashUnavailableError(f"the hash child failed: {exc}") from exc
        finally:
            self._free.put(child)
        return answer

    def _drop(self, child: _Child) -> None:
        _log.warning("password hash child %d stopped; a new one starts with the next log-in", child.proc.pid)
        child.kill()
        with self._lock:
            self._all.discard(child)


def _child_main(config: dict[str, Any]) -> None:  # pragma: no cover - runs in the child (tests drive it)
    """The child: nice 19, idle class for each request when asked; one JSON line in, one out."""
    from argon2 import PasswordHasher  # noqa: PLC0415 - the child's only dependency
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError  # noqa: PLC0415

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C to the server's group: it ends us by our stdin
    os.nice(max(0, CHILD_NICE - os.nice(0)))
    idle = bool(config.pop("idle", False))
    hasher = PasswordHasher(**config)
    for line in sys.stdin.buffer:
        request = json.loads(line)
        if idle:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # entering it needs no privilege
        answer: dict[str, object]
        try:
            if request["op"] == "hash":
                answer = {"hash": hasher.hash(request["password"])}
            else:
                answer = {"ok": hasher.verify(request["hash"], request["password"])}
        except VerifyMismatchError:
            answer = {"error": "mismatch"}
        except InvalidHashError as exc:
            answer = {"error": "invalid", "detail": str(exc)}
        except VerificationError as exc:
            answer = {"error": "verification", "detail": str(exc)}
        sys.stdout.buffer.write(json.dumps(answer).encode() + b"\n")
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    _child_main(json.loads(sys.argv[1]))
