"""bench/nab.py's candidate configurations: the built-in grid plus ``--grid KEY=V1,V2`` dimensions."""

from __future__ import annotations

import dataclasses

import pytest

from alerting.anomaly import EnsembleConfig
from bench.nab import GRID, _grid_points, _name, _sweep_points


def test_no_grid_is_the_default_configuration_alone() -> None:
    assert _grid_points(False, ["rare_bins=20,30"]) == [{}]


def test_extra_dimensions_multiply_the_grid_and_keep_the_default_first() -> None:
    base = _grid_points(True)
    points = _grid_points(True, ["rare_bins=20,30", "z_scale=5.0,3.0"])
    assert len(points) == 4 * len(base)
    first = dataclasses.replace(EnsembleConfig(), **points[0])
    assert first == EnsembleConfig()  # ties between configurations go to the first: the default
    assert {p["rare_bins"] for p in points} == {20, 30}
    assert all(type(p["rare_bins"]) is int and type(p["z_scale"]) is float for p in points)
    assert set(points[0]) == set(GRID) | {"rare_bins", "z_scale"}
    assert len({_name(p) for p in points}) == len(points)


def test_an_unknown_key_is_refused() -> None:
    with pytest.raises(AttributeError):
        _grid_points(True, ["no_such_setting=1,2"])


def test_the_default_goes_first_whatever_the_order_given() -> None:
    points = _grid_points(True, ["rare_bins=30,20"])
    default = EnsembleConfig().rare_bins
    assert points[0]["rare_bins"] == default
    assert {p["rare_bins"] for p in points} == {20, 30, default}
    assert dataclasses.replace(EnsembleConfig(), **points[0]) == EnsembleConfig()


def test_a_sweep_changes_one_setting_at_a_time_after_the_default() -> None:
    points = _sweep_points(["rare_bins=15,20,30", "ewma_alpha=0.05"])
    assert points == [{}, {"rare_bins": 15}, {"rare_bins": 30}, {"ewma_alpha": 0.05}]  # 20 is the default
    assert type(points[1]["rare_bins"]) is int
    with pytest.raises(AttributeError):
        _sweep_points(["no_such_setting=1"])
