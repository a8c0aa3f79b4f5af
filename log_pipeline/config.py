"""Configuration of the log pipeline (section ``logs`` of paramedic.yaml).

Every listener binds 127.0.0.1 by default; a listener is off when its section is ``null`` (TLS is off unless
configured)::

    logs:
      relp: {host: 127.0.0.1, port: 2514, max_frame_bytes: 131072}
      syslog_tcp: {host: 127.0.0.1, port: 1514, max_message_bytes: 131072}
      # relp, syslog_tcp and tls also take max_connections: 1024 (more are closed at once) and
      # idle_timeout_s: 300 (close a connection silent, or holding an incomplete message, this long)
      syslog_udp: {host: 127.0.0.1, port: 1514, queue_messages: 65536, queue_bytes: 67108864,
                   max_message_bytes: 65535}   # datagrams beyond either queue bound, or longer, are dropped
      tls:                                  # RFC 5425, octet-counted
        port: 6514
        cert_file: certs/server.pem
        key_file: certs/server.key
        client_ca_file: certs/ca.pem        # optional: check client certificates against this CA
        require_client_cert: false
      spool:
        path: data/logs/spool               # relative to the config file's folder
        segment_bytes: 67108864
        max_bytes: 1073741824               # unconsumed bytes before appends block (backpressure)
        max_backlog_messages: 2000000       # unconsumed messages before appends block
        fsync: never                        # never | batch | always
      search: {type: embedded, path: data/logs/search}   # see log_pipeline.search.config
      tail:                                 # live tail limits
        max_subscribers: 64                 # in all (503 beyond)
        max_subscribers_per_principal: 8    # per authenticated principal (429 beyond)
        queue_records: 1000                 # per subscriber; beyond either queue limit records are dropped
        queue_bytes: 1048576
        max_query_bytes: 4096
      search_api:                           # limits of the search/context/tail HTTP API
        max_response_bytes: 16777216        # search hits past it are left out ("truncated": true)
        max_highlight_clauses: 256          # distinct positive clauses used for highlighting
        max_highlight_spans: 1024           # highlight spans per hit
        max_context_lines: 200              # largest before/after of /api/v1/logs/context (400 beyond)
        max_searches_per_tenant: 2          # searches of one tenant scope running or waiting (429 beyond)
        max_tails_per_tenant: 4             # live tails of one tenant scope (429 beyond)
      pattern_flush_interval_s: 15          # pattern counts -> metrics store
      patterns:                             # memory bounds of the pattern miners (docs/security.md)
        tenant_max_bytes: 67108864          # one tenant's miner (estimated); oldest patterns evicted
        max_bytes: 1073741824               # all tenants' miners; least recently used tenants dropped
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from log_pipeline.search.config import EmbeddedSearchConfig, SearchConfig

__all__ = [
    "FsyncPolicy",
    "LogsConfig",
    "PatternsConfig",
    "RelpListenerConfig",
    "SearchApiConfig",
    "SpoolConfig",
    "SyslogTcpListenerConfig",
    "SyslogUdpListenerConfig",
    "TailConfig",
    "TlsListenerConfig",
]

FsyncPolicy = Literal["never", "batch", "always"]


class _Listener(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 listens on every interface.")
    port: int = Field(ge=0, le=65535, description="TCP/UDP port; 0 picks a free port (tests).")


class _StreamListener(_Listener):
    max_connections: int = Field(
        1024,
        gt=0,
        description="Open connections of this listener; a connection beyond it is closed at once (and "
        "counted in paramedic_logs_refused_connections_total).",
    )
    idle_timeout_s: float = Field(
        300.0,
        gt=0,
        description="A connection that sends nothing for this long, or holds an incomplete message or frame "
        "this long, is closed (paramedic_logs_timeouts_total). rsyslog keeps RELP sessions open between "
        "messages: keep it well above the senders' quiet periods.",
    )


class RelpListenerConfig(_StreamListener):
    port: int = Field(2514, ge=0, le=65535)
    max_frame_bytes: int = Field(
        128 * 1024, gt=0, description="Largest accepted RELP DATALEN; bigger frames end the session."
    )


class SyslogTcpListenerConfig(_StreamListener):
    port: int = Field(1514, ge=0, le=65535)
    max_message_bytes: int = Field(128 * 1024, gt=0, description="Largest message (octet count or line).")


class SyslogUdpListenerConfig(_Listener):
    port: int = Field(1514, ge=0, le=65535)
    queue_messages: int = Field(
        65536, gt=0, description="Datagrams waiting for the spool; beyond this they are dropped and counted."
    )
    queue_bytes: int = Field(
        64 * 1024 * 1024,
        gt=0,
        description="Bytes of the datagrams waiting for (or being appended to) the spool; beyond this they "
        "are dropped and counted (paramedic_logs_dropped_total).",
    )
    max_message_bytes: int = Field(
        65535,
        gt=0,
        description="Longest datagram kept; longer ones are dropped and counted "
        "(paramedic_logs_dropped_total).",
    )


class TlsListenerConfig(_StreamListener):
    port: int = Field(6514, ge=0, le=65535)
    cert_file: str = Field(description="PEM server certificate (chain).")
    key_file: str = Field(description="PEM private key of cert_file.")
    client_ca_file: str | None = Field(None, description="PEM CA bundle used to verify client certificates.")
    require_client_cert: bool = Field(False, description="Reject clients without a certificate from the CA.")
    max_message_bytes: int = Field(128 * 1024, gt=0)


class SpoolConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field("data/logs/spool", description="Directory of the spool segments.")
    segment_bytes: int = Field(64 * 1024 * 1024, gt=0, description="Start a new segment beyond this size.")
    max_bytes: int = Field(
        1024 * 1024 * 1024, gt=0, description="Unconsumed bytes beyond which append blocks (backpressure)."
    )
    max_backlog_messages: int = Field(
        2_000_000, gt=0, description="Unconsumed messages beyond which append blocks (backpressure)."
    )
    fsync: FsyncPolicy = Field(
        "never",
        description="never: written to the OS before append returns (survives kill -9); batch: also fsync "
        "at most every fsync_interval_s; always: fsync before every append returns (survives power loss).",
    )
    fsync_interval_s: float = Field(1.0, gt=0)


class TailConfig(BaseModel):
    """Live tail (``GET /api/v1/logs/tail``) limits."""

    model_config = ConfigDict(extra="forbid")

    max_subscribers: int = Field(64, gt=0, description="Open live tails in all; beyond it: 503.")
    max_subscribers_per_principal: int = Field(
        8, gt=0, description="Open live tails of one authenticated principal; beyond it: 429."
    )
    queue_records: int = Field(1000, gt=0, description="Records waiting for one slow client.")
    queue_bytes: int = Field(
        1024 * 1024,
        gt=0,
        description="Bytes (message, labels, fields) waiting for one slow client; beyond either queue limit "
        "records are dropped for that client and counted.",
    )
    max_query_bytes: int = Field(4096, gt=0, description="Longest tail query (UTF-8 bytes); longer: 400.")


class PatternsConfig(BaseModel):
    """Memory bounds of the log pattern miners (``log_pipeline.patterns``; docs/security.md): every sender
    chooses the lines mined, and its host name names the tenant whose miner mines them."""

    model_config = ConfigDict(extra="forbid")

    tenant_max_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1024 * 1024,
        description="Estimated bytes of one tenant's miner: half for its patterns (and their search "
        "matrices), "
        "the least recently used evicted past it; half for its exact-match cache, cleared past it.",
    )
    max_bytes: int = Field(
        1024 * 1024 * 1024,
        ge=1024 * 1024,
        description="Estimated bytes of every tenant's miner together, summed every 1,024 lines; past it the "
        "least recently used tenants' miners are dropped (never the one mining).",
    )

    @field_validator("max_bytes")
    @classmethod
    def _holds_a_tenant(cls, value: int, info: ValidationInfo) -> int:
        tenant = info.data.get("tenant_max_bytes")
        if isinstance(tenant, int) and value < tenant:
            raise ValueError(f"must be at least tenant_max_bytes ({tenant}): one tenant's miner must fit")
        return value


class SearchApiConfig(BaseModel):
    """Limits of the log search HTTP API (``/api/v1/logs/search``, ``context``, ``tail``)."""

    model_config = ConfigDict(extra="forbid")

    max_response_bytes: int = Field(
        16 * 1024 * 1024,
        gt=0,
        description="Bytes of the hits of one search response; hits past it are left out, the response says "
        '"truncated": true and next_cursor continues after the last hit sent (one hit is always sent).',
    )
    max_highlight_clauses: int = Field(
        256,
        gt=0,
        description="Distinct positive query clauses used for highlight=true (the first ones; the response "
        "carries a warning when more were left out).",
    )
    max_highlight_spans: int = Field(
        1024, gt=0, description='Highlight spans per hit; past it the hit\'s highlight has "truncated": true.'
    )
    max_context_lines: int = Field(
        200, ge=0, description="Largest before and after of /api/v1/logs/context; larger: 400."
    )
    max_concurrent_searches: int = Field(
        4,
        ge=1,
        description="Searches, histograms, context and pattern reads that run at once, in threads at a lower "
        "CPU priority than the query API's (metrics_store.background); more wait in line for a thread.",
    )
    search_processes: int = Field(
        2,
        ge=0,
        le=32,
        description="Worker processes (at nice 10) that run the searches, histograms and context of the "
        "embedded store, so they never hold the server's GIL; 0 runs them in the server's threads.",
    )
    max_queued_searches: int = Field(
        8,
        ge=0,
        description="Searches that wait for a busy worker process; beyond it: 503 with Retry-After.",
    )
    max_searches_per_tenant: int = Field(
        2,
        ge=1,
        description="Searches, histograms, context and pattern reads of one tenant scope (the principals "
        "scoped to the same orgs/spaces together) admitted at once, running or waiting for a worker; beyond "
        "it: 429, so one tenant cannot fill the workers and their queue. Foundation-wide principals are not "
        "counted here.",
    )
    max_tails_per_tenant: int = Field(
        4, ge=1, description="Open live tails of one tenant scope; beyond it: 429."
    )
    search_deadline_s: float = Field(
        120.0,
        gt=0,
        description="A worker process still searching after this long (wall clock, as Prometheus' query "
        "timeout; workers run at nice 10, so a loaded host stretches a search) is killed and replaced (the "
        "search answers 503 timeout); a search that found no free worker in twice this long answers 503 "
        "busy.",
    )

    @field_validator("max_searches_per_tenant")
    @classmethod
    def _tenant_share(cls, value: int, info: ValidationInfo) -> int:
        processes, queued = info.data.get("search_processes", 0), info.data.get("max_queued_searches", 0)
        capacity = processes + queued if isinstance(processes, int) and isinstance(queued, int) else 0
        if processes and value >= capacity:
            raise ValueError(
                f"must be below search_processes + max_queued_searches ({capacity}), "
                "or one tenant can fill every worker and the queue"
            )
        return value

    @property
    def tenant_search_share(self) -> int:
        """``max_searches_per_tenant``, but below the workers' capacity when the default would reach it
        (a default is not validated: ``search_processes: 1`` with ``max_queued_searches: 0`` gives 1)."""
        capacity = self.search_processes + self.max_queued_searches
        if self.search_processes and self.max_searches_per_tenant >= capacity:
            return max(1, capacity - 1)
        return self.max_searches_per_tenant


class LogsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    relp: RelpListenerConfig | None = Field(default_factory=RelpListenerConfig)
    syslog_tcp: SyslogTcpListenerConfig | None = Field(default_factory=SyslogTcpListenerConfig)
    syslog_udp: SyslogUdpListenerConfig | None = Field(default_factory=SyslogUdpListenerConfig)
    tls: TlsListenerConfig | None = None
    spool: SpoolConfig = Field(default_factory=SpoolConfig)
    tail: TailConfig = Field(default_factory=TailConfig)
    search_api: SearchApiConfig = Field(default_factory=SearchApiConfig)
    consumer_batch_messages: int = Field(
        16384,
        gt=0,
        description="At most this many messages handed to the pipeline per batch (one search store commit "
        "each; a backlog is read in full batches, a trickle in small ones).",
    )
    consumer_min_batch_messages: int = Field(
        0,
        ge=0,
        description="While messages are arriving, a batch smaller than this waits up to consumer_linger_s "
        "for more before it is handed to the pipeline (fewer, fuller search store commits); 0 disables.",
    )
    consumer_linger_s: float = Field(
        0.0,
        ge=0,
        le=0.1,
        description="The longest a batch waits for consumer_min_batch_messages (the most it adds to the "
        "time to searchable of a trickle).",
    )
    search: SearchConfig = Field(default_factory=EmbeddedSearchConfig)
    pattern_flush_interval_s: float = Field(
        15.0, gt=0, description="How often per-pattern counts are written to the metrics store."
    )
    patterns: PatternsConfig = Field(default_factory=PatternsConfig)
    duplicate_window_messages: int = Field(
        100_000,
        ge=0,
        description="Recent messages remembered to count re-sent duplicates (same bytes, same peer host); "
        "0 disables the count.",
    )
