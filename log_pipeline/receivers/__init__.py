"""Lossless log receivers: RELP, syslog over TCP/UDP/TLS in front of the durable spool, and the consumer loop.

A stream message is appended to the spool before its RELP ack is sent; a full spool stops socket reads.
"""

from log_pipeline.receivers._consumer_metrics import ConsumerMetrics
from log_pipeline.receivers._relp import RelpProtocolError, RelpSession, RelpStep
from log_pipeline.receivers.consumer import Batch, ReadableSpool, SpoolConsumer
from log_pipeline.receivers.server import LogReceivers, ReceiverError

__all__ = [
    "Batch",
    "ConsumerMetrics",
    "LogReceivers",
    "ReadableSpool",
    "ReceiverError",
    "RelpProtocolError",
    "RelpSession",
    "RelpStep",
    "SpoolConsumer",
]
