"""The NAB scorer reproduces Numenta HTM's published result on the shared NAB subset (deterministic)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from alerting.anomaly.nab import PROFILES, NabFile, Profile, htm_scores, load_corpus, score_corpus
from tests.conftest import SHARED

NAB = SHARED / "data" / "nab"
# NAB is AGPL: it stays in ../shared; without it these checks are reported as not run (tests/conftest.py)
pytestmark = pytest.mark.reference_data


@pytest.fixture(scope="module")
def corpus() -> list[NabFile]:
    if not (NAB / "labels" / "combined_windows.json").is_file():
        pytest.fail(f"NAB data missing: {NAB} (shared/data/nab is required, see its SOURCE.txt)")
    return load_corpus(NAB)


def _stored_file_scores(f: NabFile, column: str) -> float:
    cat, name = f.key.split("/", 1)
    with (NAB / "results" / "numenta" / cat / f"numenta_{name}").open(newline="") as fh:
        return sum(float(row[column]) for row in csv.DictReader(fh))


def test_corpus_shape(corpus: list[NabFile]) -> None:
    assert len(corpus) == 34
    assert sum(len(f.windows) for f in corpus) == 50
    assert corpus[0].probation == 604  # floor(0.15 * 4032)


def test_htm_standard_is_73_56(corpus: list[NabFile]) -> None:
    result = score_corpus(corpus, htm_scores(NAB, corpus), PROFILES[0])
    assert round(result.normalized, 2) == 73.56
    assert result.windows == 50


@pytest.mark.parametrize(
    "profile", [p for p in PROFILES if p.name != "reward_low_FP_rate"], ids=lambda p: p.name
)
def test_per_file_scores_match_numenta_output(corpus: list[NabFile], profile: Profile) -> None:
    """NAB's own per-row S(t) columns sum to our per-file raw score at the optimised threshold."""
    result = score_corpus(corpus, htm_scores(NAB, corpus), profile)
    for f in corpus:
        assert result.per_file_raw[f.key] == pytest.approx(
            _stored_file_scores(f, f"S(t)_{profile.name}"), abs=1e-9
        )


def test_all_profiles(corpus: list[NabFile]) -> None:
    scores = htm_scores(NAB, corpus)
    got = {p.name: round(score_corpus(corpus, scores, p).normalized, 2) for p in PROFILES}
    assert got == {"standard": 73.56, "reward_low_FP_rate": 68.36, "reward_low_FN_rate": 77.04}


def test_null_and_perfect(corpus: list[NabFile]) -> None:
    null = {f.key: [0.0] * len(f.values) for f in corpus}
    perfect = {
        f.key: [1.0 if any(i == a for a, _ in f.windows) else 0.0 for i in range(len(f.values))]
        for f in corpus
    }
    for p in PROFILES:
        assert score_corpus(corpus, null, p).normalized == pytest.approx(0.0)
        assert score_corpus(corpus, perfect, p).normalized == pytest.approx(100.0)


def test_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_corpus(tmp_path)
