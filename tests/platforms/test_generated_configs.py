"""Desired state and the configs generated from it; HAProxy itself validates the generated file."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from platforms.local import PlatformState, StateDir, StateError
from platforms.local._files import write_platform_files
from platforms.local.haproxy_config import render_haproxy_config
from platforms.local.rsyslog_config import render_rsyslog_config
from platforms.local.state import validate_app_name
from tests.support.servers import require_binary


def _ports() -> Callable[[], int]:
    counter = iter(range(20000, 20100))
    return lambda: next(counter)


def test_state_round_trips_through_state_json(tmp_path: Path) -> None:
    paths = StateDir(tmp_path)
    paths.create()
    state = PlatformState.new({"web": 2, "api": 1}, _ports())
    paths.save(state)
    loaded = paths.load()
    assert loaded == state
    assert [a.name for a in loaded.apps] == ["api", "web"]
    web = loaded.app("web")
    assert web is not None and [i.index for i in web.instances] == [0, 1]


def test_corrupt_or_missing_state_is_a_state_error(tmp_path: Path) -> None:
    paths = StateDir(tmp_path)
    with pytest.raises(StateError, match="does not exist"):
        paths.load()
    paths.state_file.write_text("{not json")
    with pytest.raises(StateError, match="is corrupt"):
        paths.load()


@pytest.mark.parametrize("name", ["Web", "1app", "a_b", "", "x" * 41])
def test_app_names_must_be_hostnames(name: str) -> None:
    with pytest.raises(StateError, match="use 1-40 of a-z"):
        validate_app_name(name)


def test_generated_haproxy_config_is_valid_for_haproxy(tmp_path: Path) -> None:
    paths = StateDir(tmp_path)
    state = PlatformState.new({"checkout": 2, "catalog": 1}, _ports())
    write_platform_files(paths, state)
    cfg = paths.haproxy_cfg.read_text()
    assert "use_backend checkout if { var(txn.host) -m str checkout.local }" in cfg
    assert "backend checkout\n    balance roundrobin" in cfg
    assert "http-request use-service prometheus-exporter if { path /metrics }" in cfg
    check = subprocess.run(
        [require_binary("haproxy"), "-c", "-f", str(paths.haproxy_cfg)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    programs = sorted(p.name for p in paths.programs_dir.glob("*.conf"))
    assert programs == ["catalog-0.conf", "checkout-0.conf", "checkout-1.conf"]
    assert "autorestart=true" in (paths.programs_dir / "checkout-1.conf").read_text()


def test_rewriting_files_removes_programs_that_are_no_longer_wanted(tmp_path: Path) -> None:
    paths = StateDir(tmp_path)
    write_platform_files(paths, PlatformState.new({"web": 3}, _ports()))
    write_platform_files(paths, PlatformState.new({"web": 1}, _ports()))
    assert sorted(p.name for p in paths.programs_dir.glob("*.conf")) == ["web-0.conf"]


def test_generated_rsyslog_config_is_valid_for_rsyslog(tmp_path: Path) -> None:
    paths = StateDir(tmp_path)
    paths.create()
    cfg = render_rsyslog_config(paths, "127.0.0.1", 2514)
    assert 'windowSize="16384"' in cfg and 'queue.filename="paramedic-relp"' in cfg
    assert f'File="{paths.app_logs_dir}/*.log"' in cfg
    paths.rsyslog_conf.write_text(cfg)
    check = subprocess.run(
        [require_binary("rsyslogd"), "-N1", "-f", str(paths.rsyslog_conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_haproxy_logs_router_requests_to_the_rsyslog_socket(tmp_path: Path) -> None:
    paths = StateDir(tmp_path)
    cfg = render_haproxy_config(PlatformState.new({"web": 1}, _ports()), paths)
    assert f"log {paths.router_log_sock} local0 info" in cfg
    router = cfg.split("frontend router\n", 1)[1].split("\n\n", 1)[0]
    assert "    log global\n    option httplog" in router
    assert "log global" not in cfg.split("frontend stats\n", 1)[1].split("\n\n", 1)[0]
