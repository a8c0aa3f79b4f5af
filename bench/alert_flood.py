"""bench/alert_flood.py: does a big alert group's notification hold up the server? (issue 11, finding 11)

    .venv/bin/python bench/alert_flood.py [--alerts 2000] [--rounds 3] [--watch-s 4]

Starts a real ``paramedic serve`` on loopback (``tests/support/hostile.py``: its route notifies a webhook
and an email receiver that are both unreachable, so every notification is retried) and fills it with
``--alerts`` held alerts of ~1.8 KB of annotations each (4 posts of 3,500; the rest are refused by
``alerting.limits.max_alerts``). Then, ``--rounds`` times, it posts an update of 10 of them while one
client polls ``/-/healthy`` back to back for ``--watch-s`` seconds. Prints, per round, the polls made,
the slowest answer and the p99, and the server's own count of event-loop holds of 1 s or more
(``paramedic_event_loop_lag_seconds``; 0 where that metric does not exist). The first round includes the
group's first notification (built once); the later rounds its retries.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from the checkout

from tests.support.hostile import Target, running_target


def _batch(prefix: str, n: int) -> list[dict[str, object]]:
    return [
        {
            "labels": {"alertname": f"{prefix}{i}", "instance": f"host-{i}", "job": "flood"},
            "annotations": {"summary": "x" * 1_000, "description": "y" * 800},
        }
        for i in range(n)
    ]


def _poll(target: Target, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(timeout=30) as c:
        while not stop.is_set():
            started = time.monotonic()
            c.get(f"{target.base_url}/-/healthy")
            out.append(time.monotonic() - started)


def _long_holds(target: Target) -> float:
    text = httpx.get(f"{target.base_url}/metrics", timeout=30).text
    total = above = 0.0
    for line in text.splitlines():
        if line.startswith("paramedic_event_loop_lag_seconds_count"):
            total = float(line.split()[-1])
        elif line.startswith('paramedic_event_loop_lag_seconds_bucket{le="1.0"}'):
            above = float(line.split()[-1])
    return total - above


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=2_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--watch-s", type=float, default=4.0)
    args = ap.parse_args()
    extra = {"alerting": {"limits": {"max_alerts": args.alerts}}}
    with running_target(Path(tempfile.mkdtemp(prefix="alert-flood-")), extra_config=extra) as target:
        with target.client("alert-sender", timeout_s=120) as c:
            for k in range(4):
                c.post("/api/v2/alerts", json=_batch(f"Flood{k}_", 3_500))
        for rnd in range(1, args.rounds + 1):
            stop = threading.Event()
            answers: list[float] = []
            poller = threading.Thread(target=_poll, args=(target, stop, answers))
            before = _long_holds(target)
            poller.start()
            with target.client("alert-sender", timeout_s=120) as c:
                status = c.post("/api/v2/alerts", json=_batch("Flood0_", 10)).status_code
            deadline = time.monotonic() + args.watch_s
            while time.monotonic() < deadline:  # the poller runs meanwhile; this thread only waits
                stop.wait(0.1)
            stop.set()
            poller.join()
            answers.sort()
            p99 = answers[min(len(answers) - 1, int(len(answers) * 0.99))]
            print(
                f"round {rnd}: update {status}; /-/healthy polls {len(answers)}, "
                f"max {answers[-1] * 1e3:.1f} ms, p99 {p99 * 1e3:.1f} ms; "
                f"loop held >= 1 s: {_long_holds(target) - before:.0f} time(s)"
            )


if __name__ == "__main__":
    main()
