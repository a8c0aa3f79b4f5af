"""gzip/deflate bodies of the OTLP receivers (:func:`collector.push._decompress.gunzip`): every gzip member is
read (the limit over all of them), and a stream that is cut short or followed by junk is refused, never
silently shortened (before, a second member's records were dropped and the request answered as stored)."""

from __future__ import annotations

import gzip
import zlib

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from collector.push._decompress import gunzip
from collector.push.errors import PushRefusedError
from collector.push.otlp_body import parse_request


def _records(*messages: str) -> bytes:
    req = ExportLogsServiceRequest()
    scope = req.resource_logs.add().scope_logs.add()
    for text in messages:
        scope.log_records.add().body.string_value = text
    return req.SerializeToString()


def test_every_gzip_member_is_read() -> None:
    assert gunzip(gzip.compress(b"first;") + gzip.compress(b"second"), "gzip", 1 << 20) == b"first;second"


def test_a_request_split_over_two_members_keeps_all_its_records() -> None:
    """Concatenated protobuf messages merge: a sender that flushes a member per batch sends one request."""
    body = gzip.compress(_records("a", "b")) + gzip.compress(_records("c"))
    req, _ = parse_request(ExportLogsServiceRequest, body, "application/x-protobuf", "gzip", 1 << 20)
    records = [
        r.body.string_value for rl in req.resource_logs for sl in rl.scope_logs for r in sl.log_records
    ]
    assert records == ["a", "b", "c"]


def test_the_limit_counts_all_members() -> None:
    one = gzip.compress(b"x" * 600)
    assert len(gunzip(one, "gzip", 1000)) == 600
    with pytest.raises(PushRefusedError) as err:
        gunzip(one + one, "gzip", 1000)
    assert (err.value.status, err.value.reason) == (413, "decompressed_too_large")


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        (gzip.compress(b"x" * 1000)[:-12], "gzip"),  # cut inside the stream
        (gzip.compress(b"payload") + b"junk", "gzip"),  # not a second member
        (zlib.compress(b"payload")[:-6], "deflate"),
        (zlib.compress(b"payload") + b"trailing", "deflate"),
    ],
    ids=["gzip-truncated", "gzip-junk-after", "deflate-truncated", "deflate-junk-after"],
)
def test_a_cut_or_padded_stream_is_a_400(body: bytes, encoding: str) -> None:
    with pytest.raises(PushRefusedError) as err:
        gunzip(body, encoding, 1 << 20)
    assert err.value.status == 400
