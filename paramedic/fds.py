"""File descriptors for ``paramedic serve``: the process limit, the log listeners' caps, the accept-error log.

Every open log connection holds a file descriptor, and so do HTTP clients, scrapes, store files and the
search index. The usual systemd soft ``NOFILE`` limit is 1,024, less than the default caps of two log
listeners (1,024 each), so a log sender could take every descriptor and stop the HTTP API and scrapes.
``paramedic serve`` therefore, before building anything:

1. :func:`raise_nofile_limit`: raises the soft ``RLIMIT_NOFILE`` to the hard limit (any process may);
2. :func:`fit_log_listeners`: keeps :data:`RESERVED_FDS` plus one per static scrape target for everything
   else and :data:`ACCEPT_PASSES` listen backlogs (:func:`log_backlog`, smaller where the limit is tight)
   per stream listener for connections accepted before a cap refuses them, and fits the stream listeners'
   ``max_connections`` in the rest as before; the HTTP server's cap takes what they leave after its
   loopback reserve and three accept backlogs (:func:`http_backlog`), but at least
   :data:`HTTP_MIN_CONNECTIONS`, and a lowered cap lowers the per-client one to a quarter of it.
   When it lowers a cap it returns one warning naming the keys and the limit (the server starts: a lower
   cap is friendlier than a refusal to start); when not even the smallest caps fit it still starts, with
   one connection per log listener (as before the budget existed), logs an ERROR saying the hard limit
   must go up and sets ``paramedic_fd_budget_degraded`` to 1 (``paramedic check config`` prints the same);
3. :func:`install_accept_error_throttle`: asyncio logs a traceback for every failed ``accept()`` when the
   process is out of descriptors (on Python 3.11 up to a backlog's worth per listener per tick, hundreds of
   thousands of lines in seconds); this filter lets one such record through per ``interval_s`` (with the
   number held back) and counts all of them in ``paramedic_accept_errors_total``.
"""

from __future__ import annotations

import errno
import logging
import resource
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge

from collector.config import StaticJob
from paramedic._http_conns import EXEMPT_RESERVE
from paramedic.cluster.config import LEADER_PROXY_CONNECTIONS
from paramedic.config import ParamedicConfig

__all__ = [
    "ACCEPT_PASSES",
    "HTTP_BACKLOG",
    "HTTP_BACKLOG_MIN",
    "HTTP_CLIENT_SHARE",
    "HTTP_MIN_CONNECTIONS",
    "HTTP_MIN_PER_CLIENT",
    "RESERVED_FDS",
    "AcceptErrorThrottle",
    "FdFit",
    "degraded_gauge",
    "fit_log_listeners",
    "hard_nofile_limit",
    "http_backlog",
    "install_accept_error_throttle",
    "log_backlog",
    "raise_nofile_limit",
    "suggested_limit",
]

log = logging.getLogger("paramedic")

RESERVED_FDS = 256  # HTTP clients, store and index files, notifiers, ... (plus one per static scrape target)
# uvicorn's listen backlog where the open-files limit is roomy (``paramedic serve`` passes
# http_backlog(nofile); uvicorn's own default is 2,048), and the least it is lowered to where it is tight.
HTTP_BACKLOG = 512
HTTP_BACKLOG_MIN = 64
# asyncio accepts up to the backlog on every loop pass, and the connections the caps abort are closed one
# or two passes later: an accept flood holds about three backlogs (max_connections 8, backlog 512, 16,000
# connects: 1,554 descriptors at the peak, and EMFILE on accept at a limit of 1,536 when one was reserved).
ACCEPT_PASSES = 3
# the least HTTP max_connections (and per client) the budget lowers to: below it one client holds the API
HTTP_MIN_CONNECTIONS = 64
# under a total cap the budget lowered, one client address gets at most 1/HTTP_CLIENT_SHARE of it (at least
# HTTP_MIN_PER_CLIENT): 16 of the floor's 64, so four addresses, not one, are needed to fill it
HTTP_CLIENT_SHARE = 4
HTTP_MIN_PER_CLIENT = 16
_HTTP_KEY = "server.limits.max_connections"
_STREAM_LISTENERS = ("relp", "syslog_tcp", "tls")
_ACCEPT_MESSAGE = "socket.accept() out of system resource"
_RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def raise_nofile_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit; returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard not in {resource.RLIM_INFINITY, soft}:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:  # e.g. a hard limit above the kernel's nr_open
            log.warning("could not raise the open-files limit from %d to %d: %s", soft, hard, exc)
    return 1 << 30 if soft == resource.RLIM_INFINITY else soft


def _static_targets(config: ParamedicConfig) -> int:
    return sum(
        len(job.targets) + sum(len(group.targets) for group in job.static_configs)
        for job in config.collector.jobs
        if isinstance(job, StaticJob)
    )


def http_backlog(nofile: int) -> int:
    """uvicorn's listen backlog for an open-files limit: :data:`HTTP_BACKLOG` where the limit is roomy,
    less where three backlogs' worth of descriptors (:data:`ACCEPT_PASSES`) would crowd out the caps."""
    return max(HTTP_BACKLOG_MIN, min(HTTP_BACKLOG, nofile // 32))


def _per_client(config: ParamedicConfig, http_cap: int) -> int:
    """The per-client cap under a lowered total: a quarter of it (:data:`HTTP_CLIENT_SHARE`), so one address
    cannot take the whole cap (at the floor of 64 the total and per-client caps were equal), but not below
    :data:`HTTP_MIN_PER_CLIENT`, nor with a cluster below the leader proxy's pool (the leader counts a
    follower's pool against one address), nor above what was configured."""
    floor = LEADER_PROXY_CONNECTIONS if config.cluster is not None else HTTP_MIN_PER_CLIENT
    configured = config.server.limits.max_connections_per_client
    return min(configured, http_cap, max(floor, http_cap // HTTP_CLIENT_SHARE))


def log_backlog(nofile: int) -> int:
    """Each stream log listener's listen backlog for an open-files limit (``paramedic serve`` passes it to
    the listeners): scaled as :func:`http_backlog`, since asyncio accepts up to a backlog per loop pass on
    a log listener too before its cap can refuse any, and the budget reserves :data:`ACCEPT_PASSES` of them
    per listener (a fixed 512 overran a limit of 1,700 by over a thousand descriptors in an accept flood)."""
    return http_backlog(nofile)


def _scaled(caps: dict[str, int], available: int) -> dict[str, int]:
    total = sum(caps.values())
    if total <= available:
        return dict(caps)
    return {key: max(1, cap * available // total) for key, cap in caps.items()}


class FdFit(NamedTuple):
    """What :func:`fit_log_listeners` serves with: the config with its caps lowered, a warning when it
    lowered any, and ``degraded`` when not even the smallest caps fit the limit (the server still starts,
    as it did before the budget existed, with one connection per log listener; the warning is then an
    error that says the hard limit must go up)."""

    config: ParamedicConfig
    warning: str | None
    degraded: bool = False


def _fixed(config: ParamedicConfig, nofile: int, listeners: int) -> tuple[int, int]:
    """(descriptors kept for everything but the caps, of which the HTTP server's fixed part) at ``nofile``."""
    base = RESERVED_FDS + _static_targets(config) + ACCEPT_PASSES * log_backlog(nofile) * listeners
    return base, EXEMPT_RESERVE + ACCEPT_PASSES * http_backlog(nofile)


def suggested_limit(config: ParamedicConfig, listeners: int, floor: int) -> int:
    """The least open-files limit at which the smallest caps fit, computed at that limit itself (the HTTP
    backlog grows with the limit, so a figure computed at the current one would not fit when used)."""
    nofile = 1
    while True:  # at most a few passes: http_backlog is capped at HTTP_BACKLOG
        base, http_fixed = _fixed(config, nofile, listeners)
        needed = base + http_fixed + floor + listeners
        if needed <= nofile:
            return nofile
        nofile = needed


def fit_log_listeners(config: ParamedicConfig, nofile: int) -> FdFit:
    """``config`` with the stream log listeners' ``max_connections`` and ``server.limits.max_connections``
    lowered so that, together with the reserve for everything else, they fit in ``nofile`` descriptors; and
    a warning naming the keys when it lowered them. When not even the smallest caps fit it does not refuse
    (a lower cap is friendlier than a refusal to start): it serves with one connection per log listener
    and the HTTP floor, ``degraded``, and the warning says how far the hard limit must go up.

    The log listeners come first, as before the HTTP guard existed (their caps within ``nofile`` less
    :data:`RESERVED_FDS`, the static scrape targets and :data:`ACCEPT_PASSES` log backlogs each; below about
    5,500 descriptors that is less than the one fixed 512 backlog reserved before, so a server there that
    kept its log caps then keeps them now; above it the reserve is larger, but the default caps fit with
    room to spare). The HTTP server holds ``server.limits.max_connections`` from
    strangers, :data:`~paramedic._http_conns.EXEMPT_RESERVE` from loopback and trusted proxies, and during
    an accept flood up to :data:`ACCEPT_PASSES` backlogs (:func:`http_backlog`) of connections accepted but
    not yet closed; its cap takes what the logs leave, but never less than :data:`HTTP_MIN_CONNECTIONS`
    (one stray client would otherwise hold the whole API): the log caps give up only what that needs."""
    logs = config.logs
    listeners = (
        {name: getattr(logs, name) for name in _STREAM_LISTENERS if getattr(logs, name) is not None}
        if logs is not None
        else {}
    )
    log_caps = {f"logs.{name}.max_connections": lst.max_connections for name, lst in listeners.items()}
    limits = config.server.limits
    base, http_fixed = _fixed(config, nofile, len(listeners))
    http_floor = min(HTTP_MIN_CONNECTIONS, limits.max_connections)
    fitted = _scaled(log_caps, max(nofile - base, len(log_caps)))
    http_room = nofile - base - http_fixed - sum(fitted.values())
    degraded = False
    if http_room < http_floor:  # the log caps give up what HTTP's floor needs
        log_room = nofile - base - http_fixed - http_floor
        if log_room < len(log_caps):
            degraded = True
            log_room = len(log_caps)
        fitted = _scaled(fitted, log_room)
        http_room = http_floor
    http_cap = min(limits.max_connections, http_room)
    if fitted == log_caps and http_cap == limits.max_connections:
        return FdFit(config, None)
    if logs is not None:
        logs = logs.model_copy(
            update={
                name: lst.model_copy(update={"max_connections": fitted[f"logs.{name}.max_connections"]})
                for name, lst in listeners.items()
            }
        )
    per_client = _per_client(config, http_cap)
    limits = limits.model_copy(update={"max_connections": http_cap, "max_connections_per_client": per_client})
    server = config.server.model_copy(update={"limits": limits})
    caps = {**log_caps, _HTTP_KEY: config.server.limits.max_connections}
    keys = ", ".join(f"{key} {cap}" for key, cap in caps.items())
    serving = ", ".join(str(cap) for cap in [*fitted.values(), http_cap])
    # the per-client cap is not in ``keys`` (it never costs descriptors of its own), but lowering it changes
    # who is refused: an operator must see it where the caps are named
    configured_per_client = config.server.limits.max_connections_per_client
    if per_client < configured_per_client:
        serving += f" and server.limits.max_connections_per_client {configured_per_client} -> {per_client}"
    fitted_config = config.model_copy(update={"logs": logs, "server": server})
    if degraded:
        needed = suggested_limit(config, len(listeners), http_floor)
        warning = (
            f"open-files limit (RLIMIT_NOFILE) is {nofile}, the hard limit (the soft one is raised to it): "
            f"too low for {', '.join(caps)} even at their smallest plus {base + http_fixed} descriptors for "
            f"scrapes, files and accept bursts; serving DEGRADED with max_connections {serving} (a flood "
            f"of connections can run the server out of descriptors). Raise the HARD limit to {needed} or "
            f"more (systemd LimitNOFILE=, `ulimit -Hn` as root before starting)"
        )
        return FdFit(fitted_config, warning, degraded=True)
    warning = (
        f"open-files limit (RLIMIT_NOFILE) is {nofile}: {keys} (total {sum(caps.values())}) plus "
        f"{base + http_fixed} descriptors for HTTP, scrapes, files and accept bursts do not fit; serving "
        f"with max_connections {serving}. "
        f"Raise the limit (systemd LimitNOFILE=, ulimit -n) or lower these keys to silence this warning."
    )
    return FdFit(fitted_config, warning)


def hard_nofile_limit() -> int:
    """The hard ``RLIMIT_NOFILE``: the limit ``paramedic serve`` raises its soft one to (for ``paramedic
    check config``, which must judge the budget as serve would)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 1 << 30 if hard == resource.RLIM_INFINITY else hard


def degraded_gauge(registry: CollectorRegistry, degraded: bool) -> Gauge:
    """``paramedic_fd_budget_degraded``: 1 when the server started with caps that do not fit its limit."""
    gauge = Gauge(
        "paramedic_fd_budget_degraded",
        "1 when the open-files limit is below what even the smallest connection caps need (see the log).",
        registry=registry,
    )
    gauge.set(1 if degraded else 0)
    return gauge


def _is_accept_error(record: logging.LogRecord) -> bool:
    if isinstance(record.msg, str) and record.msg.startswith(_ACCEPT_MESSAGE):
        return True
    exc = record.exc_info[1] if record.exc_info else None
    return isinstance(exc, OSError) and exc.errno in _RESOURCE_ERRNOS and "accept" in record.getMessage()


class AcceptErrorThrottle(logging.Filter):
    """Lets one "out of system resource" accept error through per ``interval_s`` (with the count of those
    held back since); counts every one in ``counter``. Other records pass untouched. Thread-safe."""

    def __init__(
        self, counter: Counter, interval_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self._counter = counter
        self._interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._next = float("-inf")
        self._held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not _is_accept_error(record):
            return True
        self._counter.inc()
        now = self._clock()
        with self._lock:
            if now < self._next:
                self._held += 1
                return False
            held, self._held, self._next = self._held, 0, now + self._interval_s
        record.msg = (
            f"{_ACCEPT_MESSAGE}: out of file descriptors or memory; such errors are logged at most once "
            f"every {self._interval_s:g} s ({held} not logged since the last one; all counted in "
            f"paramedic_accept_errors_total)"
        )
        record.args = None
        record.exc_info = None
        record.exc_text = None
        return True


def install_accept_error_throttle(
    registry: CollectorRegistry = prometheus_client.REGISTRY, interval_s: float = 10.0
) -> AcceptErrorThrottle:
    """Install :class:`AcceptErrorThrottle` on the ``asyncio`` logger (where the event loop logs failed
    accepts) and register its counter on ``registry``."""
    counter = Counter(
        "paramedic_accept_errors",
        "Failed accept() calls on the HTTP and log listeners for want of file descriptors or memory.",
        registry=registry,
    )
    throttle = AcceptErrorThrottle(counter, interval_s)
    logging.getLogger("asyncio").addFilter(throttle)
    return throttle
