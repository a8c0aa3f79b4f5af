"""``<data-dir>/demo.json``: the running demo's PID, ports and every process it started."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from paramedic.demo._output import DemoError, Echo
from platforms.local.processes import ProcessRecord, process_alive, stop_pid

__all__ = ["check_not_running", "read_demo_record", "record_path", "running_demo_record", "write_record"]


def record_path(data_dir: Path) -> Path:
    return data_dir / "demo.json"


def read_demo_record(data_dir: Path) -> dict[str, Any] | None:
    """The demo.json of ``data_dir``, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(record_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def running_demo_record(data_dir: Path) -> dict[str, Any] | None:
    """The demo.json of ``data_dir`` while the demo that wrote it is alive, else None."""
    record = read_demo_record(data_dir)
    if record is None or not process_alive(ProcessRecord.from_json(record["demo"])):
        return None
    return record


def write_record(data_dir: Path, record: dict[str, Any]) -> None:
    path = record_path(data_dir)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def check_not_running(data_dir: Path, echo: Echo) -> None:
    """Refuse (:class:`DemoError`) when a live demo owns ``data_dir``; clean up what a dead one left."""
    record = read_demo_record(data_dir)
    if record is None:
        record_path(data_dir).unlink(missing_ok=True)
        return
    demo = ProcessRecord.from_json(record["demo"])
    if process_alive(demo):
        raise DemoError(
            f"paramedic demo: a demo is already running for {data_dir} "
            f"(pid {demo.pid}, API {record.get('api_url')}).\n"
            f"Stop it with Ctrl-C in its terminal or `kill {demo.pid}`, or use another --data-dir."
        )
    leftovers = [ProcessRecord.from_json(p) for p in record.get("processes", [])]
    for proc in reversed(leftovers):
        if process_alive(proc):
            echo(f"stopping {proc.name} (pid {proc.pid}) left by a demo that died")
            stop_pid(proc)
    record_path(data_dir).unlink(missing_ok=True)
    echo(f"removed stale {record_path(data_dir)} (demo pid {demo.pid} is gone)")
