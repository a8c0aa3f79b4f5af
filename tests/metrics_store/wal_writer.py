"""Writer process for the kill -9 durability test: appends numbered batches and prints ``ACK k`` after each
``append`` returns. Batch k holds one sample per series at ts = BASE + k, value = k + i / 1000; every 25th
batch adds a new series first (so series records land in the WAL between checkpoints).

Run: python -m tests.metrics_store.wal_writer DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from prometheus_client import CollectorRegistry

from metrics_store.config import EmbeddedStoreConfig
from metrics_store.embedded import EmbeddedStore
from metrics_store.model import labels_from

BASE = 1_700_000_000_000
SERIES = 50


def labels(i: int) -> tuple[tuple[str, str], ...]:
    return labels_from({"__name__": "kill_test", "i": str(i)})


def main() -> None:
    cfg = EmbeddedStoreConfig(checkpoint_samples=3_000, checkpoint_interval_s=0.2, downsample_after_s=None)
    store = EmbeddedStore(Path(sys.argv[1]), cfg, registry=CollectorRegistry())
    n = SERIES
    refs = [store.series_ref(labels(i)) for i in range(n)]
    k = 0
    while True:
        if k % 25 == 24:
            refs.append(store.series_ref(labels(n)))
            n += 1
        store.append(refs, [BASE + k] * n, [k + i / 1000 for i in range(n)])
        print(f"ACK {k} {n}", flush=True)
        k += 1


if __name__ == "__main__":
    main()
