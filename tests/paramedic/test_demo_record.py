"""paramedic.demo's demo.json handling, without starting a platform: a live demo is refused, a dead one's
record is cleaned up."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from paramedic.demo import DemoError, read_demo_record, running_demo_record
from paramedic.demo._record import check_not_running
from platforms.local.processes import ProcessRecord, pid_start_time


def _write(data_dir: Path, start_time: int | None) -> None:
    me = ProcessRecord("demo", os.getpid(), start_time, ("paramedic", "demo"))
    (data_dir / "demo.json").write_text(
        json.dumps({"demo": me.to_json(), "api_url": "http://x", "processes": []})
    )


def test_a_live_demo_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, pid_start_time(os.getpid()))
    assert running_demo_record(tmp_path) == read_demo_record(tmp_path)
    with pytest.raises(DemoError, match=f"a demo is already running for {tmp_path}"):
        check_not_running(tmp_path, lambda message, *, err=False: None)
    assert (tmp_path / "demo.json").exists()


def test_a_dead_demos_record_is_removed(tmp_path: Path) -> None:
    start = pid_start_time(os.getpid())
    assert start is not None
    _write(tmp_path, start + 1)  # same pid, another start time: not this process
    assert running_demo_record(tmp_path) is None
    said: list[str] = []

    def echo(message: str, *, err: bool = False) -> None:
        said.append(message)

    check_not_running(tmp_path, echo)
    assert not (tmp_path / "demo.json").exists()
    assert said == [f"removed stale {tmp_path / 'demo.json'} (demo pid {os.getpid()} is gone)"]
