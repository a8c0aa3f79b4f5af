"""Configuration of the metrics store (section ``metrics_store`` of paramedic.yaml).

``type: embedded`` (default) — DuckDB file + write-ahead log under ``path``::

    metrics_store:
      type: embedded
      path: data/metrics          # relative to the config file's folder
      retention_s: 1296000        # 15 d: older samples are deleted
      downsample_after_s: 172800  # 2 d: older raw samples are reduced to one per 5 min per series
      fsync: never                # never | batch | always (see EmbeddedStoreConfig.fsync)

Both types take a ``query`` section: the limits of the PromQL engine that answers ``/api/v1/query``,
``query_range``, the dashboard, rules and remediation queries (Prometheus' defaults and names in brackets)::

    metrics_store:
      query:
        timeout_s: 120                # [query.timeout 2m] longer queries fail: 503, errorType timeout
        max_samples: 50000000         # [query.max-samples] samples loaded / steps allocated by one query
        lookback_delta_s: 300         # [query.lookback-delta 5m] how far back an instant selector looks
        max_points_per_series: 11000  # range queries: (end - start) / step at most this (400 bad_data)
        max_concurrency: 20           # [query.max-concurrency] API queries evaluated at once; more wait
        max_match_selectors: 512      # match[] selectors of one series/labels/label values request (400)
        max_inflight_samples: 100000000  # samples + steps held by all API queries at once; more wait (503)
        tenant_max_concurrency: 10    # requests of one tenant scope in flight at once; more: 429 (half)
        tenant_max_inflight_samples: 50000000  # samples + steps one tenant's queries hold at once; more: 429

``type: remote`` — writes InfluxDB line protocol, reads the Prometheus HTTP API (VictoriaMetrics)::

    metrics_store:
      type: remote
      write_url: http://127.0.0.1:8428
      read_url: http://127.0.0.1:8428

``type: remote`` with a ``cluster`` section instead of the two URLs — a VictoriaMetrics cluster: writes go to
the vminserts at ``/insert/<accountID>:<projectID>/influx/...``, reads to a vmselect at
``/select/<tenant>/prometheus/api/v1/...``. Each org named in ``tenants`` gets its own accountID, each of its
listed spaces a projectID; everything else (foundation series without ``org``, orgs not listed) goes to
``foundation_account_id``:0. Foundation reads use ``/select/multitenant/`` and so see every account::

    metrics_store:
      type: remote
      cluster:
        insert_urls: [http://10.0.0.1:8480, http://10.0.0.2:8480]
        select_urls: [http://10.0.0.3:8481]
        tenants:
          - {org: acme, account_id: 1, spaces: {prod: 1, dev: 2}}
          - {org: globex, account_id: 2}
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

__all__ = [
    "DEFAULT_QUERY_LIMITS",
    "EmbeddedStoreConfig",
    "FsyncPolicy",
    "QueryLimits",
    "RemoteStoreConfig",
    "StoreConfig",
    "VMClusterConfig",
    "VMTenantConfig",
]

FsyncPolicy = Literal["never", "batch", "always"]


class QueryLimits(BaseModel):
    """Limits of one PromQL query (section ``metrics_store.query``); the defaults are Prometheus'. The one
    source of these defaults: the engine, the query API and the ``/api/v1/status/flags`` report read them
    from here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_s: float = Field(120.0, gt=0, description="A query running longer fails with a timeout (503).")
    max_samples: int = Field(
        50_000_000,
        gt=0,
        description="Samples a query may load (prefetched reads included) and steps its evaluation grids may "
        "hold in total (checked before evaluation).",
    )
    lookback_delta_s: float = Field(300.0, gt=0, description="How far back an instant selector looks.")
    max_points_per_series: int = Field(
        11_000, gt=0, description="A range query may ask for at most this many steps ((end - start) / step)."
    )
    max_concurrency: int = Field(
        20,
        gt=0,
        description="Queries of the HTTP API evaluated at once, in threads of their own; more wait for a "
        "free one, so slow queries never take the threads the other routes answer from.",
    )
    max_match_selectors: int = Field(
        512,
        gt=0,
        description="match[] selectors one /api/v1/series, /labels or /label/{name}/values request may "
        "carry (Prometheus has no limit; each is parsed and its regexes compiled): more is a 400.",
    )
    max_inflight_samples: int = Field(
        100_000_000,
        gt=0,
        description="Steps (reserved before evaluation) and samples (as they are read) that all queries of "
        "the HTTP API in flight may hold together; a query that does not fit waits until its timeout "
        "(then 503 unavailable), one larger than this alone is refused (422). At ~70 bytes per step the "
        "default bounds them to ~7 GB; Prometheus has no such limit.",
    )
    tenant_max_concurrency: int | None = Field(
        None,
        gt=0,
        description="Queries (and series/label lookups) of one tenant scope (a principal scoped to orgs or "
        "spaces; foundation-wide principals only have max_concurrency) in flight at once; one more is "
        "refused at once with a 429, so one team cannot take every evaluation thread. Default: half of "
        "max_concurrency (at least 1); at most max_concurrency.",
    )
    tenant_max_inflight_samples: int | None = Field(
        None,
        gt=0,
        description="Steps and samples the queries of one tenant scope in flight may hold together (out of "
        "max_inflight_samples); a query that does not fit is refused with a 429. Default: half of "
        "max_inflight_samples; at most max_inflight_samples.",
    )

    @model_validator(mode="after")
    def _tenant_limits_within_global(self) -> QueryLimits:
        pairs = [
            ("tenant_max_concurrency", self.tenant_max_concurrency, "max_concurrency", self.max_concurrency),
            (
                "tenant_max_inflight_samples",
                self.tenant_max_inflight_samples,
                "max_inflight_samples",
                self.max_inflight_samples,
            ),
        ]
        for key, value, whole_key, whole in pairs:
            if value is not None and value > whole:
                raise ValueError(f"{key} ({value}) must not exceed {whole_key} ({whole})")
        return self

    @property
    def tenant_concurrency(self) -> int:
        """``tenant_max_concurrency`` or its default, half of ``max_concurrency`` (at least 1)."""
        return self.tenant_max_concurrency or max(1, self.max_concurrency // 2)

    @property
    def tenant_inflight_samples(self) -> int:
        """``tenant_max_inflight_samples`` or its default, half of ``max_inflight_samples`` (at least 1)."""
        return self.tenant_max_inflight_samples or max(1, self.max_inflight_samples // 2)


DEFAULT_QUERY_LIMITS = QueryLimits()


class EmbeddedStoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["embedded"] = "embedded"
    query: QueryLimits = Field(default_factory=QueryLimits, description="Limits of PromQL queries.")
    path: str = Field("data/metrics", description="Directory for the DuckDB file and the write-ahead log.")
    retention_s: int = Field(15 * 86400, gt=0, description="Raw samples older than this are deleted.")
    downsample_after_s: int | None = Field(
        2 * 86400,
        gt=0,
        description="Raw samples older than this are replaced by the last sample of each "
        "downsample_resolution_s bucket per series; null disables downsampling.",
    )
    downsample_resolution_s: int = Field(300, gt=0, description="Bucket width of downsampled data.")
    fsync: FsyncPolicy = Field(
        "never",
        description="never: every append is written to the OS before it returns (survives kill -9, not a "
        "power loss); batch: additionally fsync at most every fsync_interval_s (power loss loses at most "
        "that window); always: fsync before every append returns (survives power loss, slow).",
    )
    fsync_interval_s: float = Field(1.0, gt=0, description="fsync period of the 'batch' policy.")
    checkpoint_interval_s: float = Field(
        60.0, gt=0, description="Fold the write-ahead log into DuckDB this often."
    )
    checkpoint_samples: int = Field(
        2_000_000, gt=0, description="...or as soon as this many samples wait in memory."
    )
    maintenance_interval_s: float = Field(300.0, gt=0, description="Retention/downsampling period.")

    @model_validator(mode="after")
    def _downsample_before_retention(self) -> EmbeddedStoreConfig:
        if self.downsample_after_s is not None and self.downsample_after_s >= self.retention_s:
            raise ValueError("downsample_after_s must be smaller than retention_s (or null to disable)")
        return self


_UINT32_MAX = 2**32 - 1
_HTTP_URL = r"^https?://[^\s/?#]+(/[^\s?#]*)?$"


class VMTenantConfig(BaseModel):
    """One org's VictoriaMetrics tenant: ``account_id`` for the org, a ``projectID`` per listed space."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    org: str = Field(min_length=1, description="The Cloud Foundry org name (the ``org`` label).")
    account_id: int = Field(ge=0, le=_UINT32_MAX, description="VictoriaMetrics accountID of this org.")
    spaces: dict[str, Annotated[int, Field(ge=0, le=_UINT32_MAX)]] = Field(
        default_factory=dict,
        description="space name -> VictoriaMetrics projectID; unlisted spaces of the org use projectID 0.",
    )

    @model_validator(mode="after")
    def _unique_projects(self) -> VMTenantConfig:
        seen: dict[int, str] = {}
        for space, project in self.spaces.items():
            if project in seen:
                raise ValueError(f"spaces: {space!r} and {seen[project]!r} share projectID {project}")
            seen[project] = space
        return self


class VMClusterConfig(BaseModel):
    """A VictoriaMetrics cluster (``vminsert``/``vmselect``): URL lists and the org/space -> tenant table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    insert_urls: list[Annotated[str, Field(pattern=_HTTP_URL)]] = Field(
        min_length=1, description="vminsert base URLs (http://host:8480); writes fail over between them."
    )
    select_urls: list[Annotated[str, Field(pattern=_HTTP_URL)]] = Field(
        min_length=1, description="vmselect base URLs (http://host:8481); reads fail over between them."
    )
    foundation_account_id: int = Field(
        0, ge=0, le=_UINT32_MAX, description="accountID of series without an org or of an unlisted org."
    )
    tenants: list[VMTenantConfig] = Field(
        default_factory=list,
        description="Orgs with an account of their own (at most 10000)",
        max_length=10_000,
    )

    @model_validator(mode="after")
    def _unique_accounts(self) -> VMClusterConfig:
        orgs: dict[str, int] = {}
        accounts: dict[int, str] = {self.foundation_account_id: "foundation_account_id"}
        for i, t in enumerate(self.tenants):
            if t.org in orgs:
                raise ValueError(f"tenants[{i}].org: {t.org!r} is listed twice (also tenants[{orgs[t.org]}])")
            if t.account_id in accounts:
                raise ValueError(
                    f"tenants[{i}].account_id: {t.account_id} is already used by {accounts[t.account_id]}"
                )
            orgs[t.org] = i
            accounts[t.account_id] = f"tenants[{i}] ({t.org})"
        return self


class RemoteStoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["remote"]
    query: QueryLimits = Field(default_factory=QueryLimits, description="Limits of PromQL queries.")
    cluster: VMClusterConfig | None = Field(
        None, description="A VictoriaMetrics cluster instead of write_url/read_url (see the module docs)."
    )
    # declared after ``cluster``: their validators see whether it is set
    write_url: str | None = Field(
        None,
        validate_default=True,
        description="InfluxDB line-protocol endpoint base URL (InfluxDB 2/3, VictoriaMetrics); "
        "required unless cluster is set.",
    )
    read_url: str | None = Field(
        None,
        validate_default=True,
        description="Prometheus HTTP API base URL used for reads; required unless cluster is set.",
    )
    org: str = "paramedic"
    bucket: str = "paramedic"
    token: SecretStr | None = None
    naming: Literal["victoriametrics", "influxdb"] = Field(
        "victoriametrics",
        description="victoriametrics: empty measurement, field key = metric name (VictoriaMetrics names the "
        "series exactly the metric name); influxdb: measurement = metric name, field 'value' (a Prometheus "
        "API in front of it names the series <name>_value; reads strip that suffix).",
    )
    timeout_s: float = Field(10.0, gt=0, description="Per-request timeout.")
    max_retries: int = Field(3, ge=0, description="Retries of a write after a 5xx or a timeout.")
    retry_backoff_s: float = Field(0.5, ge=0, description="First retry delay; doubles each retry.")

    @field_validator("write_url", "read_url")
    @classmethod
    def _url_or_cluster(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "cluster" not in info.data:  # cluster itself is invalid: that error is reported already
            return value
        if info.data["cluster"] is None and value is None:
            raise PydanticCustomError("missing", "Field required")
        if info.data["cluster"] is not None and value is not None:
            raise ValueError("remove it: cluster sets the write and read URLs")
        return value

    @field_validator("naming")
    @classmethod
    def _cluster_naming(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("cluster") is not None and value != "victoriametrics":
            raise ValueError("a VictoriaMetrics cluster needs naming: victoriametrics")
        return value


StoreConfig = Annotated[EmbeddedStoreConfig | RemoteStoreConfig, Field(discriminator="type")]
