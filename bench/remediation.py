"""Remediation benchmark: fault -> verified recovery time, Paramedic beside Prometheus + Alertmanager.

One local platform (1 app, --instances instances). A fault is ``hang`` on one instance (the process stays up
but answers nothing, so supervisord never restarts it: only a remediation helps). Recovered = the instance
answers /healthz directly again AND HAProxy reports its server UP AND a request through the router answers
200, polled every 100 ms. Time = injection -> recovery. Before each fault every instance is healthy and the
pipeline has no alert pending or firing. Faults rotate over the instances.

Pipelines, one after the other on the same platform in the same run (each restarts via
``LocalPlatform.restart_instance``):

* ``paramedic``: ``paramedic serve`` (1 s scrapes, local rule pack every 1 s, a live restart_instance policy);
  see bench/_remediation_paramedic.py.
* ``prometheus-tuned``: Prometheus 2.42 (1 s scrapes, evaluation_interval 1s) -> Alertmanager 0.25
  (group_wait 0s) -> a webhook receiver in this script that restarts the instance.
* ``prometheus-default``: the same with Prometheus' and Alertmanager's defaults except the 1 s scrapes
  (evaluation_interval 1m, group_wait 30s, group_interval 5m); see bench/_remediation_prom.py.

Both rules are ``up{job="app"} == 0`` with ``for:`` --for-s (default 0). Prints n, p50, p95 (nearest rank),
min, max per pipeline and the ratios baseline / Paramedic of the p50s.

    .venv/bin/python bench/remediation.py [--injections 10] [--instances 3] [--for-s 0]
        [--pipelines paramedic,prometheus-tuned,prometheus-default] [--json] [--work-dir DIR]

The default pipeline needs ~2-3 min per fault (1 m evaluations + 30 s group_wait + waiting for the alert to
resolve): 10 faults take ~25 min. Needs `prometheus` and `prometheus-alertmanager` (scripts/install.sh).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from prometheus_client import CollectorRegistry

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench._remediation_paramedic import run_paramedic  # noqa: E402
from bench._remediation_probe import Injection  # noqa: E402
from bench._remediation_prom import DEFAULT, TUNED, run_prometheus  # noqa: E402
from platforms.local import LocalPlatform, LocalPlatformRunner  # noqa: E402

APP = "checkout"
PIPELINES = ("paramedic", "prometheus-tuned", "prometheus-default")
Runner = Callable[[LocalPlatform, str, Path, int, float], tuple[list[Injection], dict[str, Any]]]


def nearest_rank(sorted_values: list[float], q: float) -> float:
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def summarize(name: str, injections: list[Injection], info: dict[str, Any]) -> dict[str, Any]:
    times = sorted(i.recovery_s for i in injections if i.recovery_s is not None)
    out: dict[str, Any] = {
        "pipeline": name,
        "n": len(times),
        "failed": len(injections) - len(times),
        **info,
        "injections": [
            {"instance": i.index, "recovery_s": i.recovery_s and round(i.recovery_s, 3), **i.extra}
            for i in injections
        ],
    }
    stages: dict[str, list[float]] = {}
    for inj in injections:
        for key, value in inj.extra.items():
            if key.endswith("_s") and isinstance(value, float | int):
                stages.setdefault(key.removesuffix("_s"), []).append(float(value))
    out["stages_p50_s"] = {k: round(statistics.median(v), 3) for k, v in stages.items()}
    if times:
        out |= {
            "p50_s": round(statistics.median(times), 3),
            "p95_s": round(nearest_rank(times, 0.95), 3),
            "min_s": round(times[0], 3),
            "max_s": round(times[-1], 3),
        }
    return out


def _on_term(_sig: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwind through every finally: stop what was started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--injections", type=int, default=10, help="faults per pipeline (default 10)")
    parser.add_argument("--instances", type=int, default=3, help="instances of the app (default 3)")
    parser.add_argument("--for-s", type=float, default=0.0, help="`for:` of the instance-down rule (both)")
    parser.add_argument("--pipelines", default=",".join(PIPELINES), help="comma-separated, run in this order")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--work-dir", type=Path, help="keep configs and logs here (default: a temp dir)")
    args = parser.parse_args()
    chosen = [p.strip() for p in args.pipelines.split(",") if p.strip()]
    unknown = set(chosen) - set(PIPELINES)
    if unknown or args.instances < 2 or args.injections < 1:
        parser.error(f"pipelines are {', '.join(PIPELINES)}; --instances >= 2; --injections >= 1")
    runners: dict[str, Runner] = {
        "paramedic": run_paramedic,
        "prometheus-tuned": lambda p, a, t, n, f: run_prometheus(p, a, t, TUNED, n, f),
        "prometheus-default": lambda p, a, t, n, f: run_prometheus(p, a, t, DEFAULT, n, f),
    }
    signal.signal(signal.SIGTERM, _on_term)

    def log(*parts: object) -> None:  # progress on stderr; the figures alone on stdout
        print(*parts, file=sys.stderr, flush=True)

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pm-bench-remediation-") as scratch:
        tmp = args.work_dir.resolve() if args.work_dir else Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        registry = CollectorRegistry()
        runner = LocalPlatformRunner(tmp / "platform", registry=registry)
        runner.init({APP: args.instances})
        try:
            t0 = time.perf_counter()
            runner.start()
            log(f"platform up ({APP} x {args.instances}) in {time.perf_counter() - t0:.1f} s; work dir {tmp}")
            platform = LocalPlatform(tmp / "platform", registry=registry)
            for name in chosen:
                log(f"== {name}: {args.injections} faults")
                try:
                    injections, info = runners[name](platform, APP, tmp, args.injections, args.for_s)
                except (RuntimeError, TimeoutError, OSError) as exc:  # a pipeline that cannot run
                    log(f"  {name}: not measured: {exc}")
                    results.append({"pipeline": name, "n": 0, "error": str(exc)})
                    continue
                results.append(summarize(name, injections, info))
        except KeyboardInterrupt:
            log("\ninterrupted: stopping everything")
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            runner.stop()
            signal.signal(signal.SIGINT, signal.default_int_handler)
    report(results, args, print_json=args.json)


def report(results: list[dict[str, Any]], args: argparse.Namespace, *, print_json: bool) -> None:
    load1, load5, _ = os.getloadavg()
    machine = f"nproc {os.cpu_count()}, loadavg {load1:.1f}/{load5:.1f} at the end (shared machine: noisy)"
    by_name = {r["pipeline"]: r for r in results}
    para = by_name.get("paramedic", {}).get("p50_s")
    ratios = {
        f"{name}/paramedic_p50": round(r["p50_s"] / para, 1)
        for name, r in by_name.items()
        if name != "paramedic" and para and "p50_s" in r
    }
    doc = {
        "fault": "hang (process alive, answers nothing)",
        "recovered": "instance /healthz answers + HAProxy server UP + router request 200 (100 ms polls)",
        "for_s": args.for_s,
        "instances": args.instances,
        "machine": machine,
        "results": results,
        "ratios": ratios,
        "goal": "paramedic p50 <= 5 s and >= 20x faster than prometheus-default",
    }
    if print_json:
        print(json.dumps(doc, indent=2))
        return
    print(f"\nfault -> verified recovery, seconds ({machine}; rule for: {args.for_s:g}s)")
    if not results:
        print("(no pipeline finished)")
        return
    print(f"{'pipeline':20s} {'n':>3s} {'fail':>4s} {'p50':>7s} {'p95':>7s} {'min':>7s} {'max':>7s}")
    for r in results:
        if "p50_s" not in r:
            print(f"{r['pipeline']:20s} {r['n']:3d}  not measured: {r.get('error', 'every fault timed out')}")
            continue
        print(
            f"{r['pipeline']:20s} {r['n']:3d} {r['failed']:4d} {r['p50_s']:7.2f} {r['p95_s']:7.2f} "
            f"{r['min_s']:7.2f} {r['max_s']:7.2f}"
        )
    for r in results:
        if "config" in r:
            print(f"  {r['pipeline']}: {r['config']}")
        if r.get("stages_p50_s"):
            stages = ", ".join(f"{k} {v:.2f}" for k, v in r["stages_p50_s"].items())
            print(f"    p50 seconds after the fault: {stages}")
    for name, ratio in ratios.items():
        print(f"ratio {name}: {ratio}x")
    if para is not None:
        default = ratios.get("prometheus-default/paramedic_p50")
        if default is None:
            verdict = "not judged (prometheus-default not measured)"
        else:
            verdict = "met" if para <= 5 and default >= 20 else "NOT met"
        print(f"goal (paramedic p50 <= 5 s, >= 20x prometheus-default): {verdict}")


if __name__ == "__main__":
    main()
