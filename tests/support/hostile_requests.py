"""The catalogue of hostile requests from issue 11, shared by ``tests/security/test_burst.py`` and
``bench/hostile.py`` so that the two never drift.

Each entry of :data:`CATALOGUE` is one hostile action against a :class:`~tests.support.hostile.Target` and
returns what it got back, one string per exchange: an HTTP status (``"400"``, ``"503 Retry-After"`` when the
server sheds load and says when to retry), or for the raw-socket kinds
and failed exchanges ``"timeout"``, ``"refused"``, ``"reset"``, ``"closed"`` (the server closed the
connection), ``"held"`` (the server kept it open until we gave up) or ``"sent"``. Every action is bounded:
HTTP reads time out after :data:`READ_TIMEOUT_S`, raw sockets give up after a few seconds, nothing waits for
the server to cooperate.

:func:`run_burst` fires a deterministic mix of ``count`` actions from a thread pool, watches the server
process, and names the kinds that were in flight if it dies (instead of hanging).
"""

from __future__ import annotations

import contextlib
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

from tests.support.hostile import PROBE_METRIC, Target
from tests.support.servers import wait_until

__all__ = [
    "CATALOGUE",
    "READ_TIMEOUT_S",
    "Burst",
    "Outcome",
    "burst_plan",
    "prepare",
    "run_burst",
]

READ_TIMEOUT_S = 10.0
EVIL_REGEX = "(.*.*)*X"  # exponential backtracking in Python's re on any subject without an X
EVIL_WILDCARD = "*a" * 12 + "*b"  # a log-query wildcard with 13 stars: polynomial backtracking as a regex
LONG_A = "a" * 64  # label values for the regexes: a run of "a" and never an X
WORD_A = "a" * 39  # the longest token the embedded search indexes (tantivy drops tokens over 40 bytes)
LINE_A = " ".join([WORD_A] * 100)  # log lines for the wildcard: 100 searchable tokens, never a "b"
BIG_BODY_BYTES = 16 * 1024 * 1024
LINE_BYTES = 1024 * 1024

Attack = Callable[[Target], list[str]]


def _get(t: Target, path: str, params: dict[str, str], role: str | None = "viewer") -> str:
    try:
        with t.client(role, timeout_s=READ_TIMEOUT_S) as c:
            return _status(c.get(path, params=params))
    except httpx.HTTPError as exc:
        return _failure(exc)


def _status(resp: httpx.Response) -> str:
    """The status code; ``503 Retry-After`` for a deliberate shed of load (a 503 that says when to retry)."""
    if resp.status_code == 503 and "retry-after" in resp.headers:
        return "503 Retry-After"
    return str(resp.status_code)


def _failure(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException | socket.timeout | TimeoutError):
        return "timeout"
    if isinstance(exc, httpx.ConnectError | ConnectionRefusedError):
        return "refused"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError | ConnectionError):
        return "reset"
    return type(exc).__name__


def _query(t: Target, text: str) -> list[str]:
    return [_get(t, "/api/v1/query", {"query": text})]


def promql_chain(t: Target) -> list[str]:
    """5,000 terms ``1-1-1-…`` (10 KB): crashed the PromQL parser (SIGSEGV)."""
    return _query(t, "-".join(["1"] * 5000))


def promql_parens(t: Target) -> list[str]:
    """10,000 nested parentheses: crashed the PromQL parser (SIGSEGV)."""
    return _query(t, "(" * 10_000 + "1" + ")" * 10_000)


def promql_regex(t: Target) -> list[str]:
    """A catastrophic-backtracking name matcher: froze the process holding the GIL."""
    return _query(t, f'{{__name__=~"{EVIL_REGEX}"}}')


def promql_regex_series(t: Target) -> list[str]:
    """The same regex through ``match[]`` of ``/api/v1/series``."""
    return [_get(t, "/api/v1/series", {"match[]": f'{{__name__=~"{EVIL_REGEX}"}}'})]


def promql_subquery(t: Target) -> list[str]:
    """``[7d:1ms]``: ~6e8 subquery steps allocated before any cost check."""
    return _query(t, "max_over_time(vector(1)[7d:1ms])")


def range_span(t: Target) -> list[str]:
    """A 1 s step over three years, through the query API and the dashboard's events.json."""
    end = "100000000"
    return [
        _get(t, "/api/v1/query_range", {"query": PROBE_METRIC, "start": "0", "end": end, "step": "1"}),
        _get(t, "/apps/probe/events.json", {"start": "0", "end": "1e11"}),
    ]


def alerts_filter_regex(t: Target) -> list[str]:
    """Alertmanager API ``filter=`` and ``receiver=`` with a catastrophic regex (silences too)."""
    return [
        _get(t, "/api/v2/alerts", {"filter": f'alertname=~"{EVIL_REGEX}"'}),
        _get(t, "/api/v2/alerts", {"receiver": EVIL_REGEX}),
        _get(t, "/api/v2/alerts/groups", {"receiver": EVIL_REGEX}),
        _get(t, "/api/v2/silences", {"filter": f'pad=~"{EVIL_REGEX}"'}),
    ]


def _post(t: Target, path: str, role: str | None, **kw: object) -> str:
    try:
        with t.client(role, timeout_s=READ_TIMEOUT_S) as c:
            return _status(c.post(path, **kw))  # type: ignore[arg-type]
    except httpx.HTTPError as exc:
        return _failure(exc)


def login_oversized(t: Target) -> list[str]:
    """16 MiB to ``/login`` with a Content-Length, then 16 MiB chunked (no length): both must be cut off."""
    body = b"username=admin&password=" + b"x" * BIG_BODY_BYTES
    headers = {"Content-Type": "application/x-www-form-urlencoded"}

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 64 * 1024):
            yield body[i : i + 64 * 1024]

    return [
        _post(t, "/login", None, content=body, headers=headers),
        _post(t, "/login", None, content=chunks(), headers=headers),
    ]


def alerts_oversized(t: Target) -> list[str]:
    """16 MiB of alerts JSON as anonymous, as viewer, and with the alert sender's (operator) token."""
    body = b'[{"labels": {"alertname": "Big", "pad": "' + b"a" * BIG_BODY_BYTES + b'"}}]'
    headers = {"Content-Type": "application/json"}
    return [
        _post(t, "/api/v2/alerts", role, content=body, headers=headers)
        for role in (None, "viewer", "operator")
    ]


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def password_guesses(t: Target) -> list[str]:
    """Five wrong passwords in a row for ``admin`` with a valid login CSRF pair (each one an argon2 hash)."""
    out = []
    try:
        with httpx.Client(base_url=t.base_url, timeout=READ_TIMEOUT_S) as c:
            page = c.get("/login")
            for i in range(5):  # every answer renders the form again with a fresh CSRF pair
                found = _CSRF.search(page.text)
                token = found.group(1) if found else ""
                form = {"username": "admin", "password": f"guess-{i}", "csrf_token": token, "next": "/"}
                page = c.post("/login", data=form)
                out.append(_status(page))
    except httpx.HTTPError as exc:
        out.append(_failure(exc))
    return out


def _syslog_line(message: str) -> bytes:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"<13>1 {stamp} hostile-host hostile-app - - - {message}\n".encode()


@contextlib.contextmanager
def _syslog(t: Target) -> Iterator[socket.socket]:
    sock = socket.create_connection(("127.0.0.1", t.ports["tcp"]), timeout=5.0)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        yield sock
    finally:
        sock.close()


def tail_subscribers(t: Target) -> list[str]:
    """Four live-tail subscriptions with a hostile wildcard held open while matching-prone lines arrive."""
    out: list[str] = []
    with contextlib.ExitStack() as stack:
        streams = []
        for _ in range(4):
            try:
                client = stack.enter_context(t.client("viewer", timeout_s=READ_TIMEOUT_S))
                resp = stack.enter_context(
                    client.stream("GET", "/api/v1/logs/tail", params={"q": f"message:{EVIL_WILDCARD}"})
                )
            except httpx.HTTPError as exc:
                out.append(_failure(exc))
                continue
            out.append(_status(resp))
            if resp.status_code == 200:
                streams.append(resp)
        try:
            with _syslog(t) as sock:
                for _ in range(5):
                    sock.sendall(_syslog_line(LINE_A))
        except OSError as exc:
            out.append(_failure(exc))
        for resp in streams:  # read the first event (": connected"), then hang up
            with contextlib.suppress(httpx.HTTPError):
                next(resp.iter_bytes(), b"")
    return out


def log_search_highlight(t: Target) -> list[str]:
    """Log search with the hostile wildcard and highlighting on (it ran on the event loop)."""
    params = {"q": EVIL_WILDCARD, "highlight": "true", "limit": "1000"}
    return [
        _get(t, "/api/v1/logs/search", params),
        _get(t, "/api/v1/logs/search", {**params, "q": f"{WORD_A} OR message:{EVIL_WILDCARD}"}),
    ]


def syslog_slowloris(t: Target, connections: int = 10, hold_s: float = 3.0) -> list[str]:
    """``connections`` syslog TCP connections that each send half a line a byte at a time for ``hold_s``."""
    out: list[str] = []
    with contextlib.ExitStack() as stack:
        socks: list[socket.socket] = []
        for _ in range(connections):
            try:
                socks.append(stack.enter_context(_syslog(t)))
            except OSError as exc:
                out.append(_failure(exc))
        partial = _syslog_line("slow")[:-10]
        deadline = time.monotonic() + hold_s
        sent = 0
        while socks and time.monotonic() < deadline and sent < len(partial):
            for sock in list(socks):
                try:
                    sock.sendall(partial[sent : sent + 1])
                except OSError:
                    out.append("closed")
                    socks.remove(sock)
            sent += 1
            time.sleep(hold_s / len(partial))
        for sock in socks:
            out.append(_closed_or_held(sock))
    return out


def _closed_or_held(sock: socket.socket) -> str:
    """``closed`` when the server has hung up on ``sock`` (EOF or reset), else ``held``."""
    sock.setblocking(False)
    try:
        return "closed" if sock.recv(1) == b"" else "held"
    except BlockingIOError:
        return "held"
    except OSError:
        return "closed"


def syslog_trickled_line(t: Target) -> list[str]:
    """A 1 MiB line without a newline sent in 1 KiB writes (the framing re-joined its buffer on each read);
    ``closed`` when the server hangs up before the end (a line over ``max_message_bytes``)."""
    try:
        with _syslog(t) as sock:
            try:
                sock.sendall(_syslog_line("")[:-1])
                chunk = b"a" * 1024
                for _ in range(LINE_BYTES // len(chunk)):
                    sock.sendall(chunk)
                sock.sendall(b"\n")
            except OSError:
                return ["closed"]
            return ["sent"]
    except OSError as exc:
        return [_failure(exc)]


CATALOGUE: dict[str, Attack] = {
    "promql-5000-term-chain": promql_chain,
    "promql-10000-parens": promql_parens,
    "promql-regex-name": promql_regex,
    "promql-regex-series": promql_regex_series,
    "promql-subquery-7d:1ms": promql_subquery,
    "range-span-3y-1s-step": range_span,
    "am-filter-regex": alerts_filter_regex,
    "login-oversized-body": login_oversized,
    "alerts-oversized-body": alerts_oversized,
    "login-password-guesses": password_guesses,
    "tail-hostile-wildcards": tail_subscribers,
    "search-hostile-highlight": log_search_highlight,
    "syslog-slowloris": syslog_slowloris,
    "syslog-1MiB-trickled-line": syslog_trickled_line,
}


def prepare(t: Target) -> None:
    """Give the regex paths subjects: an alert and a silence with long label values (posted with the
    operator token, as Prometheus and a person would) and searchable log lines of 100 tokens of ``a``
    (returns once the search finds them)."""
    alert = [{"labels": {"alertname": "HostileProbe", "pad": LONG_A}, "annotations": {"summary": LONG_A}}]
    now = datetime.now(UTC)
    silence = {
        "matchers": [{"name": "pad", "value": LONG_A, "isRegex": False, "isEqual": True}],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(days=365)).isoformat(),  # not replace(year=+1): no 29 February then
        "createdBy": "hostile",
        "comment": LONG_A,
    }
    with t.client("operator") as c:
        c.post("/api/v2/alerts", json=alert).raise_for_status()
        c.post("/api/v2/silences", json=silence).raise_for_status()
    with _syslog(t) as sock:
        for _ in range(20):
            sock.sendall(_syslog_line(LINE_A))

    def searchable() -> bool:
        with t.client("viewer") as c:
            r = c.get("/api/v1/logs/search", params={"q": WORD_A, "limit": "1"})
        return r.status_code == 200 and r.json()["data"]["total"] > 0

    wait_until(searchable, 30, "the hostile log lines to be searchable")


def burst_plan(count: int, seed: int = 11, kinds: Sequence[str] = ()) -> list[str]:
    """``count`` kinds (all of :data:`CATALOGUE` unless ``kinds`` names some), every kind as evenly as
    possible, in a fixed shuffled order."""
    unknown = set(kinds) - set(CATALOGUE)
    if unknown:
        raise ValueError(f"unknown hostile kinds {sorted(unknown)}; known: {', '.join(CATALOGUE)}")
    chosen = list(kinds) or list(CATALOGUE)
    plan = [chosen[i % len(chosen)] for i in range(count)]
    random.Random(seed).shuffle(plan)
    return plan


@dataclass(frozen=True)
class Outcome:
    kind: str
    results: list[str]
    seconds: float
    started: float = 0.0  # time.monotonic() (one clock for every process on the machine)


@dataclass
class Burst:
    """What a burst got back; ``died_during`` names the kinds in flight when the server process exited."""

    outcomes: list[Outcome] = field(default_factory=list)
    died_during: list[str] | None = None
    exit_code: int | None = None
    seconds: float = 0.0

    def histogram(self) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = {}
        for o in self.outcomes:
            out.setdefault(o.kind, Counter()).update(o.results)
        return out

    def server_errors(self) -> list[tuple[str, str]]:
        """(kind, result) for every 5xx (but a ``503 Retry-After``), reset or timeout a hostile HTTP exchange
        got."""
        bad = {"reset", "timeout", "refused"}
        return [
            (o.kind, r)
            for o in self.outcomes
            for r in o.results
            if r in bad or (r.isdigit() and int(r) >= 500)
        ]


def run_burst(t: Target, count: int, workers: int, seed: int = 11, kinds: Sequence[str] = ()) -> Burst:
    """Fire :func:`burst_plan` ``(count)`` from ``workers`` threads at once; stops early (every later action
    is skipped) once the server process has exited, and records the kinds that were in flight."""
    burst = Burst()
    in_flight: Counter[str] = Counter()
    lock = threading.Lock()
    done = threading.Event()

    def dead() -> bool:
        return t.proc.popen.poll() is not None

    def note_death() -> None:
        with lock:
            if burst.died_during is None:
                burst.died_during = sorted(+in_flight)
                burst.exit_code = t.proc.popen.returncode

    def one(kind: str) -> None:
        if dead():
            return
        with lock:
            in_flight[kind] += 1
        started = time.monotonic()
        try:
            results = CATALOGUE[kind](t)
        finally:
            if dead():
                note_death()
            with lock:
                in_flight[kind] -= 1
        with lock:
            burst.outcomes.append(Outcome(kind, results, time.monotonic() - started, started))

    def watch() -> None:
        while not done.wait(0.05):
            if dead():
                note_death()
                return

    watcher = threading.Thread(target=watch, name="burst-watcher", daemon=True)
    began = time.monotonic()
    watcher.start()
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="hostile") as pool:
            for future in [pool.submit(one, kind) for kind in burst_plan(count, seed, kinds)]:
                future.result()
    finally:
        done.set()
        watcher.join()
        burst.seconds = time.monotonic() - began
    return burst
