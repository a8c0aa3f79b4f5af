"""Issue 11, item 2: one regex must not freeze the server. Every user-supplied pattern is RE2 (linear time),
so each hostile request below is answered correctly (a result, or a clean 400 for what Go's regexp refuses)
and the server stays alive and correct afterwards (:meth:`Target.assert_alive`).

Under Python's backtracking ``re`` each of these ran for hours holding the GIL: ``(.*.*)*X`` against a long
label value, ``*a*a*...*b`` highlighted against a long message token.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.hostile import PROBE_METRIC, Target
from tests.support.servers import wait_until

HOSTILE = "(.*.*)*X"
LONG_VALUE = "a" * 20_000
REFUSED = "(?<=x)y"  # lookbehind: Python accepted it, Go (Prometheus, Alertmanager) does not


@pytest.fixture(scope="module")
def hostile_alert(target: Target) -> Iterator[dict[str, str]]:
    """An alert whose ``job`` label is long: the text a backtracking regex would never finish."""
    labels = {"alertname": "HostileRegex", "job": LONG_VALUE}
    with target.client("operator") as c:
        r = c.post("/api/v2/alerts", json=[{"labels": labels, "annotations": {}}])
    assert r.status_code == 200, r.text
    wait_until(
        lambda: _alertnames(target, {"filter": 'alertname="HostileRegex"'}) == ["HostileRegex"], 30, "alert"
    )
    yield labels


def _alertnames(target: Target, params: dict[str, Any]) -> list[str]:
    with target.client("viewer") as c:
        r = c.get("/api/v2/alerts", params=params)
    assert r.status_code == 200, r.text
    return sorted(a["labels"]["alertname"] for a in r.json())


def _error(r: Any, status: int = 400) -> str:
    assert r.status_code == status, r.text
    return str(r.json())


def test_hostile_promql_selector(target: Target) -> None:
    with target.client("viewer") as c:
        r = c.get("/api/v1/query", params={"query": f'{{__name__=~"{HOSTILE}"}}'})
        assert r.status_code == 200, r.text
        assert r.json()["data"]["result"] == []
        r = c.get("/api/v1/query", params={"query": f'{{__name__=~"{PROBE_METRIC}|(.*.*)*X"}}'})
        assert [s["metric"]["__name__"] for s in r.json()["data"]["result"]] == [PROBE_METRIC]
        r = c.get("/api/v1/query", params={"query": f'{PROBE_METRIC}{{kind=~"x{{1001}}"}}'})
        body = r.json()
        assert r.status_code == 400 and body["errorType"] == "bad_data", r.text
        assert "x{1001}" in body["error"]
    target.assert_alive()


def test_hostile_series_match(target: Target) -> None:
    with target.client("viewer") as c:
        r = c.get("/api/v1/series", params={"match[]": f'{{__name__=~"{HOSTILE}"}}'})
        assert r.status_code == 200, r.text
        assert r.json()["data"] == []
        r = c.get(
            "/api/v1/series", params={"match[]": f'{{__name__=~"hostile_.*", kind=~"{HOSTILE}|probe"}}'}
        )
        assert [s["__name__"] for s in r.json()["data"]] == [PROBE_METRIC]
    target.assert_alive()


def test_hostile_alertmanager_filter(target: Target, hostile_alert: dict[str, str]) -> None:
    assert _alertnames(target, {"filter": f'job=~"{HOSTILE}"'}) == []
    assert _alertnames(target, {"filter": 'job=~"a+"'}) == ["HostileRegex"]
    with target.client("viewer") as c:
        assert "invalid regex" in _error(c.get("/api/v2/alerts", params={"filter": f'job=~"{REFUSED}"'}))
        r = c.get("/api/v2/alerts/groups", params={"filter": f'job=~"{HOSTILE}"'})
        assert r.status_code == 200 and r.json() == []
    target.assert_alive()


def test_hostile_alertmanager_receiver(target: Target, hostile_alert: dict[str, str]) -> None:
    assert _alertnames(target, {"receiver": HOSTILE}) == []
    assert _alertnames(target, {"receiver": "onc.*", "filter": 'alertname="HostileRegex"'}) == [
        "HostileRegex"
    ]
    with target.client("viewer") as c:
        assert "invalid regex" in _error(c.get("/api/v2/alerts", params={"receiver": REFUSED}))
        r = c.get("/api/v2/alerts/groups", params={"receiver": HOSTILE})
        assert r.status_code == 200 and r.json() == []
    target.assert_alive()


def _silence(value: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "matchers": [{"name": "job", "value": value, "isRegex": True}],
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
        "createdBy": "security-test",
        "comment": "hostile regex",
    }


def test_hostile_silence(target: Target, hostile_alert: dict[str, str]) -> None:
    with target.client("operator") as c:
        r = c.post("/api/v2/silences", json=_silence(HOSTILE))
        assert r.status_code == 200, r.text
        sid = r.json()["silenceID"]
        assert "invalid regex" in _error(c.post("/api/v2/silences", json=_silence(REFUSED)))
    with target.client("viewer") as c:
        r = c.get("/api/v2/alerts", params={"filter": 'alertname="HostileRegex"'})
        assert r.status_code == 200, r.text
        assert [a["status"]["silencedBy"] for a in r.json()] == [[]]  # evaluated, and it does not match
        # The filter is matched against the silence's matcher value: the pattern text, which ends in X.
        listed = c.get("/api/v2/silences", params={"filter": f'job=~"{HOSTILE}"'})
        assert listed.status_code == 200 and [x["id"] for x in listed.json()] == [sid]
        assert c.get(f"/api/v2/silence/{sid}").json()["matchers"][0]["value"] == HOSTILE
    target.assert_alive()


def _send_log(target: Target, message: str) -> None:
    ts = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    with socket.create_connection(("127.0.0.1", target.ports["tcp"])) as sock:
        sock.sendall(f"<14>1 {ts} cell1 app 42 - - {message}\n".encode())


def test_hostile_highlight(target: Target) -> None:
    _send_log(
        target, "hostileprobe " + "a" * 255 + " " + "a" * 12 + "b"
    )  # 255: the longest token highlighted

    def total() -> int:
        with target.client("viewer") as c:
            return int(c.get("/api/v1/logs/search", params={"q": "hostileprobe"}).json()["data"]["total"])

    wait_until(lambda: total() == 1, 30, "the log line to be searchable")
    wildcard = "*a" * 12 + "*b"  # matches the last token only
    with target.client("viewer") as c:
        r = c.get("/api/v1/logs/search", params={"q": f"hostileprobe OR {wildcard}", "highlight": "true"})
    assert r.status_code == 200, r.text
    [hit] = r.json()["data"]["hits"]
    message = hit["message"]
    assert [message[s:e] for s, e in hit["highlight"]["message"]] == ["hostileprobe", "a" * 12 + "b"]
    target.assert_alive()
