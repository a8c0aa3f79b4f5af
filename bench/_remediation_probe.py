"""Fault injection and recovery probing for bench/remediation.py (shared by every pipeline).

A fault is ``hang`` on one instance: the process stays alive but answers nothing, so supervisord never
restarts it; only a remediation does. Recovered = the instance answers ``/healthz`` directly again AND
HAProxy reports its server UP AND a request through the router answers 200. Polled every 100 ms from the
injection on.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from platforms.local import LocalPlatform, LocalPlatformError
from platforms.local.fault_client import inject_fault

POLL_S = 0.1


@dataclass(slots=True)
class Injection:
    """One fault: which instance, when (monotonic and wall clock), and how long until verified recovery."""

    index: int
    injected_mono: float
    injected_wall: float
    recovery_s: float | None = None  # None: not recovered within the timeout (then restarted by the bench)
    extra: dict[str, float | str | None] = field(default_factory=dict)


class Probe:
    """Injects faults into ``app`` of a running local platform and watches it recover."""

    def __init__(self, platform: LocalPlatform, app: str) -> None:
        self.platform = platform
        self.app = app
        state = platform.state()
        spec = state.app(app)
        if spec is None:
            raise ValueError(f"no app {app!r} on the platform")
        self.ports = {i.index: i.port for i in spec.instances}
        self.router = f"http://127.0.0.1:{state.router_port}"
        self._client = httpx.Client(timeout=0.3)
        self._router_client = httpx.Client(timeout=1.0, headers={"Host": f"{app}.local"})

    def close(self) -> None:
        self._client.close()
        self._router_client.close()

    def answers(self, index: int) -> bool:
        try:
            return self._client.get(f"http://127.0.0.1:{self.ports[index]}/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def _router_up(self, indexes: list[int]) -> bool:
        try:
            status = {i.index: i.router_status for i in self.platform.instances(self.app)}
        except LocalPlatformError:
            return False
        if any(status.get(i) != "UP" for i in indexes):
            return False
        try:
            return self._router_client.get(f"{self.router}/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def recovered(self, index: int) -> bool:
        return self.answers(index) and self._router_up([index])

    def all_healthy(self) -> bool:
        return all(self.answers(i) for i in self.ports) and self._router_up(list(self.ports))

    def inject_hang(self, index: int) -> Injection:
        mono, wall = time.monotonic(), time.time()
        inject_fault(self.platform.paths, self.app, "hang", index)
        return Injection(index, mono, wall)

    def wait_recovered(self, inj: Injection, timeout_s: float) -> None:
        """Poll every 100 ms until ``inj``'s instance has stopped answering and then recovered; sets
        ``recovery_s`` (None on timeout)."""
        deadline = inj.injected_mono + timeout_s
        hung = False  # the app applies the fault just after its reply: first see it stop answering
        while (now := time.monotonic()) < deadline:
            if not hung:
                hung = not self.answers(inj.index)
            elif self.recovered(inj.index):
                inj.recovery_s = time.monotonic() - inj.injected_mono
                return
            time.sleep(max(0.0, POLL_S - (time.monotonic() - now)))


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def run_injections(
    probe: Probe,
    n: int,
    *,
    timeout_s: float,
    quiet: Callable[[], bool],
    before: Callable[[], None] = lambda: None,
    settle_s: float = 0.0,
    jitter_s: float = 0.0,
    label: str = "",
    quiet_timeout_s: float = 180.0,
) -> list[Injection]:
    """``n`` hang faults, rotating over the instances. Before each: every instance healthy, the pipeline
    ``quiet`` (no alert pending or firing), ``settle_s`` more, then ``before()``, then a random wait in
    [0, ``jitter_s``) so the fault lands at a random phase of the rule evaluation (waiting for the alert to
    resolve aligns the next fault with the evaluation tick: without jitter a 1m interval always costs ~60 s).
    A fault not recovered within ``timeout_s`` is counted as a failure and cleaned up by restarting the
    instance directly."""
    indexes = sorted(probe.ports)
    done: list[Injection] = []
    for k in range(n):
        wait_until(probe.all_healthy, 60, "every instance healthy")
        wait_until(quiet, quiet_timeout_s, f"{label}: no alert pending or firing")
        time.sleep(settle_s)
        before()
        time.sleep(random.uniform(0, jitter_s))
        wait_until(probe.all_healthy, 60, "every instance healthy")
        inj = probe.inject_hang(indexes[k % len(indexes)])
        probe.wait_recovered(inj, timeout_s)
        if inj.recovery_s is None:
            probe.platform.restart_instance(probe.app, inj.index)
        shown = "TIMEOUT" if inj.recovery_s is None else f"{inj.recovery_s:.2f} s"
        print(
            f"  {label} #{k + 1}: {probe.app}/{inj.index} recovered after {shown}",
            file=sys.stderr,
            flush=True,
        )
        done.append(inj)
    return done
