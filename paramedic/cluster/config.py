"""The ``cluster:`` block of paramedic.yaml: absent = one process, exactly as without it (no etcd needed)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

__all__ = ["ClusterConfig"]

ReplicaId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")]


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

    @field_validator("etcd_endpoints")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        for url in v:
            if not url.startswith(("http://", "https://")) or len(url) < 10:
                raise ValueError(f"not an http(s) URL: {url!r}")
        return v

    @field_validator("key_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not v.startswith("/") or not v.endswith("/"):
            raise ValueError("must start and end with '/'")
        return v
