"""The consumer's wait profile (histograms per batch and stage) and its linger: while messages arrive, a
batch smaller than ``min_batch_messages`` waits (at most ``linger_s``) for more, so the sink commits fuller
batches; a trickle is delayed by at most ``linger_s``."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from log_pipeline.model import RawMessage
from log_pipeline.receivers import ConsumerMetrics, SpoolConsumer
from log_pipeline.spool import FileSpool
from tests.log_pipeline.test_consumer_overlap import Recorder, msg
from tests.support.servers import wait_until


class CountingSpool(FileSpool):
    """A FileSpool that counts the consumer's reads."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.reads = 0

    def read(self, after_seq: int, max_messages: int) -> list[tuple[int, RawMessage]]:
        out = super().read(after_seq, max_messages)
        self.reads += 1
        return out


def _sample(reg: CollectorRegistry, name: str, labels: dict[str, str] | None = None) -> float:
    value = reg.get_sample_value(name, labels or {})
    assert value is not None, name
    return value


def test_wait_profile_counts_every_batch_and_stage(tmp_path: Path) -> None:
    s = FileSpool(tmp_path)
    s.append([msg(i) for i in range(30)])
    rec = Recorder(s)
    rec.gate.set()
    reg = CollectorRegistry()
    c = SpoolConsumer(s, rec, batch_messages=10, idle_wait_s=0.05, metrics=ConsumerMetrics.create(reg))
    c.start()
    try:
        wait_until(lambda: s.committed_seq == 30, 10, "every batch to be committed")
    finally:
        c.stop()
        s.close()
    assert _sample(reg, "paramedic_log_consumer_batch_messages_count") == 3
    assert _sample(reg, "paramedic_log_consumer_batch_messages_sum") == 30
    # the messages were received in 2023 (msg's received_ns): every batch is years old when read
    assert _sample(reg, "paramedic_log_consumer_batch_age_seconds_sum") > 3 * 86400
    for stage in ("prepare", "delivery"):
        assert _sample(reg, "paramedic_log_consumer_stage_seconds_count", {"stage": stage}) == 3
    # the consumer thread waited once per delivery in flight (after preparing batches 2 and 3, at the end)
    assert _sample(reg, "paramedic_log_consumer_stage_seconds_count", {"stage": "delivery_wait"}) == 3
    assert _sample(reg, "paramedic_log_consumer_stage_seconds_count", {"stage": "linger"}) == 0


def test_linger_gathers_the_messages_arriving_meanwhile_into_one_batch(tmp_path: Path) -> None:
    s = CountingSpool(tmp_path)
    s.append([msg(i) for i in range(3)])
    rec = Recorder(s)
    rec.gate.set()
    c = SpoolConsumer(s, rec, batch_messages=100, idle_wait_s=0.05, min_batch_messages=10, linger_s=5.0)
    c.start()
    try:
        wait_until(lambda: s.reads >= 1, 10, "the first read (3 messages)")
        s.append([msg(i) for i in range(3, 10)])
        wait_until(lambda: s.committed_seq == 10, 10, "the batch to be committed")
    finally:
        c.stop()
        s.close()
    assert rec.delivered == [list(range(1, 11))]


def test_linger_is_bounded_for_a_trickle(tmp_path: Path) -> None:
    s = FileSpool(tmp_path)
    s.append([msg(i) for i in range(3)])
    rec = Recorder(s)
    rec.gate.set()
    reg = CollectorRegistry()
    metrics = ConsumerMetrics.create(reg)
    c = SpoolConsumer(s, rec, 100, 0.05, min_batch_messages=10, linger_s=0.05, metrics=metrics)
    c.start()
    try:
        wait_until(lambda: s.committed_seq == 3, 10, "the short batch to be committed after the linger")
    finally:
        c.stop()
        s.close()
    assert rec.delivered == [[1, 2, 3]]
    assert _sample(reg, "paramedic_log_consumer_stage_seconds_count", {"stage": "linger"}) == 1
    waited = _sample(reg, "paramedic_log_consumer_stage_seconds_sum", {"stage": "linger"})
    assert 0.04 <= waited < 5.0
