"""SimOptions refuses values the simulator cannot run with, naming each option."""

from __future__ import annotations

import pytest

from platforms.cf_sim.runner import SimOptions


def test_bad_options_name_every_problem() -> None:
    with pytest.raises(ValueError, match=r"SimOptions\.instances: must be 1\.\.32") as err:
        SimOptions(instances=0, rate_limit=0, redirect_uris=("javascript:alert(1)",))
    assert "SimOptions.rate_limit" in str(err.value) and "SimOptions.redirect_uris" in str(err.value)
    assert SimOptions(instances=32).instances == 32
