"""One live 3-node OpenSearch cluster per test session (tests marked ``opensearch``), small heaps.

Built by ``scripts/build_opensearch.sh`` (Maven Central); when it is not built those tests are deselected
and the session ends with a loud line quoting the build's error (tests/conftest.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from opensearchpy import OpenSearch
from prometheus_client import CollectorRegistry

from log_pipeline.search.es_store import ElasticsearchStore
from log_pipeline.search.opensearch_cluster import OpenSearchCluster, opensearch_cluster
from log_pipeline.search.os_client import OpenSearchClient

_prefixes = itertools.count()


@pytest.fixture(scope="session")
def live_opensearch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenSearchCluster]:
    # cluster membership changes and shard failures in the nodes' logs (tmp folder): what a failover did
    settings = {
        f"logger.org.opensearch.{k}": "INFO"
        for k in ("cluster.coordination", "cluster.service", "cluster.routing", "cluster.metadata")
    }
    with opensearch_cluster(tmp_path_factory.mktemp("opensearch"), 3, 256, settings) as cluster:
        print(f"\nOpenSearch 3-node cluster healthy {cluster.started_s:.1f} s after the JVMs started")
        yield cluster


def opensearch_store(cluster: OpenSearchCluster, prefix: str = "", **options: object) -> ElasticsearchStore:
    """A store over its own index prefix (tests do not see each other's records), template installed."""
    client = OpenSearch(hosts=cluster.urls, timeout=30, max_retries=3, retry_on_timeout=True)
    store = ElasticsearchStore(
        OpenSearchClient(client),
        index_prefix=prefix or f"t{next(_prefixes)}-logs",
        registry=CollectorRegistry(),
        initial_backoff_s=0.2,
        **options,  # type: ignore[arg-type]
    )
    store.install_template()
    return store
