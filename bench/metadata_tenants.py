"""The metadata registry with many tenants: CPU of ``observe`` and of a viewer's read, and memory held.

    .venv/bin/python bench/metadata_tenants.py [--spaces 2000] [--families 200] [--reads 20] [--runs 3]
        NAME=TREE [NAME=TREE ...]

Each TREE is a checkout (e.g. ``git worktree add /tmp/md-main main``); the runs alternate the trees (A, B,
A, B, ...), each in its own process with ``PYTHONPATH=TREE``. One run: ``--spaces`` spaces of one org each
scrape ``--families`` counter families with the same HELP (first sighting: every space new), then 500 of
them again (repeat scrapes); then a viewer of another org whose store has one of those families reads
``/api/v1/metadata``'s registry part (the router's step after the store query: main and the previous branch
filter a snapshot, this tree looks up the viewer's families), a viewer of the owner org (an org grant over
the ``--spaces`` spaces, every family in its store: "org read"), and a foundation-wide read (every name); then
the memory: the same fill under
``tracemalloc`` (traced bytes after it), and how much is still traced once every target is gone for
longer than ``max_age_s`` and one foundation scrape came in; this part uses each tree's default bounds
(main: 50,000 names; the previous branch: 4,096 tenants per triple; now: ``max_metrics`` (tenant, name)
entries; this tree: ``max_triples``). CPU is ``time.process_time`` of the process (the other helpers'
load on the 2 cores barely moves it); wall clock is not used.

The three registry APIs (main: ``observe(families)``; the previous branch: ``observe(families, tenant)`` and
``snapshot(scope=)``; now ``scoped_snapshot``) are told apart by their signatures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

_VIEWER_SERIES = {"fam_7_total"}


def _child(spaces: int, families: int, reads: int) -> dict[str, float]:
    import inspect

    from prometheus_client import CollectorRegistry

    import collector.metadata as md
    from collector.exposition import FamilyMeta
    from platforms.tenancy import Grant, Scope

    fams = {f"fam_{i}_total": FamilyMeta(f"fam_{i}_total", "counter", f"help {i}") for i in range(families)}
    tenants = [("bigcorp", f"space{j}") for j in range(spaces)]
    scope = Scope.of([Grant("umbrella", None, "viewer")])
    now = [0.0]

    def build(**bounds: int) -> Any:
        known = inspect.signature(md.MetadataRegistry).parameters
        bounds = {k: v for k, v in bounds.items() if k in known}
        return md.MetadataRegistry(clock=lambda: now[0], registry=CollectorRegistry(), **bounds)

    reg = build(max_metrics=10**8, max_triples=10**8)  # the CPU part: nothing evicted
    tenanted = "tenant" in inspect.signature(reg.observe).parameters

    def fill(r: Any, targets: list[tuple[str, str]]) -> None:
        for t in targets:
            now[0] += 0.001
            r.observe(fams, t) if tenanted else r.observe(fams)

    def read(r: Any, viewer: Scope = scope, series: set[str] = _VIEWER_SERIES) -> dict[str, Any]:
        if hasattr(r, "scoped_snapshot"):
            return dict(r.scoped_snapshot(md._families(series), viewer))
        found = r.snapshot(scope=viewer) if tenanted else r.snapshot()
        return dict(getattr(md, "_visible")(found, series, -1))  # noqa: B009 (gone from this tree)

    out: dict[str, float] = {}
    started = time.process_time()
    fill(reg, tenants)
    out["first_us"] = (time.process_time() - started) / spaces * 1e6
    started = time.process_time()
    fill(reg, tenants[:500])
    out["repeat_us"] = (time.process_time() - started) / min(500, spaces) * 1e6
    started = time.process_time()
    for _ in range(reads):
        read(reg)
    out["read_us"] = (time.process_time() - started) / reads * 1e6
    owner = Scope.of([Grant("bigcorp", None, "viewer")])
    started = time.process_time()
    for _ in range(reads):
        assert len(read(reg, owner, set(fams))) == families
    out["org_ms"] = (time.process_time() - started) / reads * 1e3
    started = time.process_time()
    for _ in range(reads):
        reg.snapshot()  # a foundation-wide reader's (an admin's Grafana): every tenant's names
    out["admin_ms"] = (time.process_time() - started) / reads * 1e3
    del reg
    tracemalloc.start()
    reg = build()  # the memory part: each tree's default bounds
    fill(reg, tenants)
    out["held_mb"] = tracemalloc.get_traced_memory()[0] / 1e6
    now[0] += 10 * reg.max_age_s
    reg.observe({"x": FamilyMeta("x", "gauge", "h")})
    out["after_age_mb"] = tracemalloc.get_traced_memory()[0] / 1e6
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("trees", nargs="+", metavar="NAME=TREE")
    p.add_argument("--spaces", type=int, default=2000)
    p.add_argument("--families", type=int, default=200)
    p.add_argument("--reads", type=int, default=20)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(_child(a.spaces, a.families, a.reads)))
        return
    trees = [t.partition("=")[::2] for t in a.trees]
    print(
        f"{a.spaces} spaces of one org x {a.families} families; CPU (process_time), {a.runs} runs alternated"
    )
    print(
        f"{'tree':<10} {'first us/scrape':>16} {'repeat us/scrape':>17} {'read us':>9} {'org read ms':>12} "
        f"{'admin ms':>9} "
        f"{'MB held':>8} {'MB after max_age':>17}"
    )
    for _ in range(a.runs):
        for name, tree in trees:
            args = [
                str(Path(__file__).resolve()),
                "--child",
                f"--spaces={a.spaces}",
                f"--families={a.families}",
            ]
            args += [f"--reads={a.reads}", "x=x"]
            env = {**os.environ, "PYTHONPATH": tree}
            res = subprocess.run(
                [sys.executable, *args], check=False, env=env, cwd=tree, capture_output=True, text=True
            )
            if res.returncode != 0:
                print(f"{name}: failed\n{res.stderr}", file=sys.stderr)
                continue
            r = json.loads(res.stdout)
            print(
                f"{name:<10} {r['first_us']:>16.0f} {r['repeat_us']:>17.0f} {r['read_us']:>9.0f} "
                f"{r['org_ms']:>12.2f} {r['admin_ms']:>9.2f} {r['held_mb']:>8.1f} {r['after_age_mb']:>17.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
