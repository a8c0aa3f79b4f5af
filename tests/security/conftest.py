"""One real ``paramedic serve`` per module for the hostile-request tests (see tests/support/hostile.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.hostile import Target, running_target


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with running_target(tmp_path_factory.mktemp("serve")) as t:
        yield t


@pytest.fixture(scope="module")
def anonymous_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with running_target(tmp_path_factory.mktemp("serve-anon"), anonymous_read=True) as t:
        yield t
