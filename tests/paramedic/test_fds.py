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
from paramedic.config import ParamedicConfig, load_config
from paramedic.fds import (
    ACCEPT_BURST_FDS,
    HTTP_BACKLOG,
    RESERVED_FDS,
    fit_log_listeners,
    install_accept_error_throttle,
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
    fitted, warning = fit_log_listeners(cfg, 100_000)
    assert warning is None
    assert fitted is cfg


def test_caps_are_lowered_in_proportion_with_one_warning(tmp_path: Path) -> None:
    """The log listeners' caps and the HTTP server's (3000 + 1000 + 1000) share what the reserve leaves."""
    cfg = config(tmp_path)
    reserve = RESERVED_FDS + 2 + 2 * ACCEPT_BURST_FDS + EXEMPT_RESERVE + HTTP_BACKLOG
    fitted, warning = fit_log_listeners(cfg, reserve + 500)
    assert fitted.logs is not None and fitted.logs.relp is not None and fitted.logs.syslog_tcp is not None
    assert (fitted.logs.relp.max_connections, fitted.logs.syslog_tcp.max_connections) == (300, 100)
    assert fitted.server.limits.max_connections == 100
    assert fitted.server.limits.max_connections_per_client == 64  # within the lowered total: kept
    assert fitted.logs.relp.port == 0  # nothing else changes
    assert warning is not None
    assert (
        "logs.relp.max_connections 3000, logs.syslog_tcp.max_connections 1000, "
        "server.limits.max_connections 1000" in warning
    )
    assert f"open-files limit (RLIMIT_NOFILE) is {reserve + 500}" in warning
    assert "serving with max_connections 300, 100, 100" in warning


def test_a_limit_below_the_reserve_leaves_one_connection_each(tmp_path: Path) -> None:
    fitted, warning = fit_log_listeners(config(tmp_path), 64)
    assert fitted.logs is not None and fitted.logs.relp is not None and fitted.logs.syslog_tcp is not None
    assert (fitted.logs.relp.max_connections, fitted.logs.syslog_tcp.max_connections) == (1, 1)
    assert (fitted.server.limits.max_connections, fitted.server.limits.max_connections_per_client) == (1, 1)
    assert warning is not None


def test_the_http_cap_is_in_the_budget_without_log_listeners(tmp_path: Path) -> None:
    """The default 512 HTTP connections (plus the loopback reserve and the accept burst) did not count:
    at an open-files limit of 1,024 they could take every descriptor the server had."""
    cfg = config(tmp_path, "metrics_store: {type: embedded, path: data/metrics}\n")
    fitted, warning = fit_log_listeners(cfg, 1024)
    available = 1024 - RESERVED_FDS - EXEMPT_RESERVE - HTTP_BACKLOG
    assert fitted.server.limits.max_connections == available < 512
    assert fitted.server.limits.max_connections_per_client == 64
    assert warning is not None and "server.limits.max_connections 512" in warning


def test_nothing_to_fit_when_everything_fits(tmp_path: Path) -> None:
    cfg = config(tmp_path, "metrics_store: {type: embedded, path: data/metrics}\n")
    assert fit_log_listeners(cfg, 100_000) == (cfg, None)


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
