"""Times at their limits against a real ``paramedic serve``: a space's operator posting a silence or an alert
dated near the end of Python's calendar (year 9999) or without a time zone.

Found by the stop-33 audit: a silence ending ``9999-12-31T23:59:59Z`` (inside the poster's own space, so
allowed) made every ``GET /api/v2/silences`` answer 500 for everyone, and the dispatcher's next maintenance
pass raised ``OverflowError`` (end + retention), which ended its loop: no notification of any tenant was sent
again, and the silence was kept on disk. An alert starting in 9999 (or without a zone) was stored, then its
routing raised: 500, the rest of its batch dropped. Such times are now a 400 naming the limit; the
dispatcher's housekeeping compares without adding to a user's time and cannot end the loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from alerting.dispatch import Dispatcher, Silences, parse_config
from paramedic.auth import TokenStore
from platforms.tenancy import Grant
from tests.alerting._dispatch_support import Recorders, alert, no_retry
from tests.support.hostile import Target, running_target

pytestmark = pytest.mark.timeout(240)

FAR = "9999-12-31T23:59:59Z"
KEPT = {
    "id": "kept-far",
    "matchers": [{"name": "alertname", "type": "=", "value": "Muted"}],
    "startsAt": "2026-01-01T00:00:00Z",
    "endsAt": FAR,
    "createdBy": "before",
    "comment": "written before far times were refused",
    "updatedAt": "2026-01-01T00:00:00Z",
}
BASIC_ROUTE = """
route: {receiver: team, group_by: [alertname], group_wait: 0s, group_interval: 1s}
receivers:
  - name: team
    notifiers: [{type: test, name: default}]
"""


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with running_target(tmp_path_factory.mktemp("serve-times")) as t:
        grant = Grant("acme", "prod", "operator")
        t.tokens["acme-operator"] = TokenStore(t.tmp / "tokens.json").create(
            "acme-operator", "operator", grants=[grant]
        )
        yield t


def _silence(starts: str, ends: str, name: str) -> dict[str, Any]:
    return {
        "matchers": [{"name": "alertname", "value": name, "isRegex": False}],
        "startsAt": starts,
        "endsAt": ends,
        "createdBy": "acme",
        "comment": "hostile times",
    }


def _alert(name: str, **times: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, "org": "acme", "space": "prod"}, **times}


@pytest.mark.parametrize(
    ("starts", "ends"),
    [("2026-01-01T00:00:00Z", FAR), ("2026-01-01T00:00:00", "2999-01-01T00:00:00"), (FAR, FAR)],
    ids=["far-end", "no-zone", "far-start"],
)
def test_a_silence_at_the_calendars_end_is_refused_and_silences_still_read(
    target: Target, starts: str, ends: str
) -> None:
    with target.client("acme-operator") as c:
        r = c.post("/api/v2/silences", json=_silence(starts, ends, "Muted"))
    assert r.status_code == 400, (r.status_code, r.text)
    assert "9000-01-01" in r.text or "zone" in r.text, r.text
    for role in ("viewer", "admin", "acme-operator"):
        with target.client(role) as c:
            assert c.get("/api/v2/silences").status_code == 200
    target.assert_alive()


def test_alerts_at_the_calendars_end_are_refused_and_the_batch_is_not_half_stored(target: Target) -> None:
    batch = [_alert("Far", startsAt=FAR, endsAt="0001-01-01T00:00:00Z"), _alert("AfterFar")]
    naive = [_alert("NoZone", startsAt="2026-12-07T00:00:00"), _alert("AfterNoZone")]
    with target.client("acme-operator") as c:
        for body in (batch, naive):
            r = c.post("/api/v2/alerts", json=body)
            assert r.status_code == 400, (r.status_code, r.text)
            assert "alert 0" in r.text, r.text
        names = {a["labels"]["alertname"] for a in c.get("/api/v2/alerts").json()}
    # the valid alerts of the batch are stored, as Alertmanager does; the refused ones are not
    assert {"AfterFar", "AfterNoZone"} <= names and not names & {"Far", "NoZone"}, names
    target.assert_alive()


def test_maintenance_survives_a_kept_silence_that_ends_in_9999(tmp_path: Path) -> None:
    """A silences file written before the refusal (or by hand) may hold an end in 9999: the dispatcher's
    maintenance pass (every 60 s) must not raise on it (end + retention overflowed)."""
    (tmp_path / "silences.json").write_text(json.dumps([KEPT]))
    silences = Silences(tmp_path)
    assert silences.gc() == 0
    assert [s.id for s in silences.all()] == [KEPT["id"]]


async def test_the_dispatch_loop_outlives_a_failing_maintenance() -> None:
    """Housekeeping that raises (whatever the cause) must not end the loop that sends every notification."""
    rec = Recorders()
    config = parse_config(BASIC_ROUTE)
    d = Dispatcher(config, rec, deliver=no_retry, registry=CollectorRegistry())

    def broken() -> int:
        raise OverflowError("date value out of range")

    d.silences.gc = broken  # type: ignore[method-assign]
    task = asyncio.create_task(d.run(max_sleep_s=0.01, maintenance_s=0.0))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2
    while loop.time() < deadline and not task.done():  # several maintenance passes fail meanwhile
        await asyncio.sleep(0.05)
    d.put([alert(alertname="AfterFailures")])
    deadline = loop.time() + 5
    while not rec.sent() and loop.time() < deadline and not task.done():
        await asyncio.sleep(0.01)
    d.stop()
    await asyncio.wait_for(task, 5)
    assert [n.group_labels for n in rec.sent()] == [{"alertname": "AfterFailures"}]
