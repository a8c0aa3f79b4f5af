"""The log pipeline: a spool batch goes through a list of uniform stages, composed in :func:`build_pipeline`.

::

    (seq, RawMessage) batch
      -> parse     SyslogParser.cached_record (a header seen before), else SyslogParser.to_record (OTLP
                   lines, transport "otlp": log_pipeline.otlp.otlp_record), id = f"{seq:016x}" (stable
                   across spool replay); duplicates counted
      -> enrich    Cloud Foundry drain / RTR / BOSH / HAProxy / local-platform labels and fields
      -> tenant    org/space of an app's line from the platform (``tenant_of``; optional)
      -> pattern   TemplateMiner.mine -> record.pattern_id, record.template
      -> stats     PatternStats.observe(app, pattern) (flushed into the metrics store on its own timer)
      -> store     SearchStore.write(batch): durable and searchable when it returns
      -> tail      TailHub.publish(batch) to live-tail subscribers
    (then SpoolConsumer commits the batch's last seq)

A stage is ``Stage(name, kind, fn)``:

* ``record`` stages call ``fn(record)`` per record; a record that fails is *kept* with
  ``fields["pipeline_error"] = "<stage>: <reason>"`` and the error counted — never silently dropped;
* the ``sink`` stage calls ``fn(records)`` once; if it raises, the whole batch raises, is not committed and is
  retried by the consumer (records upsert by id, so a retry rewrites the same documents);
* ``side`` stages call ``fn(records)``; a failure is counted and logged, the batch still commits.

Metrics (one set per registry): ``paramedic_log_pipeline_received_total``,
``paramedic_log_pipeline_written_total``, ``paramedic_log_pipeline_errors_total{stage,reason}``,
``paramedic_log_pipeline_duplicates_total``, ``paramedic_log_pipeline_batch_seconds``.

Duplicates: RELP is at-least-once — a frame appended to the spool but not acked before a crash is re-sent by
the peer after it reconnects, and arrives with a new seq. :class:`DuplicateCounter` remembers the last
``window`` messages by (peer host, bytes); a repeat with another seq is counted and marked
``fields["duplicate_of"] = <earlier id>`` (still stored: two identical lines may also be genuine).
The count is best effort: it sees re-sends within the window of one process' lifetime.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

from log_pipeline.base import LogSink, PatternMiner
from log_pipeline.enrich import TenantOf, enrich, tenant_labeller
from log_pipeline.model import LogRecord, RawMessage
from log_pipeline.otlp import OTLP_TRANSPORT, otlp_record
from log_pipeline.patterns import PatternStats, TenantMiners
from log_pipeline.search.tail import TailHub
from log_pipeline.syslog import SyslogParser

__all__ = [
    "DuplicateCounter",
    "Pipeline",
    "PipelineMetrics",
    "Prepared",
    "Stage",
    "StageKind",
    "build_pipeline",
    "record_id",
    "standard_stages",
]

log = logging.getLogger("log_pipeline.pipeline")

StageKind = Literal["record", "sink", "side"]
Batch = Sequence[tuple[int, RawMessage]]
_MAX_ERROR_CHARS = 300
_MAX_PEERS = 4096  # peers whose host part DuplicateCounter keeps (cleared when full)


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    kind: StageKind
    fn: Callable[[LogRecord], object] | Callable[[list[LogRecord]], object]


class PipelineMetrics:
    """Self-instrumentation of the pipeline (received, written, errors{stage,reason}, duplicates)."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.received = Counter(
            "paramedic_log_pipeline_received",
            "Messages read from the spool by the pipeline.",
            registry=registry,
        )
        self.written = Counter(
            "paramedic_log_pipeline_written",
            "Records durably written to the search store by the pipeline.",
            registry=registry,
        )
        self._errors = Counter(
            "paramedic_log_pipeline_errors",
            "Stage failures (a failed record is kept with a pipeline_error field; a failed sink write "
            "retries the batch).",
            ["stage", "reason"],
            registry=registry,
        )
        self.duplicates = Counter(
            "paramedic_log_pipeline_duplicates",
            "Messages whose bytes repeat a recent message from the same peer host under another spool seq "
            "(at-least-once re-sends after a reconnect).",
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "paramedic_log_pipeline_batch_seconds",
            "Time to process one spool batch (parse to store write).",
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )

    def error(self, stage: str, reason: str) -> None:
        self._errors.labels(stage, reason).inc()


def record_id(seq: int, prefix: str = "") -> str:
    """The record id of spool position ``seq``: fixed width hex, so ids sort like seqs; ``prefix`` (a
    replica's ``<replica_id>-``) keeps the ids of replicas sharing one search store apart."""
    return f"{prefix}{seq:016x}"


class DuplicateCounter:
    """Remembers the last ``window`` messages by (peer host, bytes); see the module docstring."""

    def __init__(self, window: int) -> None:
        self._window = window
        self._seen: dict[int, int] = {}  # hash -> seq of the latest message with that hash
        self._order: deque[tuple[int, int]] = deque()
        self._hosts: dict[str, str] = {}  # peer "host:port" -> host (a connection's lines share their peer)

    def check(self, seq: int, raw: RawMessage) -> int | None:
        """The seq of an earlier identical message, or None. Re-reading the same seq is not a duplicate."""
        if self._window <= 0:
            return None
        peer = raw.peer
        host = self._hosts.get(peer)
        if host is None:
            if len(self._hosts) >= _MAX_PEERS:
                self._hosts.clear()
            host = self._hosts[peer] = peer.rpartition(":")[0]
        key = hash((host, raw.data))
        prev = self._seen.get(key)
        self._seen[key] = seq
        self._order.append((key, seq))
        if len(self._order) > self._window:
            old_key, old_seq = self._order.popleft()
            if self._seen.get(old_key) == old_seq:
                del self._seen[old_key]
        return prev if prev is not None and prev != seq else None


def _reason(exc: BaseException) -> str:
    return type(exc).__name__


def _mark(record: LogRecord, stage: str, exc: BaseException) -> None:
    text = f"{stage}: {_reason(exc)}: {exc}"[:_MAX_ERROR_CHARS]
    prior = record.fields.get("pipeline_error")
    record.fields["pipeline_error"] = f"{prior}; {text}" if prior else text


def _parse(
    parser: SyslogParser, dups: DuplicateCounter, metrics: PipelineMetrics, batch: Batch, id_prefix: str
) -> list[LogRecord]:
    records: list[LogRecord] = []
    cached = parser.cached_record
    for seq, raw in batch:
        rid = record_id(seq, id_prefix)
        try:
            if raw.transport == OTLP_TRANSPORT:
                record = otlp_record(raw, rid)
            else:
                record = cached(raw, rid) or parser.to_record(raw, rid)
        except Exception as exc:  # to_record never raises by contract; keep the message if it does
            metrics.error("parse", _reason(exc))
            record = LogRecord(
                id=rid,
                timestamp_ns=raw.received_ns,
                message=raw.data.decode("utf-8", "replace"),
                labels={"transport": raw.transport},
            )
            _mark(record, "parse", exc)
        prev = dups.check(seq, raw)
        if prev is not None:
            metrics.duplicates.inc()
            record.fields["duplicate_of"] = record_id(prev, id_prefix)
        records.append(record)
    parser.flush_counts()
    return records


def _run_stage(stage: Stage, records: list[LogRecord], metrics: PipelineMetrics) -> None:
    if stage.kind == "record":
        fn_one: Callable[[LogRecord], object] = stage.fn  # type: ignore[assignment]
        for r in records:
            try:
                fn_one(r)
            except Exception as exc:
                metrics.error(stage.name, _reason(exc))
                _mark(r, stage.name, exc)
        return
    fn_all: Callable[[list[LogRecord]], object] = stage.fn  # type: ignore[assignment]
    try:
        fn_all(records)
    except Exception as exc:
        metrics.error(stage.name, _reason(exc))
        if stage.kind == "sink":
            raise
        log.warning("log pipeline stage %s failed (batch kept): %s", stage.name, exc)


def standard_stages(
    miner: PatternMiner | TenantMiners,
    stats: PatternStats | None,
    store: LogSink,
    tail: TailHub | None,
    *,
    tenant_of: TenantOf | None = None,
) -> list[Stage]:
    """enrich -> tenant -> pattern -> stats -> store -> tail (tenant, stats and tail optional). With
    :class:`TenantMiners` each record is mined among its org/space's lines."""

    def pattern(r: LogRecord) -> None:
        if isinstance(miner, TenantMiners):
            labels = r.labels
            mined = miner.mine_for(labels.get("org", ""), labels.get("space", ""), r.message)
        else:
            mined = miner.mine(r.message)
        r.pattern_id, r.template = mined

    stages = [Stage("enrich", "record", enrich)]
    if tenant_of is not None:
        stages.append(Stage("tenant", "record", tenant_labeller(tenant_of)))
    stages.append(Stage("pattern", "record", pattern))
    if stats is not None:

        def observe(r: LogRecord) -> None:
            labels = r.labels
            stats.observe(
                labels.get("app", ""),
                r.pattern_id,
                r.template,
                r.message,
                r.timestamp_ns,
                org=labels.get("org", ""),
                space=labels.get("space", ""),
            )

        stages.append(Stage("stats", "record", observe))
    stages.append(Stage("store", "sink", store.write))
    if tail is not None:
        stages.append(Stage("tail", "side", tail.publish))
    return stages


@dataclass(slots=True)
class Prepared:
    """A batch after :meth:`Pipeline.prepare`: its records and the seconds that took."""

    records: list[LogRecord]
    seconds: float


class Pipeline:
    """The ``process`` function for :class:`~log_pipeline.receivers.SpoolConsumer`, in two phases.

    :meth:`prepare` parses the batch and runs the leading ``record`` stages (enrich, pattern, stats: pure
    Python); :meth:`deliver` runs the rest in order (store, tail) and raises only when a ``sink`` stage fails
    (the batch is then retried). Calling the pipeline does both. The consumer may prepare the next batch while
    the previous one is delivered (the search store's commit runs without the GIL); deliveries stay in order
    and one at a time."""

    def __init__(
        self,
        parser: SyslogParser,
        stages: Sequence[Stage],
        metrics: PipelineMetrics,
        duplicates: DuplicateCounter,
        clock: Callable[[], float],
        id_prefix: str,
    ) -> None:
        split = next((i for i, s in enumerate(stages) if s.kind != "record"), len(stages))
        self._early, self._late = list(stages[:split]), list(stages[split:])
        self._parser, self._metrics, self._dups = parser, metrics, duplicates
        self._clock, self._prefix = clock, id_prefix

    def prepare(self, batch: Batch) -> Prepared:
        t0 = self._clock()
        self._metrics.received.inc(len(batch))
        records = _parse(self._parser, self._dups, self._metrics, batch, self._prefix)
        for stage in self._early:
            _run_stage(stage, records, self._metrics)
        return Prepared(records, self._clock() - t0)

    def deliver(self, prepared: Prepared) -> None:
        t0 = self._clock()
        records = prepared.records
        for stage in self._late:
            _run_stage(stage, records, self._metrics)
        self._metrics.written.inc(len(records))
        self._metrics.batch_seconds.observe(prepared.seconds + self._clock() - t0)

    def __call__(self, batch: Batch) -> None:
        self.deliver(self.prepare(batch))


def build_pipeline(
    parser: SyslogParser,
    stages: Sequence[Stage],
    *,
    metrics: PipelineMetrics,
    duplicates: DuplicateCounter | None = None,
    clock: Callable[[], float] = time.perf_counter,
    id_prefix: str = "",
) -> Pipeline:
    """The :class:`Pipeline` for :class:`~log_pipeline.receivers.SpoolConsumer`: parse the batch, run
    ``stages`` in order; raises only when a ``sink`` stage fails (the batch is then retried). ``id_prefix``
    goes before every record id (see :func:`record_id`)."""
    return Pipeline(parser, stages, metrics, duplicates or DuplicateCounter(0), clock, id_prefix)
