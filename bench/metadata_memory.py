"""The metadata registry's memory at its default bounds, filled the worst way: every triple new.

    PYTHONPATH=TREE .venv/bin/python bench/metadata_memory.py [--help-len 1024] [--names 60000]

Tenants (4 spaces of one org, ``--names`` names between them) and the foundation (``--names`` names of its
own) each expose 8 rotating HELP texts of ``--help-len`` characters per name, so every scrape brings new
triples until the bounds stop them; prints the bytes ``tracemalloc`` still traces afterwards, and per
triple held. A tree whose ``observe`` takes no tenant (main) gets every scrape as its one list per name.
Memory only: no timing, so the machine's load does not matter.
"""

from __future__ import annotations

import argparse
import inspect
import tracemalloc

from prometheus_client import CollectorRegistry

from collector.exposition import FamilyMeta
from collector.metadata import MetadataRegistry


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--help-len", type=int, default=1024)
    p.add_argument("--names", type=int, default=60_000)
    a = p.parse_args()
    now = [0.0]
    reg = MetadataRegistry(registry=CollectorRegistry(), clock=lambda: now[0])
    tenanted = "tenant" in inspect.signature(reg.observe).parameters
    n = a.names
    tracemalloc.start()
    for v in range(8):
        now[0] += 10
        for who in [("org", f"s{s}") for s in range(4)] + [("", "")]:
            part = (
                range(n)
                if who == ("", "")
                else range(int(who[1][1:]) * n // 4, (int(who[1][1:]) + 1) * n // 4)
            )
            prefix = "f" if who == ("", "") else "t"
            fams = {
                f"{prefix}{i}": FamilyMeta(f"{prefix}{i}", "counter", f"{v} {i} ".ljust(a.help_len, "x"))
                for i in part
            }
            if tenanted:
                reg.observe(fams, who)
            else:
                reg.observe(fams)
            del fams
    held = tracemalloc.get_traced_memory()[0]
    snap = reg.snapshot()
    triples = sum(map(len, snap.values()))
    print(f"help {a.help_len} chars, {n} names each: {held / 1e6:.1f} MB traced, {triples} triples shown")


if __name__ == "__main__":
    main()
