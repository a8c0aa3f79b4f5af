"""etcd with TLS and client certificates (``cluster.tls``): a replica holding a certificate of the trusted CA
joins and leads; one without a certificate, or with another CA's, cannot read or write anything."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from paramedic.cluster.base import StoreUnavailableError
from paramedic.cluster.config import ClusterConfig, EtcdTLS
from paramedic.cluster.etcd import EtcdClient
from paramedic.cluster.node import ClusterNode
from paramedic.cluster.service import ClusterService
from paramedic.cluster.tls import ClusterTLSError, etcd_ssl_context
from tests.support.certs import CA
from tests.support.etcd import EtcdServer, running_etcd


@pytest.fixture(scope="module")
def tls_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdServer]:
    with running_etcd(Path(tmp_path_factory.mktemp("etcd-tls")), tls=True) as server:
        yield server


def _files(etcd: EtcdServer) -> EtcdTLS:
    assert etcd.tls is not None
    return EtcdTLS(
        ca_file=str(etcd.tls.ca), cert_file=str(etcd.tls.client.cert), key_file=str(etcd.tls.client.key)
    )


def test_a_replica_with_the_trusted_client_certificate_joins_and_leads(tls_etcd: EtcdServer) -> None:
    client = EtcdClient([tls_etcd.url], verify=etcd_ssl_context(_files(tls_etcd), Path("/")))
    node = ClusterNode(
        client,
        replica_id="r1",
        address="http://r1",
        ttl_s=10,
        prefix=f"/t/{uuid.uuid4().hex}/",
        registry=CollectorRegistry(),
    )
    try:
        node.tick()
        node.tick()
        assert node.is_leader and node.fencing_token > 0 and node.member_ids() == ["r1"]
        assert node.commit("audit", "a1", {"ok": True})
        assert [d["ok"] for d in node.records("audit")] == [True]
    finally:
        node.stop()
        client.close()


def test_only_the_configured_ca_is_trusted(tls_etcd: EtcdServer) -> None:
    """Not the system's roots as well: a publicly trusted certificate for etcd's name must not pass."""
    ctx = etcd_ssl_context(_files(tls_etcd), Path("/"))
    assert [c["subject"] for c in ctx.get_ca_certs()] == [((("commonName", "etcd-ca"),),)]


def test_no_client_certificate_reads_and_writes_nothing(tls_etcd: EtcdServer) -> None:
    files = _files(tls_etcd)
    no_cert = EtcdClient([tls_etcd.url], verify=etcd_ssl_context(EtcdTLS(ca_file=files.ca_file), Path("/")))
    try:
        with pytest.raises(StoreUnavailableError):
            no_cert.get_prefix(b"/")
        with pytest.raises(StoreUnavailableError):
            no_cert.grant(10)
    finally:
        no_cert.close()


def test_a_certificate_of_another_ca_is_refused(tls_etcd: EtcdServer, tmp_path: Path) -> None:
    other = CA(tmp_path / "other", "other-ca").issue("intruder", client=True)
    files = _files(tls_etcd)
    cfg = EtcdTLS(ca_file=files.ca_file, cert_file=str(other.cert), key_file=str(other.key))
    intruder = EtcdClient([tls_etcd.url], verify=etcd_ssl_context(cfg, Path("/")))
    try:
        with pytest.raises(StoreUnavailableError):
            intruder.grant(10)
    finally:
        intruder.close()


def test_plain_http_to_a_tls_etcd_fails_closed(tls_etcd: EtcdServer) -> None:
    plain = EtcdClient([tls_etcd.url.replace("https://", "http://")])
    try:
        with pytest.raises(StoreUnavailableError):
            plain.get_prefix(b"/")
    finally:
        plain.close()


def _config(**kw: object) -> ClusterConfig:
    return ClusterConfig.model_validate(
        {"etcd_endpoints": ["https://127.0.0.1:2379"], "replica_id": "r1", **kw}
    )


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="plain http"):
        ClusterConfig.model_validate(
            {"etcd_endpoints": ["http://127.0.0.1:2379"], "replica_id": "r1", "tls": {"ca_file": "ca.pem"}}
        )
    with pytest.raises(ValidationError, match="cert_file and key_file go together"):
        _config(tls={"ca_file": "ca.pem", "cert_file": "c.pem"})
    with pytest.raises(ClusterTLSError, match=r"cluster\.tls\.ca_file missing\.pem"):
        ClusterService(
            _config(tls={"ca_file": "missing.pem"}),
            address="x",
            registry=CollectorRegistry(),
            base_dir=tmp_path,
        )
    ca = CA(tmp_path / "pki", "ca")
    (tmp_path / "bad.key").write_text("not a key")
    issued = ca.issue("c", client=True)
    with pytest.raises(ClusterTLSError, match=r"cluster\.tls\.cert_file/key_file") as err:
        etcd_ssl_context(
            EtcdTLS(ca_file=str(ca.cert), cert_file=str(issued.cert), key_file="bad.key"), tmp_path
        )
    assert "not a key" not in str(err.value)


def _warnings_for(endpoint: str, caplog: pytest.LogCaptureFixture) -> list[str]:
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="paramedic.cluster"):
        svc = ClusterService(
            ClusterConfig(etcd_endpoints=[endpoint], replica_id="r1"),
            address="x",
            registry=CollectorRegistry(),
        )
        svc.client.close()
    return [r.getMessage() for r in caplog.records]


def test_plain_http_to_a_remote_etcd_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    assert any(
        "anyone who can reach etcd can join" in m for m in _warnings_for("http://10.0.0.5:2379", caplog)
    )
    assert not _warnings_for("http://127.0.0.1:2379", caplog)
