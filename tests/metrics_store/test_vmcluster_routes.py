"""Cluster mode's routing without a cluster: the org/space -> ``accountID:projectID`` table, and the URLs the
real influxdb-client and httpx calls reach on a loopback HTTP server that records them (vminsert/vmselect
stand-ins: they accept every write and answer reads with the export lines the test gives them). What the
real cluster does with them is tested in test_vmcluster_live.py."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from metrics_store.config import RemoteStoreConfig, VMClusterConfig, VMTenantConfig
from metrics_store.model import Matcher, MatchOp, labels_from
from metrics_store.remote import RemoteStore
from metrics_store.remote._tenants import MULTITENANT, TenantMap
from metrics_store.scoped import scoped
from platforms.tenancy import Grant, Scope
from tests.support.servers import free_port

NAME = "__name__"
TENANTS = [
    VMTenantConfig(org="acme", account_id=1, spaces={"prod": 1, "dev": 2}),
    VMTenantConfig(org="globex", account_id=2),
]


class Recorder(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str, str]] = []  # (method, path, body)
        self.export_lines: list[dict[str, object]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        self.server.requests.append(("POST", self.path, body))
        if "/api/v1/export" in self.path:
            out = "".join(
                json.dumps(ln, separators=(",", ":")) + "\n" for ln in self.server.export_lines
            ).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
        else:
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    srv = Recorder()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _store(insert_urls: list[str], select_urls: list[str]) -> RemoteStore:
    cfg = RemoteStoreConfig(
        type="remote",
        cluster=VMClusterConfig(insert_urls=insert_urls, select_urls=select_urls, tenants=TENANTS),
        max_retries=2,
        retry_backoff_s=0.0,
        timeout_s=5,
    )
    return RemoteStore(cfg, registry=CollectorRegistry())


@pytest.mark.parametrize(
    ("org", "space", "tenant"),
    [
        ("acme", "prod", "1:1"),
        ("acme", "dev", "1:2"),
        ("acme", "staging", "1:0"),  # a space the table does not list: the org's project 0
        ("acme", "", "1:0"),
        ("globex", "prod", "2:0"),
        ("initech", "prod", "0:0"),  # an org the table does not list: the foundation account
        ("", "", "0:0"),  # foundation series (cells, router)
    ],
)
def test_write_tenant(org: str, space: str, tenant: str) -> None:
    tm = TenantMap(VMClusterConfig(insert_urls=["http://a"], select_urls=["http://b"], tenants=TENANTS))
    assert tm.write_tenant(labels_from({NAME: "up", "org": org, "space": space})) == tenant
    # a read pinned to that org and space goes exactly where the write went
    pinned = [
        Matcher(NAME, MatchOp.EQ, "up"),
        Matcher("org", MatchOp.EQ, org),
        Matcher("space", MatchOp.EQ, space),
    ]
    assert tm.read_route(pinned) == (tenant, [])


def test_read_routes_that_span_accounts_use_multitenant() -> None:
    tm = TenantMap(VMClusterConfig(insert_urls=["http://a"], select_urls=["http://b"], tenants=TENANTS))
    up = Matcher(NAME, MatchOp.EQ, "up")
    assert tm.read_route([up]) == (MULTITENANT, [])
    assert tm.read_route([up, Matcher("org", MatchOp.RE, "acme|globex")]) == (MULTITENANT, [])
    assert tm.read_route([up, Matcher("org", MatchOp.EQ, "acme")]) == (
        MULTITENANT,
        [Matcher("vm_account_id", MatchOp.EQ, "1")],
    )
    # contradictory org matchers match nothing: never routed to either org's account alone
    assert tm.read_route([up, Matcher("org", MatchOp.EQ, "acme"), Matcher("org", MatchOp.EQ, "globex")]) == (
        MULTITENANT,
        [],
    )


def test_writes_go_to_each_tenant_path_and_fail_over_between_vminserts(recorder: Recorder) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = _store([dead, recorder.url], [recorder.url])
    acme = store.series_ref(labels_from({NAME: "up", "org": "acme", "space": "prod"}))
    cell = store.series_ref(labels_from({NAME: "cell_cpu", "cell": "c1"}))
    for k in range(4):  # round robin: every other first attempt hits the dead vminsert and moves on
        store.append([acme, cell], [1000 + k, 1000 + k], [1.5, 2.5])
    writes = [(urlsplit(p).path, b) for m, p, b in recorder.requests if m == "POST"]
    assert {p for p, _ in writes} == {"/insert/1:1/influx/api/v2/write", "/insert/0:0/influx/api/v2/write"}
    acme_lines = [b for p, b in writes if p.startswith("/insert/1:1/")]
    assert len(acme_lines) == 4 and all(b.startswith(",org=acme,space=prod up=1.5 ") for b in acme_lines)
    assert all("cell_cpu" not in b for b in acme_lines)  # one tenant per request
    store.close()


def test_reads_use_the_scope_tenant_and_strip_vm_labels(recorder: Recorder) -> None:
    store = _store([recorder.url], [f"http://127.0.0.1:{free_port()}", recorder.url])
    recorder.export_lines = [
        {
            "metric": {
                NAME: "up",
                "org": "acme",
                "space": "prod",
                "vm_account_id": "1",
                "vm_project_id": "1",
            },
            "values": [1.0],
            "timestamps": [1000],
        }
    ]
    foundation = store.select([Matcher(NAME, MatchOp.EQ, "up")], 0, 2000)
    assert [dict(s.labels) for s in foundation] == [{NAME: "up", "org": "acme", "space": "prod"}]
    scoped(store, Scope.of([Grant("acme", "prod", "viewer")])).select(
        [Matcher(NAME, MatchOp.EQ, "up")], 0, 2000
    )
    scoped(store, Scope.of([Grant("acme", None, "viewer")])).select(
        [Matcher(NAME, MatchOp.EQ, "up")], 0, 2000
    )
    reads = [(urlsplit(p).path, parse_qs(b)["match[]"][0]) for _, p, b in recorder.requests]
    assert reads == [
        ("/select/multitenant/prometheus/api/v1/export", '{__name__="up"}'),
        ("/select/1:1/prometheus/api/v1/export", '{__name__="up",org="acme",space="prod"}'),
        ("/select/multitenant/prometheus/api/v1/export", '{__name__="up",org="acme",vm_account_id="1"}'),
    ]
    store.close()


@pytest.mark.parametrize(
    ("cluster", "error"),
    [
        ({"insert_urls": [], "select_urls": ["http://b"]}, "insert_urls"),
        ({"insert_urls": ["ftp://a"], "select_urls": ["http://b"]}, "insert_urls.0"),
        (
            {
                "insert_urls": ["http://a"],
                "select_urls": ["http://b"],
                "tenants": [{"org": "x", "account_id": 0}],
            },
            "tenants[0].account_id: 0 is already used by foundation_account_id",
        ),
        (
            {
                "insert_urls": ["http://a"],
                "select_urls": ["http://b"],
                "tenants": [{"org": "x", "account_id": 1, "spaces": {"p": 3, "d": 3}}],
            },
            "share projectID 3",
        ),
        (
            {
                "insert_urls": ["http://a"],
                "select_urls": ["http://b"],
                "tenants": [{"org": "x", "account_id": 2**32}],
            },
            "tenants.0.account_id",
        ),
    ],
)
def test_bad_cluster_config_names_the_key(cluster: dict[str, object], error: str) -> None:
    with pytest.raises(ValidationError) as info:
        RemoteStoreConfig.model_validate({"type": "remote", "cluster": cluster})
    assert error in str(info.value)


def test_cluster_and_urls_are_exclusive() -> None:
    with pytest.raises(
        ValidationError, match=r"write_url\n.*remove it: cluster sets the write and read URLs"
    ):
        RemoteStoreConfig.model_validate(
            {
                "type": "remote",
                "write_url": "http://a",
                "read_url": "http://a",
                "cluster": {"insert_urls": ["http://a"], "select_urls": ["http://b"]},
            }
        )
    with pytest.raises(ValidationError, match=r"read_url\n  Field required"):
        RemoteStoreConfig.model_validate({"type": "remote", "write_url": "http://a"})
