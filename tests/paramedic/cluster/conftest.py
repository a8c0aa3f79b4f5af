from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.etcd import EtcdServer, running_etcd


@pytest.fixture(scope="package")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    """One real etcd for every cluster test (each test uses its own key prefix)."""
    with running_etcd(Path(tmp_path_factory.mktemp("etcd"))) as server:
        yield server
