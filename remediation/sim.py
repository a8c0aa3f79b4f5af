"""SimPlatform: an in-memory :class:`platforms.base.Remediable` for unit tests, ``policy test`` and backtests.

It keeps apps with instances and revisions, applies calls to that state, records every call (in ``calls`` and,
when ``record_to`` is given, one JSON line per call appended to that file before the call takes effect), and
can be told to fail a call ``n`` times with :class:`PlatformError` (``fail``) or to block in it (``hang``,
released by ``release``). Thread-safe.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from platforms.base import Deployment, Instance, PlatformError, Revision

__all__ = ["SimApp", "SimCall", "SimPlatform"]


@dataclass(frozen=True, slots=True)
class SimCall:
    name: str
    args: tuple[Any, ...]


@dataclass(slots=True)
class SimApp:
    name: str
    instances: list[Instance]
    revisions: list[Revision] = field(default_factory=list)


class SimPlatform:
    name = "sim"

    def __init__(self, apps: dict[str, int] | None = None, *, record_to: Path | None = None) -> None:
        """``apps``: name -> instance count; each app starts with revisions v1, v2 (v2 current)."""
        self._lock = threading.Lock()
        self._apps: dict[str, SimApp] = {}
        self._deployments: dict[str, Deployment] = {}
        self._ids = itertools.count(1)
        self._fail: dict[str, list[int]] = {}  # name -> [remaining failures]
        self._hang: dict[str, threading.Event] = {}
        self.calls: list[SimCall] = []
        self.record_to = record_to
        for app, n in (apps or {}).items():
            self.add_app(app, n)

    # -- test controls ----------------------------------------------------------------------------------

    def add_app(self, app: str, instances: int, revisions: Sequence[str] = ("v1", "v2")) -> None:
        revs = [Revision(r, i + 1, current=i == len(revisions) - 1) for i, r in enumerate(revisions)]
        current = revs[-1].id if revs else ""
        with self._lock:
            self._apps[app] = SimApp(
                app, [Instance(app, i, "RUNNING", current) for i in range(instances)], revs
            )

    def set_state(self, app: str, index: int, state: str) -> None:
        with self._lock:
            a = self._app(app)
            a.instances[index] = replace(a.instances[index], state=state)

    def fail(self, call: str, times: int = 1) -> None:
        """The next ``times`` calls of ``call`` raise PlatformError (before changing anything)."""
        with self._lock:
            self._fail[call] = [times]

    def hang(self, call: str) -> threading.Event:
        """Calls of ``call`` block (after being recorded) until the returned event is set."""
        ev = threading.Event()
        with self._lock:
            self._hang[call] = ev
        return ev

    def release(self, call: str) -> None:
        with self._lock:
            ev = self._hang.pop(call, None)
        if ev is not None:
            ev.set()

    def count(self, call: str, *args: Any) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c.name == call and c.args[: len(args)] == args)

    # -- plumbing ---------------------------------------------------------------------------------------

    def _app(self, app: str) -> SimApp:
        a = self._apps.get(app)
        if a is None:
            raise PlatformError(f"sim: app {app!r} not found")
        return a

    def _enter(self, name: str, *args: Any) -> None:
        with self._lock:
            self.calls.append(SimCall(name, args))
            if self.record_to is not None:
                with self.record_to.open("a") as f:
                    f.write(json.dumps({"call": name, "args": list(args)}) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
            left = self._fail.get(name)
            failing = left is not None and left[0] > 0
            if failing and left is not None:
                left[0] -= 1
            hang = self._hang.get(name)
        if hang is not None:
            hang.wait()
        if failing:
            raise PlatformError(f"sim: {name}{args}: injected failure (503)")

    # -- Remediable -------------------------------------------------------------------------------------

    def apps(self) -> list[str]:
        self._enter("apps")
        with self._lock:
            return sorted(self._apps)

    def app_instances(self, app: str) -> list[Instance]:
        self._enter("app_instances", app)
        with self._lock:
            return list(self._app(app).instances)

    def restart_app(self, app: str) -> object:
        self._enter("restart_app", app)
        with self._lock:
            a = self._app(app)
            a.instances = [replace(i, state="RUNNING") for i in a.instances]
        return {"restarted": app}

    def restart_instance(self, app: str, index: int) -> object:
        self._enter("restart_instance", app, index)
        with self._lock:
            a = self._app(app)
            if not 0 <= index < len(a.instances):
                raise PlatformError(f"sim: {app} has no instance {index}")
            a.instances[index] = replace(a.instances[index], state="RUNNING")
        return {"restarted": f"{app}/{index}"}

    def scale(self, app: str, instances: int) -> object:
        self._enter("scale", app, instances)
        with self._lock:
            a = self._app(app)
            rev = next((r.id for r in a.revisions if r.current), "")
            a.instances = a.instances[:instances] + [
                Instance(app, i, "RUNNING", rev) for i in range(len(a.instances), instances)
            ]
        return {"instances": instances}

    def revisions(self, app: str) -> list[Revision]:
        self._enter("revisions", app)
        with self._lock:
            return list(self._app(app).revisions)

    def _set_current(self, app: str, revision: str) -> None:
        a = self._app(app)
        if all(r.id != revision for r in a.revisions):
            raise PlatformError(f"sim: {app} has no revision {revision!r}")
        a.revisions = [replace(r, current=r.id == revision) for r in a.revisions]
        a.instances = [replace(i, revision=revision, state="RUNNING") for i in a.instances]

    def start_deployment(self, app: str, revision: str, weight_pct: int) -> Deployment:
        self._enter("start_deployment", app, revision, weight_pct)
        with self._lock:
            a = self._app(app)
            prev = next((r.id for r in a.revisions if r.current), "")
            d = Deployment(f"d{next(self._ids)}", app, revision, prev, "DEPLOYING", weight_pct)
            self._deployments[d.id] = d
            return d

    def _deployment(self, deployment: str) -> Deployment:
        d = self._deployments.get(deployment)
        if d is None:
            raise PlatformError(f"sim: deployment {deployment!r} not found")
        return d

    def set_deployment_weight(self, deployment: str, weight_pct: int) -> Deployment:
        self._enter("set_deployment_weight", deployment, weight_pct)
        with self._lock:
            d = replace(self._deployment(deployment), weight_pct=weight_pct)
            self._deployments[deployment] = d
            return d

    def promote_deployment(self, deployment: str) -> Deployment:
        self._enter("promote_deployment", deployment)
        with self._lock:
            d = replace(self._deployment(deployment), state="DEPLOYED", weight_pct=100)
            self._set_current(d.app, d.revision)
            self._deployments[deployment] = d
            return d

    def cancel_deployment(self, deployment: str) -> Deployment:
        self._enter("cancel_deployment", deployment)
        with self._lock:
            d = replace(self._deployment(deployment), state="CANCELED", weight_pct=0)
            self._deployments[deployment] = d
            return d

    def deployment(self, deployment: str) -> Deployment:
        self._enter("deployment", deployment)
        with self._lock:
            return self._deployment(deployment)

    def rollback(self, app: str, revision: str) -> Deployment:
        self._enter("rollback", app, revision)
        with self._lock:
            a = self._app(app)
            prev = next((r.id for r in a.revisions if r.current), "")
            self._set_current(app, revision)
            d = Deployment(f"d{next(self._ids)}", app, revision, prev, "DEPLOYED", 100)
            self._deployments[d.id] = d
            return d
