"""The harness itself: the target answers, serves the probe value, and refuses reads without a token."""

from __future__ import annotations

from tests.support.hostile import PROBE_VALUE, Target


def test_target_is_alive_and_reads_need_a_token(target: Target) -> None:
    target.assert_alive()
    assert target.probe_value() == PROBE_VALUE
    with target.client(None) as c:
        assert c.get("/api/v1/query", params={"query": "1"}).status_code == 401
