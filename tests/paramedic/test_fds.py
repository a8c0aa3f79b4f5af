"""paramedic.fds: the log listeners' caps fit the open-files limit; accept errors logged once per interval."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from paramedic._http_conns import EXEMPT_RESERVE
from paramedic.cluster.config import LEADER_PROXY_CONNECTIONS
from paramedic.config import ParamedicConfig, load_config
from paramedic.config_check import check_config_file
from paramedic.fds import (
    ACCEPT_PASSES,
    HTTP_BACKLOG,
    HTTP_MIN_CONNECTIONS,
    HTTP_MIN_PER_CLIENT,
    RESERVED_FDS,
    fit_log_listeners,
    http_backlog,
    install_accept_error_throttle,
    log_backlog,
    suggested_limit,
)

CONFIG = """\
server:
  limits: {max_connections: 1000}
metrics_store: {type: embedded, path: data/metrics}
collector:
  jobs:
    - {name: a, type: static, targets: ['127.0.0.1:1', '127.0.0.1:2']}
logs:
  relp: {port: 0, max_connections: 3000}
  syslog_tcp: {port: 0, max_connections: 1000}
  syslog_udp: null
  spool: {path: data/spool}
  search: {type: embedded, path: data/search}
"""


def config(tmp_path: Path, text: str = CONFIG) -> ParamedicConfig:
    (tmp_path / "paramedic.yaml").write_text(text)
    return load_config(tmp_path / "paramedic.yaml")


def test_caps_that_fit_are_kept(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    fitted, warning, _ = fit_log_listeners(cfg, 100_000)
    assert warning is None
    assert fitted is cfg


def test_log_caps_are_lowered_in_proportion_with_one_warning(tmp_path: Path) -> None:
    """The log listeners' caps (3000 + 1000) share what the reserve leaves, as before the HTTP guard; the
    HTTP cap takes what is left after its reserve and three accept backlogs."""
    cfg = config(tmp_path)
    nofile = 2000
    log_reserve = RESERVED_FDS + 2 + 2 * ACCEPT_PASSES * log_backlog(nofile)
    fitted, warning, _ = fit_log_listeners(cfg, nofile)
    assert fitted.logs is not None and fitted.logs.relp is not None and fitted.logs.syslog_tcp is not None
    http_fixed = EXEMPT_RESERVE + ACCEPT_PASSES * http_backlog(nofile)
    log_room = nofile - log_reserve - http_fixed - HTTP_MIN_CONNECTIONS  # HTTP's floor comes out of them
    assert (fitted.logs.relp.max_connections, fitted.logs.syslog_tcp.max_connections) == (
        3000 * log_room // 4000,
        1000 * log_room // 4000,
    )
    assert fitted.server.limits.max_connections == HTTP_MIN_CONNECTIONS
    assert fitted.server.limits.max_connections_per_client == HTTP_MIN_PER_CLIENT
    assert fitted.logs.relp.port == 0  # nothing else changes
    assert warning is not None
    assert (
        "logs.relp.max_connections 3000, logs.syslog_tcp.max_connections 1000, "
        "server.limits.max_connections 1000" in warning
    )
    assert f"open-files limit (RLIMIT_NOFILE) is {nofile}" in warning


@pytest.mark.parametrize(("nofile", "main_log_cap"), [(4096, 1024), (8192, 1024)])
def test_log_caps_main_kept_are_kept(tmp_path: Path, nofile: int, main_log_cap: int) -> None:
    """M4: with the HTTP cap in the budget, nofile 4096 cut the default log caps from 1024/1024 (what the
    budget before the HTTP guard gave) to 896/896; the HTTP cap now takes only what the logs leave."""
    text = CONFIG.replace("max_connections: 3000", "max_connections: 1024").replace(
        "max_connections: 1000}\n  syslog_udp", "max_connections: 1024}\n  syslog_udp"
    )
    fitted, _, _ = fit_log_listeners(config(tmp_path, text), nofile)
    assert fitted.logs is not None and fitted.logs.relp is not None and fitted.logs.syslog_tcp is not None
    assert fitted.logs.relp.max_connections == fitted.logs.syslog_tcp.max_connections == main_log_cap
    assert fitted.server.limits.max_connections >= HTTP_MIN_CONNECTIONS


def test_the_http_cap_has_a_floor(tmp_path: Path) -> None:
    """M4: at nofile 2048 with two default log listeners the HTTP cap fell to 38 and its per-client cap
    with it; it now keeps HTTP_MIN_CONNECTIONS (the log caps give up what that needs), and a quarter of it
    per client (fourth review: at 64/64 one address held the whole cap)."""
    text = CONFIG.replace("max_connections: 3000", "max_connections: 1024").replace(
        "max_connections: 1000}\n  syslog_udp", "max_connections: 1024}\n  syslog_udp"
    )
    fitted, warning, _ = fit_log_listeners(config(tmp_path, text), 2048)
    limits = fitted.server.limits
    assert (limits.max_connections, limits.max_connections_per_client) == (64, 16)
    assert fitted.logs is not None and fitted.logs.relp is not None
    assert fitted.logs.relp.max_connections > 64
    assert warning is not None


def test_a_limit_nothing_fits_in_starts_degraded_and_names_the_hard_limit(tmp_path: Path) -> None:
    """Third review M2: below ~1,602 descriptors with two stream log listeners the server refused to start,
    where main started with one connection per log listener; now it starts so, and the error says the HARD
    limit must go up (the soft one is already raised to it), not that the config is wrong."""
    fitted, message, degraded = fit_log_listeners(config(tmp_path), 768)
    assert degraded and message is not None
    assert fitted.logs is not None and fitted.logs.relp is not None and fitted.logs.syslog_tcp is not None
    assert (fitted.logs.relp.max_connections, fitted.logs.syslog_tcp.max_connections) == (1, 1)
    assert fitted.server.limits.max_connections == HTTP_MIN_CONNECTIONS
    assert "open-files limit (RLIMIT_NOFILE) is 768" in message
    assert (
        "logs.relp.max_connections, logs.syslog_tcp.max_connections, server.limits.max_connections" in message
    )
    assert "HARD limit" in message and "LimitNOFILE" in message and "ulimit -Hn" in message


@pytest.mark.parametrize("targets", [2, 1000])
@pytest.mark.parametrize("nofile", [256, 768, 960])
def test_the_suggested_limit_fits_when_used(tmp_path: Path, nofile: int, targets: int) -> None:
    """Third review L3: the suggested limit was computed with the backlog of the current (low) limit, and
    the backlog grows with the limit: at the suggested value the caps still did not fit (1,000 scrape
    targets at nofile 1,024: 2,602 suggested, 2,653 needed there)."""
    addresses = ", ".join(f"'127.0.0.1:{port}'" for port in range(1, targets + 1))
    cfg = config(tmp_path, CONFIG.replace("'127.0.0.1:1', '127.0.0.1:2'", addresses))
    _, message, degraded = fit_log_listeners(cfg, nofile)
    assert degraded and message is not None
    suggested = suggested_limit(cfg, 2, HTTP_MIN_CONNECTIONS)
    assert suggested > nofile
    assert f"to {suggested} or more" in message
    assert not fit_log_listeners(cfg, suggested).degraded
    assert fit_log_listeners(cfg, suggested - 1).degraded  # and it is the least that fits


def test_config_check_prints_the_budget_warning(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Third review M2: ``paramedic check config`` judges the descriptor budget at the hard limit, as serve
    would, and prints the same warning."""
    monkeypatch.setattr("paramedic.config_check.hard_nofile_limit", lambda: 768)
    config(tmp_path)
    report = check_config_file(tmp_path / "paramedic.yaml")
    assert not report.problems
    assert any("HARD limit" in str(w) for w in report.warnings), report.warnings


def test_an_accept_flood_is_budgeted_at_three_backlogs(tmp_path: Path) -> None:
    """M1: asyncio accepts up to the backlog per loop pass and aborted connections close a pass or two
    later, so a flood held about three backlogs (1,554 descriptors with max_connections 8, backlog 512),
    while the budget reserved one: at nofile 1,536 the server failed accept() with EMFILE."""
    cfg = config(tmp_path, "server:\n  limits: {max_connections: 8, max_connections_per_client: 8}\n")
    assert http_backlog(1536) < HTTP_BACKLOG  # a tight limit gets a smaller backlog
    for nofile in (1536, 4096, 100_000):
        fitted, _, _ = fit_log_listeners(cfg, nofile)
        peak = fitted.server.limits.max_connections + EXEMPT_RESERVE + 3 * http_backlog(nofile)
        assert RESERVED_FDS + peak <= nofile
    assert http_backlog(100_000) == HTTP_BACKLOG


def test_the_http_cap_is_in_the_budget_without_log_listeners(tmp_path: Path) -> None:
    """The default 512 HTTP connections (plus the loopback reserve and the accept bursts) did not count:
    at a low open-files limit they could take every descriptor the server had."""
    cfg = config(tmp_path, "metrics_store: {type: embedded, path: data/metrics}\n")
    fitted, warning, _ = fit_log_listeners(cfg, 768)
    available = 768 - RESERVED_FDS - EXEMPT_RESERVE - ACCEPT_PASSES * http_backlog(768)
    assert fitted.server.limits.max_connections == available < 512
    assert fitted.server.limits.max_connections_per_client == 64
    assert warning is not None and "server.limits.max_connections 512" in warning


def test_nothing_to_fit_when_everything_fits(tmp_path: Path) -> None:
    cfg = config(tmp_path, "metrics_store: {type: embedded, path: data/metrics}\n")
    assert fit_log_listeners(cfg, 100_000) == (cfg, None, False)


def test_accept_errors_logged_once_per_interval_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    throttle = install_accept_error_throttle(registry, interval_s=3600)
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            for _ in range(1000):  # what the event loop does on EMFILE in accept()
                loop.call_exception_handler(
                    {
                        "message": "socket.accept() out of system resource",
                        "exception": OSError(errno.EMFILE, os.strerror(errno.EMFILE)),
                    }
                )
            loop.call_exception_handler({"message": "something else"})
    finally:
        loop.close()
        logging.getLogger("asyncio").removeFilter(throttle)
    accept = [r for r in caplog.records if "socket.accept()" in r.getMessage()]
    assert len(accept) == 1
    assert accept[0].exc_info is None  # no traceback
    assert "paramedic_accept_errors_total" in accept[0].getMessage()
    assert [r.getMessage() for r in caplog.records if "something else" in r.getMessage()]
    assert registry.get_sample_value("paramedic_accept_errors_total") == 1000


CLUSTER = """\
cluster: {etcd_endpoints: ['http://127.0.0.1:2379'], replica_id: a}
metrics_store: {type: embedded, path: data/metrics}
"""


@pytest.mark.parametrize(
    ("text", "per_client"), [("", HTTP_MIN_PER_CLIENT), (CLUSTER, LEADER_PROXY_CONNECTIONS)]
)
def test_a_lowered_total_cap_lowers_the_per_client_cap(tmp_path: Path, text: str, per_client: int) -> None:
    """Fourth review H1 (c): where the budget lowered max_connections to its floor (64) the per-client cap
    stayed 64, so one address could hold every stranger slot; it is now a quarter of the total, but with a
    cluster never below the leader proxy's pool (the leader counts a follower's pool as one client)."""
    cfg = config(tmp_path, text or "metrics_store: {type: embedded, path: data/metrics}\n")
    fitted, warning, _ = fit_log_listeners(cfg, 576)  # room for the floor only
    limits = fitted.server.limits
    assert warning is not None and limits.max_connections == HTTP_MIN_CONNECTIONS
    assert limits.max_connections_per_client == per_client < limits.max_connections
    # fifth review L3: the warning names the lowered per-client cap too
    configured = cfg.server.limits.max_connections_per_client
    assert f"server.limits.max_connections_per_client {configured} -> {per_client}" in warning


def test_the_warning_names_the_per_client_cap_only_when_it_is_lowered(tmp_path: Path) -> None:
    """A per-client cap already at or below its lowered share is left alone and not named."""
    cfg = config(tmp_path, "server:\n  limits: {max_connections_per_client: 8}\n")
    fitted, warning, _ = fit_log_listeners(cfg, 576)
    assert warning is not None and fitted.server.limits.max_connections_per_client == 8
    assert "max_connections_per_client" not in warning


@pytest.mark.parametrize("nofile", [1700, 4096, 100_000])
def test_log_accept_floods_are_budgeted_at_three_log_backlogs(tmp_path: Path, nofile: int) -> None:
    """Fourth review M3: each stream log listener's backlog was a fixed 512 and the budget kept one backlog
    per listener, while an accept flood holds about ACCEPT_PASSES of them: at nofile 1,700 a flood on both
    log listeners and the HTTP port failed 484 to 1,679 accepts over runs. The backlog now scales with the
    limit and the budget keeps ACCEPT_PASSES of it per listener."""
    assert log_backlog(1700) < 512
    fitted, _, degraded = fit_log_listeners(config(tmp_path), nofile)
    assert not degraded
    assert fitted.logs is not None and fitted.logs.relp is not None and fitted.logs.syslog_tcp is not None
    logs = fitted.logs.relp.max_connections + fitted.logs.syslog_tcp.max_connections
    http = fitted.server.limits.max_connections + EXEMPT_RESERVE + ACCEPT_PASSES * http_backlog(nofile)
    peak = RESERVED_FDS + 2 + logs + 2 * ACCEPT_PASSES * log_backlog(nofile) + http
    assert peak <= nofile
