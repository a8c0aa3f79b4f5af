"""The ``cluster:`` block of paramedic.yaml: absent = one process, exactly as without it (no etcd needed)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

__all__ = ["LEADER_PROXY_CONNECTIONS", "ClusterConfig", "EtcdTLS"]

# Connections a follower's leader proxy (cluster.api) opens to the leader at most: the leader counts them
# all against one client address (server.limits.max_connections_per_client, 64 by default; paramedic.config
# refuses less than this with a cluster), so more forwarded requests wait for a pooled connection rather
# than being refused by the leader.
LEADER_PROXY_CONNECTIONS = 32

ReplicaId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]


class EtcdTLS(BaseModel):
    """TLS to etcd: the CA that signed etcd's certificate and this replica's client certificate. With etcd
    started with ``--client-cert-auth --trusted-ca-file``, only holders of a certificate that CA signed can
    join the cluster, take the lead or write the journal."""

    model_config = ConfigDict(extra="forbid")

    ca_file: str = Field(min_length=1, description="PEM CA bundle that signed etcd's server certificate.")
    cert_file: str | None = Field(None, min_length=1, description="PEM client certificate (etcd mTLS).")
    key_file: str | None = Field(None, min_length=1, description="PEM private key of cert_file.")

    @model_validator(mode="after")
    def _pair(self) -> EtcdTLS:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (fix: set both or neither)")
        return self


class ClusterConfig(BaseModel):
    """Several replicas coordinated through etcd: membership, one leader (rules, alert dispatch,
    remediation) and sharded scraping. The metrics store should be a shared remote store then (every
    replica's shard lands in it, and the leader's rules read all of it)."""

    model_config = ConfigDict(extra="forbid")

    etcd_endpoints: list[str] = Field(
        min_length=1, description="etcd client URLs (http://host:port), tried in order."
    )
    replica_id: ReplicaId = Field(
        description="This replica's id, unique in the cluster (letters, digits, _.-)."
    )
    advertise_url: str | None = Field(
        None, description="The URL other replicas and operators reach this replica at (default: server URL)."
    )
    lease_ttl_s: int = Field(
        10, ge=2, le=10, description="Lease TTL: a dead leader is replaced within this plus a third of it."
    )
    key_prefix: str = Field(
        "/paramedic/default/", description="etcd key prefix of this cluster (several clusters on one etcd)."
    )
    request_timeout_s: float = Field(2.0, gt=0, le=30, description="Timeout of one etcd request.")
    tls: EtcdTLS | None = Field(
        None, description="TLS (and client certificates) to etcd; needs https:// endpoints."
    )

    @field_validator("etcd_endpoints")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        for url in v:
            if not url.startswith(("http://", "https://")) or len(url) < 10:
                raise ValueError(f"not an http(s) URL: {url!r}")
        return v

    @model_validator(mode="after")
    def _tls_needs_https(self) -> ClusterConfig:
        plain = [u for u in self.etcd_endpoints if u.startswith("http://")]
        if self.tls is not None and plain:
            raise ValueError(f"tls is set but {plain[0]!r} is plain http (fix: use https:// endpoints)")
        return self

    @field_validator("key_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not v.startswith("/") or not v.endswith("/"):
            raise ValueError("must start and end with '/'")
        return v
