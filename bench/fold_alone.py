"""The embedded store's fold alone, on data shaped like ``bench/ingest.py``'s: CPU per sample by phase.

    .venv/bin/python bench/fold_alone.py [--targets 50] [--series 2000] [--scrapes 20] [--folds 7]
        [--profile OUT.json] [--set NAME=VALUE ...]

Each fold is ``--scrapes`` scrapes of ``--targets`` targets of ``--series`` + 5 series (one shared
timestamp a scrape, the synthetic targets' values), concatenated as the store does and written the way
``Database.fold`` writes it, with the process's CPU (``getrusage``: every thread, DuckDB's included) taken
around each phase: the sort into columns, the trim, the series insert, the registration, the samples
``INSERT`` (DuckDB's compression and its optimistic writes happen inside it), the spans and the commit.
The first fold (it also inserts the series) is left out of the means. ``--profile`` writes DuckDB's JSON
profile of one steady fold's ``INSERT``; ``--set`` runs ``SET NAME = VALUE`` on the database first.

Compare code versions by running this file with ``PYTHONPATH`` pointing at each tree, alternated; on a
shared machine repeat each at least three times. Wall-clock time is not used.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from metrics_store.embedded import _db, _malloc
from metrics_store.embedded._head import Chunk, concat, shared_ts
from metrics_store.model import Labels

PHASES = ("concat", "rows", "trim", "series", "register", "insert", "spans", "commit")


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def scrape_values(target: int, series: int, second: int) -> npt.NDArray[np.float64]:
    """The values ``bench/_targets.py`` exposes at ``second``, plus the scrape's 5 ``up``-like series."""
    per = series // 4
    i = np.arange(per)
    parts = [
        second * (i % 7 + 1) + target,
        ((second + i) % 97) / 1000,
        1_000_000 + (second * 13 + i) % 4096,
        (second + np.arange(series - 3 * per)) % 11,
        np.array([1.0, 0.01, series, 0.0, series]),
    ]
    return np.concatenate(parts).astype(np.float64)


def scrapes(targets: int, series: int, n: int, first_second: int) -> list[Chunk]:
    width = series + 5
    out = []
    for s in range(n):
        second = first_second + s
        for t in range(targets):
            ts = np.full(width, second * 1000 + t * 17, dtype=np.int64)  # targets' scrapes spread in time
            refs = np.arange(t * width, (t + 1) * width, dtype=np.uint32)
            out.append(Chunk(refs, shared_ts(ts), scrape_values(t, series, second)))
    return out


def fold(
    db: _db.Database, chunk: Chunk, series: list[tuple[int, Labels]], spent: dict[str, float], profile: str
) -> None:
    """``Database.fold``'s steps in its order, each timed (kept in step with it by hand)."""
    t = cpu_s()

    def lap(phase: str) -> None:
        nonlocal t
        now = cpu_s()
        spent[phase] += now - t
        t = now

    batch, spans = _db._checkpoint_rows(chunk)
    lap("rows")
    _malloc.trim()
    lap("trim")
    cur = db._con.cursor()
    cur.begin()
    last = int(
        cur.execute(
            "UPDATE meta SET value = value + ? WHERE key = 'seq' RETURNING value", [len(spans)]
        ).fetchall()[0][0]
    )
    first_seq = last - len(spans) + 1
    if series:
        cur.register(
            "new_series",
            {
                "ref": np.array([r for r, _ in series], dtype=np.uint32),
                "labels": np.array([_db.labels_json(lbl) for _, lbl in series], dtype=object),
            },
        )
        cur.execute("INSERT INTO series SELECT ref, labels FROM new_series ON CONFLICT DO NOTHING")
    lap("series")
    cur.register("batch", batch)
    lap("register")
    if profile:
        cur.execute("PRAGMA enable_profiling = 'json'")
        cur.execute(f"PRAGMA profiling_output = '{profile}'")
    cur.execute(_db._insert_sql(batch), [first_seq])
    if profile:
        cur.execute("PRAGMA disable_profiling")
    lap("insert")
    cur.executemany(
        "INSERT INTO spans VALUES (?, ?, ?)", [[first_seq + k, lo, hi] for k, (lo, hi) in enumerate(spans)]
    )
    lap("spans")
    cur.commit()
    db._spans = db._read_spans(cur)
    cur.close()
    lap("commit")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", type=int, default=50)
    ap.add_argument("--series", type=int, default=2000)
    ap.add_argument("--scrapes", type=int, default=20, help="scrapes per fold")
    ap.add_argument("--folds", type=int, default=7)
    ap.add_argument("--profile", default="", help="DuckDB JSON profile of the third fold's INSERT")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fold_alone"))
    try:
        db = _db.Database(work / "m.duckdb")
        for setting in args.set:
            db._con.execute(f"SET {setting}")
        width = args.series + 5
        labels: list[tuple[int, Labels]] = [
            (r, (("__name__", "m"), ("i", str(r)))) for r in range(args.targets * width)
        ]
        spent = dict.fromkeys(PHASES, 0.0)
        for k in range(args.folds):
            chunks = scrapes(args.targets, args.series, args.scrapes, 1_765_000_000 + k * args.scrapes)
            if k == 1:
                spent = dict.fromkeys(PHASES, 0.0)  # the first fold inserts the series: left out
            t = cpu_s()
            chunk = concat(chunks)
            del chunks
            spent["concat"] += cpu_s() - t
            fold(db, chunk, labels if k == 0 else [], spent, args.profile if k == 2 else "")
            del chunk
        db.close()
        rows = (args.folds - 1) * args.targets * width * args.scrapes
        size = (work / "m.duckdb").stat().st_size / (args.folds * args.targets * width * args.scrapes)
    finally:
        shutil.rmtree(work)
    for phase in PHASES:
        print(f"{phase:9s} {spent[phase] / rows * 1e6:.4f} us/sample")
    print(f"{'total':9s} {sum(spent.values()) / rows * 1e6:.4f} us/sample (process CPU, {rows:,} samples)")
    print(f"file      {size:.2f} bytes/sample")


if __name__ == "__main__":
    main()
