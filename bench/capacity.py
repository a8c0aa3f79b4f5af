"""Capacity-simulator benchmark: every NAB trace through the reactive, predictive and hybrid policies and
static peak provisioning, with the issue-15 goal checked out of sample.

    .venv/bin/python bench/capacity.py [--nab ../shared/data/nab] [--jobs 2] [--no-tune] [--every N]

* **Split.** The traces are sorted per category and alternate between a *tuning* half (A: 1st, 3rd, …) and an
  *evaluation* half (B: 2nd, 4th, …). Every setting chosen here (forecaster features/regressor/level
  fading, then the policies' scale-in hold, error margin and hybrid error gate) is chosen on A alone; the goal
  is reported on B. ``--no-tune`` skips the search and uses the defaults in the code (which were set from an
  earlier run of this search).
* **Goal** (per trace): predictive (or hybrid) has ≤ 0.5× the SLO-violation minutes of the better reactive
  policy (fewer violation minutes; ties: fewer instance-hours) at ≤ 1.05× its instance-hours. Misses print
  by how much.
* **Cost.** Milliseconds per fit (scikit-learn training, including retrains after drift) and microseconds
  per predict of the default forecaster, measured on the evaluation traces.

Every trace is interpolated to one point a minute; ``--every N`` keeps every N-th trace only (says so).
The evaluation half runs first: its rows print as each trace finishes, then its goal and the cost; the
tuning half follows, for reference. ``--nab`` defaults to ``$PARAMEDIC_SHARED/data/nab`` (else
``../shared/data/nab`` beside the repository).

Run time: the full run (search + 34 traces × 5 policies) took 37 min wall on the 2 shared cores at a load
average of 10 (two busy worker processes); ``--no-tune`` skips the 12 search runs and takes roughly half of
that; ``--every 2`` halves it again. ``--no-tune --jobs 1`` under ``nice -n 10`` took 33 min wall at a load
average of 10-12 (2026-12-06, bench/README.md).
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PARAMEDIC_SHARED") or ROOT.parent / "shared")
sys.path.insert(0, str(ROOT))

from remediation.predictive import HarmonicConfig, HarmonicForecaster  # noqa: E402
from remediation.predictive.simulate import SimConfig, SimResult, default_capacity, simulate_policy  # noqa: E402
from remediation.predictive.trace import LoadTrace, read_trace  # noqa: E402

POLICY_NAMES = ("static", "reactive", "reactive-pct", "predictive", "hybrid")

# Tried in this order, each stage keeping the best of the one before (coordinate search, to stay within
# the bench's time budget on 2 shared cores).
FORECAST_GRID: tuple[dict[str, Any], ...] = (
    {"harmonics": 2, "regressor": "ridge"},
    {"harmonics": 4, "regressor": "ridge"},
    {"harmonics": 8, "regressor": "ridge"},
    {"harmonics": 4, "regressor": "huber"},
)
MARGIN_GRID = (0.0, 1.0, 2.0)
HOLD_GRID = (600.0, 1200.0)  # besides the default (300)
GATE_GRID = (0.2, 0.5, 1.0)


@dataclass(frozen=True)
class Setting:
    forecast: HarmonicConfig
    sim: dict[str, float]


def split(paths: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """Alternate files per category (sorted): (tuning half A, evaluation half B)."""
    a: list[Path] = []
    b: list[Path] = []
    for _, group in itertools.groupby(sorted(paths), key=lambda p: p.parent.name):
        for i, p in enumerate(group):
            (a if i % 2 == 0 else b).append(p)
    return a, b


def _factory(cfg: HarmonicConfig) -> Callable[[], HarmonicForecaster]:
    return lambda: HarmonicForecaster(cfg)


def run_one(path: Path, policies: Sequence[str], setting: Setting) -> dict[str, SimResult]:
    trace = read_trace(path)
    cfg = SimConfig(capacity_per_instance=default_capacity(trace), **setting.sim)  # type: ignore[arg-type]
    return {p: simulate_policy(trace, p, cfg, _factory(setting.forecast)) for p in policies}


def _job(args: tuple[Path, tuple[str, ...], Setting]) -> tuple[str, dict[str, SimResult]]:
    path, policies, setting = args
    return str(path), run_one(path, policies, setting)


def run_all(
    pool: ProcessPoolExecutor,
    paths: Sequence[Path],
    policies: Sequence[str],
    setting: Setting,
    on_result: Callable[[str, dict[str, SimResult]], None] | None = None,
) -> dict[str, dict[str, SimResult]]:
    """Every trace of ``paths`` through ``policies``; ``on_result`` is called per trace as it finishes (in
    order), so a long run shows its figures as it goes."""
    jobs = [(p, tuple(policies), setting) for p in paths]
    out: dict[str, dict[str, SimResult]] = {}
    for key, res in pool.map(_job, jobs):
        out[key] = res
        if on_result is not None:
            on_result(key, res)
    return out


def better_reactive(res: dict[str, SimResult]) -> SimResult:
    return min(
        (res["reactive"], res["reactive-pct"]), key=lambda r: (r.slo_violation_minutes, r.instance_hours)
    )


def goal(res: dict[str, SimResult], policy: str) -> tuple[bool, float, float]:
    """(met, violation ratio, instance-hour ratio) of ``policy`` against the better reactive policy."""
    ref = better_reactive(res)
    r = res[policy]
    v = (
        r.slo_violation_minutes / ref.slo_violation_minutes
        if ref.slo_violation_minutes
        else (0.0 if r.slo_violation_minutes == 0 else float("inf"))
    )
    h = r.instance_hours / ref.instance_hours
    return v <= 0.5 and h <= 1.05, v, h


def score(results: dict[str, dict[str, SimResult]], policy: str) -> tuple[int, float]:
    """Tuning objective: traces meeting the goal, then minus the summed capped excess over the goal."""
    met = 0
    excess = 0.0
    for res in results.values():
        ok, v, h = goal(res, policy)
        met += ok
        excess += min(v, 4.0) / 0.5 + 4.0 * max(0.0, h - 1.05)
    return met, -excess


def _pick(
    pool: ProcessPoolExecutor,
    tuning: Sequence[Path],
    cands: Sequence[tuple[str, Setting]],
    policy: str,
    incumbent: tuple[Setting, tuple[int, float]] | None = None,
) -> tuple[Setting, tuple[int, float]]:
    best = incumbent
    for label, cand in cands:
        s = score(run_all(pool, tuning, ("reactive", "reactive-pct", policy), cand), policy)
        print(f"  tune {policy} {label}: goal met on {s[0]}/{len(tuning)}, excess {-s[1]:.2f}", flush=True)
        if best is None or s > best[1]:
            best = (cand, s)
    assert best is not None
    return best


def tune(pool: ProcessPoolExecutor, tuning: Sequence[Path], base: Setting) -> Setting:
    """Coordinate search on the tuning half: forecaster, then error margin, then scale-in hold (for
    ``predictive``), then the hybrid's error gate."""
    fc = [(str(g), replace(base, forecast=replace(base.forecast, **g))) for g in FORECAST_GRID]
    best = _pick(pool, tuning, fc, "predictive")
    margins = [
        (f"error_margin={m}", replace(best[0], sim={**best[0].sim, "error_margin": m})) for m in MARGIN_GRID
    ]
    best = _pick(pool, tuning, [c for c in margins if c[1] != best[0]], "predictive", best)
    holds = [
        (f"scale_in_hold_s={h}", replace(best[0], sim={**best[0].sim, "scale_in_hold_s": h}))
        for h in HOLD_GRID
    ]
    best = _pick(pool, tuning, holds, "predictive", best)
    gates = [(f"error_gate={g}", replace(best[0], sim={**best[0].sim, "error_gate": g})) for g in GATE_GRID]
    return _pick(pool, tuning, gates, "hybrid")[0]


def print_header() -> None:
    print(f"{'trace':44} {'policy':13} {'viol_min':>8} {'inst_h':>10} {'actions':>7} {'peak':>5}", flush=True)


def print_rows(key: str, res: dict[str, SimResult], root: Path) -> None:
    name = str(Path(key).relative_to(root))
    for p in POLICY_NAMES:
        r = res[p]
        print(
            f"{name:44} {p:13} {r.slo_violation_minutes:8d} {r.instance_hours:10.1f} "
            f"{r.scale_actions:7d} {r.peak_instances:5d}",
            flush=True,
        )


def report_goal(results: dict[str, dict[str, SimResult]], root: Path, label: str) -> None:
    for policy in ("predictive", "hybrid"):
        met = 0
        vs: list[float] = []
        hs: list[float] = []
        misses: list[str] = []
        for key, res in results.items():
            ok, v, h = goal(res, policy)
            met += ok
            vs.append(v)
            hs.append(h)
            if not ok:
                misses.append(
                    f"    {Path(key).relative_to(root)}: violations ×{v:.2f} (goal ≤0.5), "
                    f"inst-h ×{h:.3f} (≤1.05)"
                )
        tot_v = sum(r[policy].slo_violation_minutes for r in results.values())
        tot_ref = sum(better_reactive(r).slo_violation_minutes for r in results.values())
        geo_h = statistics.geometric_mean(hs) if hs else float("nan")
        print(
            f"{label} {policy}: goal met on {met}/{len(results)} traces; violation minutes {tot_v} vs "
            f"{tot_ref} (better reactive, ×{tot_v / max(tot_ref, 1):.2f}); instance-hours geometric-mean "
            f"ratio ×{geo_h:.3f}; median violation ratio ×{statistics.median(vs):.2f}"
        )
        for m in misses:
            print(m)


def measure_cost(paths: Sequence[Path], cfg: HarmonicConfig) -> tuple[float, float]:
    """(ms per fit, µs per predict) of the forecaster over ``paths`` fed in order."""
    fit_s = 0.0
    fits = 0
    pred_s = 0.0
    preds = 0
    for path in paths:
        trace: LoadTrace = read_trace(path)
        f = HarmonicForecaster(cfg)
        ts = trace.times.tolist()
        ys = trace.load.tolist()
        for t, y in zip(ts, ys, strict=True):
            f.observe(t, y)
        fit_s += f.fit_seconds
        fits += f.fits
        last = ts[-1]
        t0 = time.perf_counter()
        for i in range(2000):
            f.predict(last + 60.0 * (i % 10 + 1))
        pred_s += time.perf_counter() - t0
        preds += 2000
    return 1e3 * fit_s / max(fits, 1), 1e6 * pred_s / max(preds, 1)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nab", type=Path, default=SHARED / "data" / "nab")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument(
        "--no-tune", action="store_true", help="use the code's defaults instead of tuning on half A"
    )
    ap.add_argument("--every", type=int, default=1, help="keep every N-th trace of each half (subsample)")
    args = ap.parse_args(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # a long run redirected to a file shows rows as they come
    data = args.nab / "data"
    paths = sorted(data.glob("*/*.csv"))
    if not paths:
        print(f"no NAB traces under {data}", file=sys.stderr)
        return 2
    tuning, evaluation = split(paths)
    tuning, evaluation = tuning[:: args.every], evaluation[:: args.every]
    print(
        f"{len(paths)} traces; tuning half A: {len(tuning)}, evaluation half B: {len(evaluation)}"
        + (f" (subsampled: every {args.every}th)" if args.every > 1 else "")
    )
    defaults = SimConfig(capacity_per_instance=1.0)
    base = Setting(
        HarmonicConfig(),
        {
            "scale_in_hold_s": defaults.scale_in_hold_s,
            "error_margin": defaults.error_margin,
            "error_gate": defaults.error_gate,
        },
    )
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        setting = base if args.no_tune else tune(pool, tuning, base)
        fc = setting.forecast
        print(
            f"settings ({'code defaults' if args.no_tune else 'chosen on half A'}): harmonics={fc.harmonics} "
            f"regressor={fc.regressor} level_fading={fc.level_fading} {setting.sim}"
        )
        print("\n== evaluation half B (out of sample) ==")
        print_header()
        results_b = run_all(pool, evaluation, POLICY_NAMES, setting, lambda k, r: print_rows(k, r, data))
        print()
        report_goal(results_b, data, "[B, OUT OF SAMPLE]")
        ms_fit, us_pred = measure_cost(evaluation, setting.forecast)
        print(
            f"\nforecaster cost: {ms_fit:.1f} ms per fit (scikit-learn, incl. retrains), "
            f"{us_pred:.1f} µs per predict",
            flush=True,
        )
        print("\n== tuning half A (in sample, for reference) ==")
        print_header()
        results_a = run_all(pool, tuning, POLICY_NAMES, setting, lambda k, r: print_rows(k, r, data))
    print()
    report_goal(results_a, data, "[A, in sample]")
    print(f"bench wall time: {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
