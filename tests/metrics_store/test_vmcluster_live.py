"""The remote store in cluster mode against a real VictoriaMetrics cluster (2 vminsert, 1 vmselect,
3 vmstorage, ``-replicationFactor=2``): tenants land in their own accounts, a tenant scope cannot read another
tenant's series, and killing one vmstorage mid-ingest loses no acknowledged sample.

Reported as not run, loudly, when the cluster binaries could not be built (tests/conftest.py)."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest
from prometheus_client import CollectorRegistry

from metrics_store.model import Labels, Matcher, MatchOp, SeriesData, labels_from
from metrics_store.remote import RemoteStore
from metrics_store.scoped import scoped
from platforms.tenancy import Grant, Scope
from tests.metrics_store.conftest import cluster_config
from tests.support.servers import wait_until
from tests.support.vmcluster import VMCluster

pytestmark = [pytest.mark.integration, pytest.mark.vmcluster]

NAME = "__name__"


def _poll_select(
    store: RemoteStore, cluster: VMCluster, matchers: list[Matcher], start: int, end: int, want_samples: int
) -> list[SeriesData]:
    got: list[list[SeriesData]] = [[]]

    def ready() -> bool:
        cluster.flush()
        got[0] = store.select(matchers, start, end)
        return sum(len(s.timestamps_ms) for s in got[0]) >= want_samples

    wait_until(ready, 30.0, f"{want_samples} samples readable through vmselect", interval_s=0.2)
    return got[0]


def test_tenants_get_their_own_accounts_and_scopes_cannot_cross(vmcluster: VMCluster) -> None:
    store = RemoteStore(cluster_config(vmcluster), registry=CollectorRegistry())
    name = "t" + uuid.uuid4().hex[:10]
    t0 = (int(time.time()) - 600) * 1000
    owners = [("acme", "prod"), ("acme", "dev"), ("globex", "prod"), ("", "")]  # "" = foundation series
    for org, space in owners:
        ref = store.series_ref(labels_from({NAME: name, "org": org, "space": space, "who": org or "cell"}))
        store.append([ref] * 3, [t0, t0 + 1000, t0 + 2000], [1.0, 2.0, 3.0])
    everything = _poll_select(store, vmcluster, [Matcher(NAME, MatchOp.EQ, name)], t0, t0 + 2000, 12)
    # the foundation read (multitenant) sees every account and none of VictoriaMetrics' tenant labels
    assert sorted(
        dict(s.labels).get("org", "") + "/" + dict(s.labels).get("space", "") for s in everything
    ) == ["/", "acme/dev", "acme/prod", "globex/prod"]
    assert all("vm_account_id" not in dict(s.labels) for s in everything)

    # each account holds only its own series: asked directly, vmselect's tenant paths prove the mapping
    def tenant_series(tenant: str) -> list[dict[str, str]]:
        resp = httpx.post(
            f"{vmcluster.select_url}/select/{tenant}/prometheus/api/v1/export",
            data={"match[]": f'{{__name__="{name}"}}', "start": str(t0 / 1000), "end": str(t0 / 1000 + 2)},
            timeout=10,
        )
        resp.raise_for_status()
        return [httpx.Response(200, content=line).json()["metric"] for line in resp.text.splitlines() if line]

    assert [m["space"] for m in tenant_series("1:1")] == ["prod"]
    assert [m["space"] for m in tenant_series("1:2")] == ["dev"]
    assert [m["org"] for m in tenant_series("2:0")] == ["globex"]
    assert [m["who"] for m in tenant_series("0:0")] == ["cell"]

    # attacker: acme/dev's scope asks for globex and for everything, also with a hostile label value
    dev = scoped(store, Scope.of([Grant("acme", "dev", "viewer")]))
    for matchers in (
        [Matcher(NAME, MatchOp.EQ, name)],
        [Matcher(NAME, MatchOp.EQ, name), Matcher("org", MatchOp.EQ, "globex")],
        [Matcher(NAME, MatchOp.EQ, name), Matcher("org", MatchOp.RE, '.*",org=~".*')],
        [Matcher(NAME, MatchOp.RE, ".+"), Matcher("space", MatchOp.NE, "dev")],
    ):
        seen = dev.select(matchers, t0, t0 + 2000)
        assert {(dict(s.labels)["org"], dict(s.labels)["space"]) for s in seen} <= {("acme", "dev")}
    mine = dev.select([Matcher(NAME, MatchOp.EQ, name)], t0, t0 + 2000)
    assert [s.values.tolist() for s in mine] == [[1.0, 2.0, 3.0]]
    store.close()


def test_kill9_one_vmstorage_mid_ingest_loses_no_acknowledged_sample(vmcluster: VMCluster) -> None:
    store = RemoteStore(
        cluster_config(vmcluster, max_retries=8, retry_backoff_s=0.1, timeout_s=5),
        registry=CollectorRegistry(),
    )
    name = "t" + uuid.uuid4().hex[:10]
    t0 = (int(time.time()) - 900) * 1000
    refs = [store.series_ref(labels_from({NAME: name, "inst": str(i)})) for i in range(4)]
    acked: list[int] = []  # batch numbers whose append returned
    failed: list[BaseException] = []
    stop = threading.Event()

    def ingest() -> None:
        k = 0
        while not stop.is_set() and k < 2000:
            try:
                store.append(refs, [t0 + k] * len(refs), [float(k)] * len(refs))
            except Exception as e:
                failed.append(e)
                return
            acked.append(k)
            k += 1

    writer = threading.Thread(target=ingest, daemon=True)
    writer.start()
    wait_until(lambda: len(acked) >= 100 or bool(failed), 30.0, "100 acknowledged batches before the kill")
    vmcluster.kill9_storage(0)
    at_kill = len(acked)
    wait_until(lambda: len(acked) >= at_kill + 200 or bool(failed), 60.0, "200 more batches after the kill")
    stop.set()
    writer.join(30)
    assert not failed, f"ingest failed after the kill: {failed[0]!r}"
    assert not vmcluster.storages[0].alive and len(acked) >= at_kill + 200  # writes continued

    expected = {k: float(k) for k in acked}
    got = _poll_select(store, vmcluster, [Matcher(NAME, MatchOp.EQ, name)], t0, t0 + 2000, 4 * len(acked))
    assert len(got) == 4
    for series in got:
        by_ts: dict[int, float] = dict(
            zip((series.timestamps_ms - t0).tolist(), series.values.tolist(), strict=True)
        )
        missing = [k for k in expected if by_ts.get(k) != expected[k]]
        assert not missing, (
            f"{_inst(series.labels)}: {len(missing)} acknowledged samples lost, e.g. {missing[:5]}"
        )
    store.close()


def _inst(labels: Labels) -> str:
    return dict(labels).get("inst", "?")
