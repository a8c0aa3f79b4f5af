"""Write every generated file of a state directory from the desired state (startup and scaling share it)."""

from __future__ import annotations

import sys

from platforms.local.errors import StateError
from platforms.local.haproxy_config import render_haproxy_config
from platforms.local.state import FIRST_REVISION, PlatformState, StateDir, write_atomic
from platforms.local.supervisor_config import program_name, render_program, render_supervisord_config

__all__ = ["write_platform_files"]


def write_platform_files(paths: StateDir, state: PlatformState, python: str = sys.executable) -> None:
    """haproxy.cfg, supervisord.conf and one programs/<app>-<index>.conf per instance; stale ones removed."""
    paths.create()
    write_atomic(paths.haproxy_cfg, render_haproxy_config(state, paths))
    write_atomic(paths.supervisord_conf, render_supervisord_config(paths))
    wanted = set()
    for app in state.apps:
        for inst in app.instances:
            name = program_name(app.name, inst.index)
            wanted.add(paths.program_conf(name))
            revision = app.revision(inst.revision) or FIRST_REVISION
            text = render_program(paths, app.name, inst.index, inst.port, python, revision=revision)
            write_atomic(paths.program_conf(name), text)
    for stale in paths.programs_dir.glob("*.conf"):
        if stale not in wanted:
            try:
                stale.unlink()
            except OSError as exc:
                raise StateError("state", "write_platform_files", f"{stale}: {exc.strerror}") from exc
