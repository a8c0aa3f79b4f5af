"""Exposition parser benchmark: ours vs prometheus_client's parser, same inputs, same run.

Prints samples/s for the 21 KB real Prometheus dump and a synthetic 10k-series exposition (labels like a real
exporter), cold (first parse in a fresh parser: every key validated) and warm (steady state: keys cached),
plus the ratio ours / prometheus_client, and warm with Prometheus 3's le/quantile normalisation (the scrape
default under ``promql.semantics: "3"``) as a ratio to plain warm. Optional: --openmetrics also times the
OpenMetrics path.

    .venv/bin/python bench/parse.py [--series 10000] [--seconds 2]

Reads ../shared/data/prometheus relative to the repository (falls back to tests/fixtures/prometheus).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from collector.exposition import ExpositionParser  # noqa: E402

SHARED_DUMP = REPO.parent / "shared" / "data" / "prometheus" / "prometheus_common_testdata" / "text"
FIXTURE_DUMP = REPO / "tests" / "fixtures" / "prometheus" / "prometheus_common_testdata" / "text"


def synthetic(series: int, seed: int = 1, openmetrics: bool = False) -> bytes:
    """A node/app-exporter-like body: a few families, 4-6 labels per series, histograms included."""
    rng = random.Random(seed)
    out: list[str] = []
    per_family = max(1, series // 10)
    for f in range(10):
        kind = ("counter", "gauge", "histogram")[f % 3]
        name = f"app_http_requests_{f}_total" if kind == "counter" else f"app_metric_{f}_{kind}"
        family = name.removesuffix("_total") if openmetrics else name  # OM: counter family lacks _total
        out.append(f"# HELP {family} Synthetic family {f}.")
        out.append(f"# TYPE {family} {kind}")
        if kind == "histogram":
            groups = max(1, per_family // 8)
            for g in range(groups):
                labels = f'app="app-{g % 97}",instance="10.0.{g % 250}.{g % 13}:8080",space="space-{g % 7}"'
                acc = 0
                for le in ("0.005", "0.01", "0.05", "0.1", "0.5", "1", "+Inf"):
                    acc += rng.randrange(100)
                    out.append(f'{name}_bucket{{{labels},le="{le}"}} {acc}')
                out.append(f"{name}_count{{{labels}}} {acc}")
                if openmetrics:
                    out.append(f"{name}_sum{{{labels}}} {acc * 0.1:.6g}")
            continue
        for i in range(per_family):
            labels = (
                f'app="app-{i % 97}",instance="10.0.{i % 250}.{i % 13}:8080",'
                f'code="{200 + i % 5}",method="{("GET", "POST", "PUT")[i % 3]}",route="/v{i % 3}/r{i}"'
            )
            out.append(f"{name}{{{labels}}} {rng.random() * 1e6:.6g}")
    if openmetrics:
        out.append("# EOF")
    return ("\n".join(out) + "\n").encode()


def rate(fn: Callable[[], int], seconds: float) -> float:
    n = 0
    t0 = time.perf_counter()
    while True:
        n += fn()
        dt = time.perf_counter() - t0
        if dt >= seconds:
            return n / dt


def reference_count(text: str) -> int:
    return sum(len(f.samples) for f in text_string_to_metric_families(text))


def bench(label: str, data: bytes, seconds: float, content_type: str | None = None) -> None:
    text = data.decode()
    n = len(ExpositionParser(registry=CollectorRegistry()).parse(data, content_type).samples)

    def cold() -> int:
        return len(ExpositionParser(registry=CollectorRegistry()).parse(data, content_type).samples)

    warm_parser = ExpositionParser(registry=CollectorRegistry())
    warm_parser.parse(data, content_type)

    def warm() -> int:
        return len(warm_parser.parse(data, content_type).samples)

    # Prometheus 3 semantics (the scrape default): le/quantile values normalised, keys rewritten once
    norm_parser = ExpositionParser(registry=CollectorRegistry(), normalise_float_labels=True)
    norm_parser.parse(data, content_type)

    def warm_norm() -> int:
        return len(norm_parser.parse(data, content_type).samples)

    if content_type:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families as om_families

        def ref() -> int:
            return sum(len(f.samples) for f in om_families(text))
    else:

        def ref() -> int:
            return reference_count(text)

    r_cold, r_warm, r_ref = rate(cold, seconds), rate(warm, seconds), rate(ref, seconds)
    r_norm = rate(warm_norm, seconds)
    print(f"{label}: {n} samples, {len(data) / 1024:.0f} KiB")
    print(f"  paramedic cold    {r_cold:>12,.0f} samples/s   ({r_cold / r_ref:5.1f}x prometheus_client)")
    print(f"  paramedic warm    {r_warm:>12,.0f} samples/s   ({r_warm / r_ref:5.1f}x prometheus_client)")
    print(f"  warm, le/quantile {r_norm:>12,.0f} samples/s   ({r_norm / r_warm:5.2f}x warm: Prometheus 3)")
    print(f"  prometheus_client {r_ref:>12,.0f} samples/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--openmetrics", action="store_true", help="also time the OpenMetrics parser")
    args = ap.parse_args()
    dump = SHARED_DUMP if SHARED_DUMP.exists() else FIXTURE_DUMP
    if not dump.exists():
        sys.exit(f"missing input: {SHARED_DUMP} (and fallback {FIXTURE_DUMP})")
    if dump is not SHARED_DUMP:
        print(f"note: {SHARED_DUMP} is missing; using {FIXTURE_DUMP}")
    bench(f"real dump {dump.name}", dump.read_bytes(), args.seconds)
    syn = synthetic(args.series)
    bench(f"synthetic {args.series} series", syn, args.seconds)
    if args.openmetrics:
        om = synthetic(args.series, openmetrics=True)
        bench("synthetic OpenMetrics", om, args.seconds, "application/openmetrics-text; version=1.0.0")


if __name__ == "__main__":
    main()
