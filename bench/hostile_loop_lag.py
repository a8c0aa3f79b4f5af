"""bench/hostile_loop_lag.py: what each hostile kind holds the server's event loop and GIL for (issue 11).

    .venv/bin/python bench/hostile_loop_lag.py [--per-kind 7] [--kinds a,b]

Starts ``paramedic serve`` (``tests/support/hostile.py``) with ``bench/_loop_lag_site`` on its
``PYTHONPATH`` (a ``sitecustomize`` that times every event-loop callback and runs a 1 ms sleeper thread),
then fires each kind alone, ``--per-kind`` actions at once from threads at nice 19 under ``SCHED_IDLE``
(``bench/hostile.py --attacker-nice 19 --attacker-idle``), 0.3 s apart, after a 3 s window of the idle
server. Per kind: the server's CPU (process, log search worker children), the loop callbacks over 1 ms of
CPU (count, largest, sum: work that held the loop), those over 1 ms of wall (largest: waits inside a
callback), and the sleeper's wake-ups later than 1 ms (count, largest, sum: how long any thread waited for
the GIL and a core). On a loaded machine the sleeper's lags are mostly the machine's other load: compare a
kind with the idle window of the same run. The server runs the code on ``PYTHONPATH`` (or the installed
one): set it to the checkout to measure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.hostile import Attacker, cpu_seconds, niced_burst
from tests.support.hostile import running_target
from tests.support.hostile_requests import CATALOGUE, prepare

_SITE = Path(__file__).resolve().parent / "_loop_lag_site"
_SETTLE_S = 0.3  # a callback is logged when it ends: lines this long after a burst still count for it


@dataclass
class Window:
    kind: str
    start: float
    end: float
    cpu_s: float = 0.0
    children_s: float = 0.0


def _row(w: Window, callbacks: list[tuple[float, float, float, str]], lags: list[tuple[float, float]]) -> str:
    mine = [c for c in callbacks if w.start <= c[0] <= w.end + _SETTLE_S]
    hot = [c for c in mine if c[2] > 1.0]
    waits = [lag for t, lag in lags if w.start <= t <= w.end + _SETTLE_S]
    top = max(hot, key=lambda c: c[2])[3][:36] if hot else ""
    return (
        f"  {w.kind:26} {w.end - w.start:6.2f} {w.cpu_s:6.2f} {w.children_s:5.2f} | {len(hot):3} "
        f"{max((c[2] for c in hot), default=0):5.1f} {sum(c[2] for c in hot):5.1f} | "
        f"{max((c[1] for c in mine), default=0):6.1f} | {len(waits):4} {max(waits, default=0):6.1f} "
        f"{sum(waits):7.1f} | {top}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--per-kind", type=int, default=7, help="actions of each kind fired at once")
    ap.add_argument("--kinds", default="", help="comma-separated hostile kinds (default: all)")
    a = ap.parse_args()
    kinds = [k for k in a.kinds.split(",") if k] or list(CATALOGUE)
    attacker = Attacker(19, idle=True)
    with tempfile.TemporaryDirectory(prefix="bench-looplag-") as d:
        out = Path(d) / "looplag.txt"
        os.environ["LOOPLAG_OUT"] = str(out)
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_SITE), os.environ.get("PYTHONPATH")]))
        windows: list[Window] = []
        (Path(d) / "server").mkdir()
        with running_target(Path(d) / "server") as target:
            prepare(target)
            idle = Window("(idle server, 3 s)", time.monotonic(), 0.0)
            time.sleep(3.0)
            idle.end = time.monotonic() - _SETTLE_S
            windows.append(idle)
            for kind in kinds:
                before, start = cpu_seconds(target.proc.pid), time.monotonic()
                niced_burst(target, a.per_kind, a.per_kind, [kind], attacker)
                after = cpu_seconds(target.proc.pid)
                windows.append(
                    Window(kind, start, time.monotonic(), after[0] - before[0], after[1] - before[1])
                )
                time.sleep(_SETTLE_S)
        lines = [line.split(" ", 4) for line in out.read_text().splitlines()]
    callbacks = [
        (float(p[1]), float(p[2]), float(p[3]), p[4] if len(p) > 4 else "") for p in lines if p[0] == "cb"
    ]
    lags = [(float(p[1]), float(p[2])) for p in lines if p[0] == "gil"]
    print(f"per kind: {a.per_kind} at once, attackers at {attacker}; load average {os.getloadavg()[0]:.1f}")
    print(
        f"  {'kind':26} {'wall s':>6} {'cpu s':>6} {'child':>5} | callbacks > 1 ms CPU: n, max, sum ms | "
        "max wall ms | sleeper lag > 1 ms: n, max, sum ms | largest callback"
    )
    for w in windows:
        print(_row(w, callbacks, lags))


if __name__ == "__main__":
    main()
