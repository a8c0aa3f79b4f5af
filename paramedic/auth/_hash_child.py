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

Failure rule: a child that dies, answers nonsense or stops making progress during a call is killed and the
call raises :class:`HashUnavailableError` (the log-in answers 503); the next call starts a new child (one
found dead between calls is replaced silently). "No progress" is the child's CPU time (utime + stime of all
its threads, ``/proc/<pid>/stat``) not advancing for ``stall_s`` (10 s): a stopped (``SIGSTOP``), deadlocked
or swapped-out child. A child that computes slowly because the host is saturated is never killed for it (at
nice 19 an honest verification can take tens of seconds there, and killing it would refuse the right password
forever); only the generous overall cap ``timeout_s`` (120 s) ends it. Without ``/proc`` only the cap applies.
argon2's own failures other than a mismatch or a malformed hash (e.g. "Memory allocation error", which argon2
also reports as a ``VerificationError``) raise :class:`HashUnavailableError` too: they say nothing about the
password. A child ends when its stdin closes (the server exited); :meth:`HashChildren.close` kills and reaps
them all (the server's lifespan ends with it). After ``_START_FAILURES`` children in a row died before their
first answer (a broken interpreter or argon2 install), none is started for a back-off that doubles up to
``_BACKOFF_MAX_S``, with one warning per back-off, instead of one doomed process per log-in.
Thread-safe: up to ``children`` calls run at once, each in its own child; more wait for a free one (the caller
bounds how many: the log-in's slots).

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
_START_FAILURES = 3  # children in a row that died before their first answer: back off
_BACKOFF_MAX_S = 60.0


class HashUnavailableError(RuntimeError):
    """No hash child could answer (it died, stopped progressing, failed to start, or argon2 itself failed):
    says nothing about the password; try again."""


def cpu_ticks(pid: int) -> int | None:
    """CPU time of every thread of ``pid`` so far, in clock ticks (utime + stime of ``/proc/<pid>/stat``);
    None when unreadable (no ``/proc``, or the process is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, ValueError, IndexError):
        return None


class _Watch:
    """When to give up on a child during one call: its CPU time stood still for ``stall_s``, or the call
    has lasted ``timeout_s``. ``poll_s``: how often to look at its CPU time."""

    def __init__(self, pid: int, stall_s: float, timeout_s: float) -> None:
        self.pid, self.stall_s = pid, stall_s
        self.start = self.progressed = time.monotonic()
        self.deadline = self.start + timeout_s
        self.ticks = cpu_ticks(pid)
        self.poll_s = min(1.0, stall_s / 4)

    def check(self) -> None:
        """Raise :class:`HashUnavailableError` when the child is stalled or out of time."""
        now, ticks = time.monotonic(), cpu_ticks(self.pid)
        if ticks is not None and ticks != self.ticks:
            self.ticks, self.progressed = ticks, now
        elif ticks is not None and now - self.progressed >= self.stall_s:
            raise HashUnavailableError(f"the hash child made no progress (CPU time) for {self.stall_s:g} s")
        if now >= self.deadline:
            raise HashUnavailableError(f"the password hash took over {self.deadline - self.start:g} s")

    def wait_s(self) -> float:
        """How long to block before the next :meth:`check`."""
        return max(0.0, min(self.poll_s, self.deadline - time.monotonic()))


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
        # imported here: the child runs this file without server code. The child starts at the default slice
        # (a short one inherited from the event loop given back for the spawn only), so argon2's lanes do too
        # and nothing changes the child's attributes from outside (metrics_store.sched_slice)
        from metrics_store.sched_slice import default_slice_while  # noqa: PLC0415

        with default_slice_while():
            self.proc = subprocess.Popen(
                [sys.executable, "-I", str(Path(__file__).resolve()), json.dumps({**params, "idle": idle})],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        if self.proc.stdin is None or self.proc.stdout is None:  # pragma: no cover - both are PIPE above
            raise HashUnavailableError("the hash child has no pipes")
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        os.set_blocking(self.stdin.fileno(), False)  # a child that stops reading cannot block the writer
        self.buffer = b""
        self.answered = 0

    def ask(
        self, request: dict[str, str], lift_after_s: float | None, stall_s: float, timeout_s: float
    ) -> dict[str, Any]:
        """Send ``request`` and wait for the answer line, watched by :class:`_Watch` throughout (the write
        too); lift the child out of the idle class once ``lift_after_s`` has passed (None: never)."""
        out = memoryview(json.dumps(request).encode() + b"\n")
        watch = _Watch(self.proc.pid, stall_s, timeout_s)
        rfd, wfd = self.stdout.fileno(), self.stdin.fileno()
        poller = select.poll()  # not select(): a server holding 1,024+ connections gives pipes fds above 1023
        poller.register(rfd, select.POLLIN)
        poller.register(wfd, select.POLLOUT)
        while b"\n" not in self.buffer:
            watch.check()
            wait = watch.wait_s()
            if lift_after_s is not None:
                wait = min(wait, max(0.0, watch.start + lift_after_s - time.monotonic()))
            events = dict(poller.poll(wait * 1000))
            if out and events.get(wfd, 0) & (select.POLLOUT | select.POLLERR | select.POLLHUP):
                with contextlib.suppress(BlockingIOError):
                    out = out[os.write(wfd, out) :]  # a closed pipe raises BrokenPipeError (an OSError)
                if not out:
                    poller.unregister(wfd)
            if events.get(rfd, 0):  # data, or the end (POLLHUP): read says which
                chunk = os.read(rfd, 4096)
                if not chunk:
                    with contextlib.suppress(subprocess.TimeoutExpired):  # a closed stdout, still running
                        self.proc.wait(1.0)
                    raise HashUnavailableError(f"the hash child exited ({self.proc.returncode})")
                self.buffer += chunk
                if len(self.buffer) > _MAX_LINE:
                    raise HashUnavailableError("the hash child sent an over-long answer")
            if lift_after_s is not None and time.monotonic() - watch.start >= lift_after_s:
                self.lift()
                lift_after_s = None
        line, _, self.buffer = self.buffer.partition(b"\n")
        answer = json.loads(line)
        if not isinstance(answer, dict):
            raise HashUnavailableError("the hash child sent an answer that is not an object")
        self.answered += 1
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

    def kill(self, wait: bool = True) -> None:
        """SIGKILL, then reap (``wait``; else the caller reaps with :meth:`reap`) and close the pipes."""
        with contextlib.suppress(OSError):
            self.proc.kill()
        if wait:
            self.reap()
        for stream in (self.stdin, self.stdout):
            with contextlib.suppress(OSError):
                stream.close()

    def reap(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5.0)


class HashChildren:
    """argon2id hashing and verification (the part of argon2-cffi's ``PasswordHasher`` that
    :class:`~paramedic.auth.UserStore` uses) in up to ``children`` child processes, started on first use.

    ``params``: the ``PasswordHasher`` parameters for new hashes (``time_cost``, ``memory_cost``,
    ``parallelism``, ``hash_len``, ``salt_len``); verification reads them from the stored hash.
    ``idle``: None probes (:func:`idle_class_refusal`); False keeps the children at nice 19 only.
    ``stall_s``: a child whose CPU time stands still that long during a call is killed; ``timeout_s``: the
    longest a call may last even while its child computes (the module docstring says why both)."""

    def __init__(
        self,
        children: int,
        *,
        params: dict[str, int] | None = None,
        idle: bool | None = None,
        lift_after_s: float = 0.5,
        stall_s: float = 10.0,
        timeout_s: float = 120.0,
    ) -> None:
        if not (stall_s > 0 and timeout_s > 0):  # 0 would spin the waiting thread on /proc
            raise ValueError(f"stall_s and timeout_s must be positive (got {stall_s:g}, {timeout_s:g})")
        if idle is None:
            refusal = idle_class_refusal()
            if refusal is not None:
                _log.warning("password hashes run at nice %d, not in the idle class: %s", CHILD_NICE, refusal)
            idle = refusal is None
        self.idle, self.lift_after_s = idle, lift_after_s
        self.stall_s, self.timeout_s = stall_s, timeout_s
        self.params = params or {}
        self._free: queue.LifoQueue[_Child | None] = queue.LifoQueue()  # the last used child first
        self._all: set[_Child] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._start_failures = 0  # children in a row that died before their first answer
        self._no_start_until = 0.0
        for _ in range(children):
            self._free.put(None)  # a slot whose child starts on first use

    def verify(self, hash: str, password: str) -> bool:
        """True when ``password`` matches ``hash``; raises argon2's ``VerifyMismatchError`` (a wrong password)
        or ``InvalidHashError`` (a malformed hash) as ``PasswordHasher.verify`` does, and
        :class:`HashUnavailableError` for anything else: no child answered, or argon2 failed otherwise (its
        other ``VerificationError``s, e.g. a failed memory allocation, say nothing about the password)."""
        answer = self._ask({"op": "verify", "hash": hash, "password": password})
        if answer.get("ok") is True:
            return True
        from argon2 import exceptions  # noqa: PLC0415 - the errors PasswordHasher.verify raises

        error, detail = answer.get("error"), str(answer.get("detail", ""))
        if error == "mismatch":
            raise exceptions.VerifyMismatchError(detail)
        if error == "invalid":
            raise exceptions.InvalidHashError(detail)
        raise HashUnavailableError(f"the hash child could not verify ({error}): {detail}")

    def hash(self, password: str) -> str:
        """A new argon2id hash of ``password`` with this object's parameters."""
        answer = self._ask({"op": "hash", "password": password})
        if not isinstance(answer.get("hash"), str):
            raise HashUnavailableError(f"the hash child failed: {answer.get('detail', '')}")
        return str(answer["hash"])

    def close(self) -> None:
        """Kill every child and reap it (all killed first, then waited for); later calls raise
        :class:`HashUnavailableError`. A call in progress gets that error too."""
        with self._lock:
            self._closed = True
            children, self._all = list(self._all), set()
        for child in children:
            child.kill(wait=False)
        for child in children:
            child.reap()

    def _ask(self, request: dict[str, str]) -> dict[str, Any]:
        child = self._free.get()
        self._reap_idle()
        if child is not None and child.proc.poll() is not None:  # died between calls: replaced, no error
            self._drop(child)
            child = None
        try:
            if child is None:
                child = self._start()
            lift = self.lift_after_s if self.idle else None
            answer = child.ask(request, lift, self.stall_s, self.timeout_s)
        except BaseException as exc:  # whatever ended the call, the child may still owe an answer: drop it
            if child is not None:
                self._failed(child)
                self._drop(child)
                child = None
            if isinstance(exc, HashUnavailableError) or not isinstance(exc, OSError | ValueError):
                raise
            raise HashUnavailableError(f"the hash child failed: {exc}") from exc
        finally:
            self._free.put(child)
        self._start_failures = 0
        return answer

    def _start(self) -> _Child:
        """A new child, unless closed or backing off after children that died before their first answer."""
        with self._lock:
            if self._closed:
                raise HashUnavailableError("the password hash children are stopped")
            wait = self._no_start_until - time.monotonic()
            if wait > 0:
                raise HashUnavailableError(f"hash children keep failing to start: next try in {wait:.0f} s")
            child = _Child(self.params, self.idle)
            self._all.add(child)
            return child

    def _failed(self, child: _Child) -> None:
        """Count a child that died before its first answer; back off (one warning) after several in a row."""
        if child.answered or child.proc.poll() is None:  # it had worked, or was killed by us: not a start
            return
        with self._lock:
            self._start_failures += 1
            if self._start_failures >= _START_FAILURES:
                backoff = min(_BACKOFF_MAX_S, 2.0 ** (self._start_failures - _START_FAILURES))
                self._no_start_until = time.monotonic() + backoff
                _log.warning(
                    "%d password hash children in a row exited before answering (last: %s); none for %g s",
                    self._start_failures,
                    child.proc.returncode,
                    backoff,
                )

    def _reap_idle(self) -> None:
        """Reap children that died in slots nobody is using (``poll`` collects a zombie)."""
        with self._lock:
            children = list(self._all)
        for child in children:
            child.proc.poll()

    def _drop(self, child: _Child) -> None:
        _log.warning("password hash child %d stopped; a new one starts with the next log-in", child.proc.pid)
        child.kill()
        with self._lock:
            self._all.discard(child)


def _child_main(config: dict[str, Any]) -> None:  # pragma: no cover - runs in the child (tests drive it)
    """The child: nice 19 (before argon2 is even imported), idle class for each request when asked; one
    JSON line in, one out. Any failure other than a mismatch or a malformed hash is answered as ``failed``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C to the server's group: it ends us by our stdin
    os.nice(max(0, CHILD_NICE - os.nice(0)))
    from argon2 import PasswordHasher  # noqa: PLC0415 - the child's only dependency
    from argon2.exceptions import InvalidHashError, VerifyMismatchError  # noqa: PLC0415

    idle = bool(config.pop("idle", False))
    hasher = PasswordHasher(**config)
    for line in sys.stdin.buffer:
        if idle:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # entering it needs no privilege
        answer: dict[str, object]
        try:
            request = json.loads(line)
            if request["op"] == "hash":
                answer = {"hash": hasher.hash(request["password"])}
            else:
                answer = {"ok": hasher.verify(request["hash"], request["password"])}
        except VerifyMismatchError:
            answer = {"error": "mismatch"}
        except InvalidHashError as exc:
            answer = {"error": "invalid", "detail": str(exc)}
        except Exception as exc:  # e.g. argon2's "Memory allocation error": says nothing of the password
            answer = {"error": "failed", "detail": f"{type(exc).__name__}: {exc}"}
        try:
            sys.stdout.buffer.write(json.dumps(answer).encode() + b"\n")
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            os._exit(0)  # the server is gone: nobody to answer, and no traceback on its terminal


if __name__ == "__main__":
    _child_main(json.loads(sys.argv[1]))
