"""The bulk matrix renderer writes exactly the bytes of the generic path (dict + orjson) for any values."""

from __future__ import annotations

import math

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics_store._matrix_json import matrix_body, value_texts
from metrics_store.api import result_json
from metrics_store.api_common import format_value
from metrics_store.promql._steps import StepSeries, VectorSteps
from metrics_store.promql.arrays import ArrayMatrix
from metrics_store.promql.values import Matrix, Series

_EDGES = [math.nan, math.inf, -math.inf, -0.0, 0.0, 1e16, 1e-5, 1e-7, 123456789.0, 2.0**53, 0.1 + 0.2]
_floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(_EDGES))
_ordinary = st.one_of(st.integers(-(10**9), 10**9).map(float), st.floats(-1e6, 1e6))


def _generic(m: Matrix) -> bytes:
    return orjson.dumps({"status": "success", "data": result_json(m)})


@st.composite
def _matrices(draw: st.DrawFn) -> Matrix:
    series = []
    for _ in range(draw(st.integers(0, 4))):
        stamps = draw(st.lists(st.integers(0, 10**13), max_size=12, unique=True))
        values = draw(
            st.lists(draw(st.sampled_from([_floats, _ordinary])), min_size=len(stamps), max_size=len(stamps))
        )
        labels = draw(st.dictionaries(st.sampled_from(["a", "code", "le"]), st.text(max_size=4), max_size=3))
        series.append(Series(tuple(sorted(labels.items())), tuple(sorted(stamps)), tuple(values)))
    return Matrix(tuple(series))


@settings(max_examples=300, deadline=None)
@given(_matrices())
def test_matrix_body_equals_the_generic_rendering(m: Matrix) -> None:
    assert matrix_body(m) == _generic(m)


@settings(max_examples=300, deadline=None)
@given(st.lists(_floats, max_size=30))
def test_value_texts_spell_every_value_as_format_value(values: list[float]) -> None:
    assert value_texts(tuple(values)) == [format_value(v).encode() for v in values]


def test_shared_step_grid_and_whole_numbers() -> None:
    grid = (1_000, 16_000, 31_500)
    m = Matrix(
        (
            Series((("code", "200"),), grid, (1.0, 2.5, -0.0)),
            Series((("code", "500"),), grid, (10.0, 1e15, 3.0)),
        )
    )
    body = orjson.loads(matrix_body(m))
    assert body["data"]["result"][1]["values"] == [[1, "10"], [16, "1000000000000000"], [31.5, "3"]]
    assert body["data"]["result"][0]["values"][2] == [31.5, "-0"]
    assert matrix_body(m) == _generic(m)


@st.composite
def _step_results(draw: st.DrawFn) -> ArrayMatrix:
    """An evaluated range query: a step grid (ms, whole seconds or not) and series present at some steps."""
    n = draw(st.integers(0, 10))
    start, step = draw(st.integers(0, 10**13)), draw(st.sampled_from([1, 500, 1_000, 15_000]))
    steps = np.arange(start, start + n * step, step, dtype=np.int64)[:n]
    series = []
    for _ in range(draw(st.integers(0, 4))):
        values = draw(st.lists(draw(st.sampled_from([_floats, _ordinary])), min_size=n, max_size=n))
        present = draw(st.one_of(st.just([True] * n), st.lists(st.booleans(), min_size=n, max_size=n)))
        labels = draw(st.dictionaries(st.sampled_from(["a", "code", "le"]), st.text(max_size=4), max_size=3))
        series.append(
            StepSeries(
                tuple(sorted(labels.items())), np.array(values, dtype=np.float64), np.array(present, bool)
            )
        )
    return ArrayMatrix.of_steps(VectorSteps(series), steps)


@settings(max_examples=300, deadline=None)
@given(_step_results())
def test_matrix_body_of_arrays_equals_that_of_the_matrix(arrays: ArrayMatrix) -> None:
    """The HTTP API renders from numpy arrays: the same bytes as from the Matrix the engine returns."""
    m = arrays.to_matrix()
    assert matrix_body(arrays) == matrix_body(m) == _generic(m)


def test_arrays_keep_only_present_steps_and_share_the_grid() -> None:
    steps = np.array([1_000, 16_000, 31_000], dtype=np.int64)
    full = StepSeries((("code", "500"),), np.array([1.0, 2.0, 3.0]), np.array([True, True, True]))
    gap = StepSeries((("code", "200"),), np.array([4.0, np.nan, 6.0]), np.array([True, False, True]))
    none = StepSeries((("code", "300"),), np.array([7.0, 8.0, 9.0]), np.array([False, False, False]))
    m = ArrayMatrix.of_steps(VectorSteps([full, gap, none]), steps).to_matrix()
    assert m == Matrix(
        (
            Series((("code", "200"),), (1_000, 31_000), (4.0, 6.0)),
            Series((("code", "500"),), (1_000, 16_000, 31_000), (1.0, 2.0, 3.0)),
        )
    )
