"""The Numenta Anomaly Benchmark scoring method (NAB v1.1: ``sweeper.py``, ``optimizer.py``, ``runner.py``).

Deterministic and dependency-free, so both ``bench/nab.py`` and the tests use it:

* every row gets a *sweep weight*: inside a labelled window a scaled sigmoid of the position (earliest
  ≈ +A_TP, right edge ≈ small positive), outside one ``A_FP`` times a scaled sigmoid of the distance past
  the previous window (-A_FP when no window has ended yet);
* rows of the probationary period (``min(floor(0.15 N), 750)``) are not scored;
* for a threshold ``t`` a row with ``score >= t`` is a detection; a file scores the sum of its false-positive
  weights plus, per window, the best detection's weight or ``-A_FN`` when it has none;
* one threshold per detector and profile maximises the score of all files pooled;
* ``100 * (raw - null) / (perfect - null)`` normalises, with ``perfect = A_TP * windows`` and
  ``null = -A_FN * windows``.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

__all__ = [
    "PROFILES",
    "CorpusScore",
    "NabFile",
    "Profile",
    "htm_scores",
    "load_corpus",
    "read_scores",
    "score_at_threshold",
    "score_corpus",
]


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


PROFILES: tuple[Profile, ...] = (
    Profile("standard", 1.0, 0.11, 1.0),
    Profile("reward_low_FP_rate", 1.0, 0.22, 1.0),
    Profile("reward_low_FN_rate", 1.0, 0.11, 2.0),
)

_PROBATION_FRACTION = 0.15
_PROBATION_CAP_ROWS = 5000


@dataclass(frozen=True, slots=True)
class NabFile:
    """One data file: its key (``category/name.csv``), rows and labelled windows as row index pairs."""

    key: str
    timestamps: tuple[datetime, ...]
    values: tuple[float, ...]
    windows: tuple[tuple[int, int], ...]

    @property
    def category(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def probation(self) -> int:
        n = len(self.timestamps)
        return int(min(math.floor(_PROBATION_FRACTION * n), _PROBATION_FRACTION * _PROBATION_CAP_ROWS))


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


def _read_series(path: Path) -> tuple[tuple[datetime, ...], tuple[float, ...]]:
    times: list[datetime] = []
    values: list[float] = []
    with path.open(newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for row in reader:
            times.append(_parse_time(row[0]))
            values.append(float(row[1]))
    return tuple(times), tuple(values)


def load_corpus(root: Path) -> list[NabFile]:
    """Read ``root/data/**`` and ``root/labels/combined_windows.json`` (files in label order)."""
    labels_path = root / "labels" / "combined_windows.json"
    if not labels_path.is_file():
        raise FileNotFoundError(f"NAB labels not found: {labels_path}")
    labels: dict[str, list[list[str]]] = json.loads(labels_path.read_text())
    files: list[NabFile] = []
    for key in sorted(labels):
        times, values = _read_series(root / "data" / key)
        index = {t: i for i, t in enumerate(times)}
        windows = tuple((index[_parse_time(a)], index[_parse_time(b)]) for a, b in labels[key])
        files.append(NabFile(key, times, values, windows))
    return files


def read_scores(path: Path) -> list[float]:
    """The ``anomaly_score`` column of a NAB results CSV."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return [float(row["anomaly_score"]) for row in reader]


def _scaled_sigmoid(y: float) -> float:
    if y > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def _sweep_weights(f: NabFile, p: Profile) -> tuple[list[float], list[int]]:
    """Per-row weight and window id (-1 outside any window), as ``sweeper.calcSweepScore``."""
    n = len(f.timestamps)
    weights = [0.0] * n
    window_of = [-1] * n
    max_tp = _scaled_sigmoid(-1.0)
    prev_right: int | None = None
    prev_width = 0.0
    w = 0
    i = 0
    while i < n:
        if w < len(f.windows) and i == f.windows[w][0]:
            left, right = f.windows[w]
            width = float(right - left + 1)
            for j in range(left, right + 1):
                weights[j] = _scaled_sigmoid(-(right - j + 1) / width) * p.tp_weight / max_tp
                window_of[j] = w
            prev_right, prev_width = right, width
            w += 1
            i = right + 1
            continue
        past = -1.0 if prev_right is None else _scaled_sigmoid(abs(prev_right - i) / (prev_width - 1.0))
        weights[i] = past * p.fp_weight
        i += 1
    return weights, window_of


@dataclass(frozen=True, slots=True)
class CorpusScore:
    profile: str
    threshold: float
    raw: float
    normalized: float
    windows: int
    per_file_raw: Mapping[str, float]
    tp: int
    fp: int
    fn: int

    def category_normalized(
        self, files: Sequence[NabFile], fn_weight: float, tp_weight: float
    ) -> dict[str, float]:
        """Normalised score per category over its own windows (a category without windows: its raw score)."""
        out: dict[str, float] = {}
        for cat in sorted({f.category for f in files}):
            in_cat = [f for f in files if f.category == cat]
            raw = sum(self.per_file_raw[f.key] for f in in_cat)
            nwin = sum(len(_scorable_windows(f)) for f in in_cat)
            if nwin:
                null = -fn_weight * nwin
                out[cat] = 100.0 * (raw - null) / (tp_weight * nwin - null)
            else:
                out[cat] = raw  # no windows: raw FP penalty (0 is perfect)
        return out


def _scorable_windows(f: NabFile) -> list[int]:
    prob = f.probation
    return [k for k, (_, right) in enumerate(f.windows) if right >= prob]


def score_corpus(
    files: Sequence[NabFile], scores: Mapping[str, Sequence[float]], profile: Profile
) -> CorpusScore:
    """Optimise the threshold over all files pooled and return the normalised score (``runner.py``)."""
    points: list[tuple[float, int, int, float]] = []  # (score, file no., window id or -1, weight)
    nwindows = 0
    for fno, f in enumerate(files):
        s = scores[f.key]
        if len(s) != len(f.timestamps):
            raise ValueError(f"{f.key}: {len(s)} scores for {len(f.timestamps)} rows")
        weights, window_of = _sweep_weights(f, profile)
        nwindows += len(_scorable_windows(f))
        points.extend((s[i], fno, window_of[i], weights[i]) for i in range(f.probation, len(s)))
    points.sort(key=lambda x: -x[0])
    null = -profile.fn_weight * nwindows
    best_score, best_threshold = null, 1.1
    cur = null
    best: dict[tuple[int, int], float] = {}
    k = 0
    while k < len(points):
        value = points[k][0]
        while k < len(points) and points[k][0] == value:
            _, fno, wid, weight = points[k]
            if wid < 0:
                cur += weight
            else:
                key = (fno, wid)
                old = best.get(key)
                if old is None:
                    cur += profile.fn_weight + weight
                    best[key] = weight
                elif weight > old:
                    cur += weight - old
                    best[key] = weight
            k += 1
        if cur > best_score:
            best_score, best_threshold = cur, value
    return _score_at(files, scores, profile, best_threshold, nwindows)


def score_at_threshold(
    files: Sequence[NabFile], scores: Mapping[str, Sequence[float]], profile: Profile, threshold: float
) -> CorpusScore:
    """Score ``files`` at a given threshold (no optimisation): how a threshold chosen elsewhere does here."""
    nwindows = sum(len(_scorable_windows(f)) for f in files)
    return _score_at(files, scores, profile, threshold, nwindows)


def _score_at(
    files: Sequence[NabFile],
    scores: Mapping[str, Sequence[float]],
    p: Profile,
    threshold: float,
    nwindows: int,
) -> CorpusScore:
    per_file: dict[str, float] = {}
    tp = fp = fn = 0
    for f in files:
        s = scores[f.key]
        weights, window_of = _sweep_weights(f, p)
        total = 0.0
        hit: dict[int, float] = {}
        for i in range(f.probation, len(s)):
            if s[i] < threshold:
                continue
            wid = window_of[i]
            if wid < 0:
                total += weights[i]
                fp += 1
            else:
                hit[wid] = max(hit.get(wid, -math.inf), weights[i])
        total += sum(hit.values())
        missed = len(_scorable_windows(f)) - len(hit)
        total -= p.fn_weight * missed
        tp += len(hit)
        fn += missed
        per_file[f.key] = total
    raw = sum(per_file.values())
    null = -p.fn_weight * nwindows
    # no windows (a held-out category of anomaly-free files): the raw false-positive penalty, 0 is perfect
    normalized = 100.0 * (raw - null) / (p.tp_weight * nwindows - null) if nwindows else raw
    return CorpusScore(p.name, threshold, raw, normalized, nwindows, per_file, tp, fp, fn)


def htm_scores(root: Path, files: Iterable[NabFile]) -> dict[str, list[float]]:
    """Numenta HTM's per-row scores from ``root/results/numenta`` (the reference detector)."""
    out: dict[str, list[float]] = {}
    for f in files:
        cat, name = f.key.split("/", 1)
        out[f.key] = read_scores(root / "results" / "numenta" / cat / f"numenta_{name}")
    return out
