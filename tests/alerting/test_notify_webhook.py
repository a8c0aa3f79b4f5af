"""Webhook notifier: byte-for-byte Alertmanager 0.25 payloads and headers, retries through the real policy."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from alerting.model import Alert, Notification
from alerting.notify import DeliveryMetrics, RetryPolicy, WebhookConfig, WebhookNotifier, deliver
from alerting.notify._built import BuiltCache
from alerting.notify.payload import go_json_string, rfc3339nano, v4_payload
from tests.alerting._notify_servers import http_receiver
from tests.conftest import FIXTURES

RECORDED = FIXTURES / "alertmanager" / "recorded_v0.25.0"
NOW = datetime(2026, 11, 27, 5, 26, 40, tzinfo=UTC)  # after every recorded endsAt


def _time(s: str) -> datetime | None:
    return None if s.startswith("0001-") else datetime.fromisoformat(s.replace("Z", "+00:00"))


def recorded_case(path: Path) -> tuple[bytes, Notification, int]:
    """The recorded body, an equivalent Notification (with the cut alerts restored) and max_alerts."""
    raw = path.read_bytes()
    p = json.loads(raw)
    alerts = [
        Alert(
            labels=a["labels"],
            annotations=a["annotations"],
            starts_at=_time(a["startsAt"]),
            ends_at=_time(a["endsAt"]),
            generator_url=a["generatorURL"],
        )
        for a in p["alerts"]
    ]
    max_alerts = 0
    if p["truncatedAlerts"]:  # recorded with max_alerts: 1; the cut alerts differ in "index"
        first = alerts[0]
        alerts += [
            Alert({**first.labels, "index": str(i)}, dict(first.annotations), first.starts_at)
            for i in range(1, p["truncatedAlerts"] + 1)
        ]
        max_alerts = 1
    n = Notification(
        receiver=p["receiver"],
        status=p["status"],
        alerts=alerts,
        group_labels=p["groupLabels"],
        common_labels={},  # recomputed by the notifier, as Alertmanager's webhook does
        common_annotations={},
        external_url=p["externalURL"],
        group_key=p["groupKey"],
    )
    return raw, n, max_alerts


CASES = sorted(RECORDED.glob("*.json"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_payload_bytes_match_recording(path: Path) -> None:
    raw, n, max_alerts = recorded_case(path)
    assert v4_payload(n, NOW, max_alerts=max_alerts) == raw


def test_go_json_and_time_formatting() -> None:
    assert go_json_string('<a href="x">&\b\f\x7f\u2028é\ud800') == (
        '"\\u003ca href=\\"x\\"\\u003e\\u0026\\u0008\\u000c\x7f\\u2028é\\ufffd"'
    )
    assert rfc3339nano(datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)) == "2026-01-02T03:04:05.12Z"
    assert rfc3339nano(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert rfc3339nano(None) == "0001-01-01T00:00:00Z"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
async def test_posted_bytes_and_headers_match_recording(path: Path) -> None:
    raw, n, max_alerts = recorded_case(path)
    recorded_headers = (path.parent / f"{path.stem}.headers.txt").read_text().splitlines()
    request_line, url_path = recorded_headers[0], recorded_headers[0].split()[1]
    with http_receiver() as rx:
        notifier = WebhookNotifier(
            WebhookConfig(url=f"http://127.0.0.1:{rx.port}{url_path}", max_alerts=max_alerts), now=lambda: NOW
        )
        try:
            result = await notifier.notify(n)
        finally:
            await notifier.aclose()
    assert result.ok, result
    [got] = rx.received
    assert got.body == raw
    assert got.request_line == request_line
    expected = [tuple(h.split(": ", 1)) for h in recorded_headers[1:] if h]
    expected = [(k, f"127.0.0.1:{rx.port}" if k == "Host" else v) for k, v in expected]
    assert got.headers == expected


def _notification() -> Notification:
    a = Alert({"alertname": "X", "app": "<script>alert(1)</script>"}, {"summary": "s"}, NOW)
    return Notification("hook", "firing", [a], {"alertname": "X"}, {}, {}, "http://am", '{}:{alertname="X"}')


async def _sleep_nowhere(_: float) -> None:
    return None


async def test_5xx_retried_then_delivered_with_metrics() -> None:
    registry = CollectorRegistry()
    metrics = DeliveryMetrics(registry)
    delays: list[float] = []

    async def sleep(d: float) -> None:
        delays.append(d)

    with http_receiver([503, 500]) as rx:
        notifier = WebhookNotifier(WebhookConfig(url=f"http://127.0.0.1:{rx.port}/"), now=lambda: NOW)
        try:
            result = await deliver(
                notifier,
                _notification(),
                RetryPolicy(jitter=0.0),
                metrics=metrics,
                sleep=sleep,
                rng=lambda: 0.5,
            )
        finally:
            await notifier.aclose()
    assert result.ok
    assert len(rx.received) == 3
    assert len({r.body for r in rx.received}) == 1
    assert delays == [0.5, 1.0]

    def val(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"receiver": "hook", **labels})

    assert val("paramedic_notify_attempts_total") == 3
    assert val("paramedic_notify_sent_total") == 1
    assert val("paramedic_notify_errors_total", reason="http_5xx") == 2
    assert val("paramedic_notify_attempt_duration_seconds_count") == 3


async def test_retries_send_the_body_built_once() -> None:
    # a big group's JSON is megabytes: built once (in a worker thread), resent as is by every retry
    with http_receiver([503, 503]) as rx:
        notifier = WebhookNotifier(WebhookConfig(url=f"http://127.0.0.1:{rx.port}/"), now=lambda: NOW)
        builds = 0
        body = notifier.body

        def counting(n: Notification) -> tuple[bytes, str]:
            nonlocal builds
            builds += 1
            return body(n)

        notifier.body = counting  # type: ignore[method-assign,assignment]
        try:
            result = await deliver(notifier, _notification(), RetryPolicy(jitter=0.0), sleep=_sleep_nowhere)
            again = await deliver(notifier, _notification(), RetryPolicy(jitter=0.0), sleep=_sleep_nowhere)
        finally:
            await notifier.aclose()
    assert result.ok and again.ok
    assert len(rx.received) == 4 and len({r.body for r in rx.received}) == 1
    assert builds == 2  # once per notification, not once per attempt


async def test_4xx_is_permanent() -> None:
    registry = CollectorRegistry()
    with http_receiver([400]) as rx:
        notifier = WebhookNotifier(WebhookConfig(url=f"http://127.0.0.1:{rx.port}/"))
        try:
            result = await deliver(
                notifier, _notification(), metrics=DeliveryMetrics(registry), sleep=_sleep_nowhere
            )
        finally:
            await notifier.aclose()
    assert not result.ok and not result.retry
    assert result.reason.startswith("http_4xx: 400")
    assert len(rx.received) == 1
    assert (
        registry.get_sample_value(
            "paramedic_notify_dropped_total", {"receiver": "hook", "reason": "http_4xx"}
        )
        == 1
    )


async def test_timeout_is_retried() -> None:
    with http_receiver(["hang", 200]) as rx:
        notifier = WebhookNotifier(WebhookConfig(url=f"http://127.0.0.1:{rx.port}/", timeout_s=0.3))
        try:
            result = await deliver(notifier, _notification(), sleep=_sleep_nowhere)
        finally:
            await notifier.aclose()
    assert result.ok
    assert len(rx.received) == 2


async def test_connection_refused_gives_up_at_deadline() -> None:
    with http_receiver() as rx:
        port = rx.port  # closed when the block ends
    t = [0.0]

    async def sleep(d: float) -> None:
        t[0] += d

    notifier = WebhookNotifier(WebhookConfig(url=f"http://127.0.0.1:{port}/"))
    try:
        result = await deliver(
            notifier, _notification(), RetryPolicy(deadline_s=10.0), clock=lambda: t[0], sleep=sleep
        )
    finally:
        await notifier.aclose()
    assert not result.ok and not result.retry
    assert result.reason.startswith("deadline:") and "connect:" in result.reason
    assert t[0] < 10.0


async def test_templated_body_and_send_resolved() -> None:
    template = (
        '{"text": {{ ("[" ~ status ~ "] " ~ alerts[0].labels.app) | tojson }}, "n": {{ alerts | length }}}'
    )
    with http_receiver() as rx:
        notifier = WebhookNotifier(
            WebhookConfig(url=f"http://127.0.0.1:{rx.port}/chat", body_template=template), now=lambda: NOW
        )
        resolved = Alert({"alertname": "Y"}, {}, NOW, ends_at=datetime(2026, 1, 1, tzinfo=UTC))
        quiet = WebhookNotifier(
            WebhookConfig(url=f"http://127.0.0.1:{rx.port}/quiet", send_resolved=False), now=lambda: NOW
        )
        try:
            assert (await notifier.notify(_notification())).ok
            skipped = await quiet.notify(Notification("q", "resolved", [resolved], {}, {}, {}, "", "{}"))
        finally:
            await notifier.aclose()
            await quiet.aclose()
    assert skipped.ok and skipped.reason.startswith("skipped")
    [got] = rx.received
    assert json.loads(got.body) == {"text": "[firing] <script>alert(1)</script>", "n": 1}
    assert b"<script>" not in got.body  # tojson escapes < > &


async def test_template_sandbox_violation_is_permanent() -> None:
    cfg = WebhookConfig(url="http://127.0.0.1:9/", body_template="{{ alerts.append(1) }}")
    notifier = WebhookNotifier(cfg)
    try:
        result = await notifier.notify(_notification())
    finally:
        await notifier.aclose()
    assert not result.ok and not result.retry and result.reason.startswith("template:")


async def test_error_reasons_name_the_host_but_not_the_path() -> None:
    """A chat webhook's path and ?key= are its credential: neither appears in a reason (issue 11)."""
    secret_path = "/services/T0001/B0002/XyZsecretPart"
    url = f"http://hook:pw-4711@127.0.0.1:9{secret_path}?key=chat-key-123"

    def echo_404(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text=f"Cannot POST {request.url.raw_path.decode()}")

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    reasons = []
    for handler in (echo_404, refuse):
        notifier = WebhookNotifier(WebhookConfig(url=url), transport=httpx.MockTransport(handler))
        try:
            result = await notifier.notify(_notification())
        finally:
            await notifier.aclose()
        assert not result.ok
        reasons.append(result.reason)
    assert reasons[0].startswith("http_4xx: 404: Cannot POST ")
    assert reasons[1].startswith("connect: ConnectError: cannot connect to http://")
    assert "127.0.0.1:9" in reasons[1]
    for reason in reasons:
        for secret in ("XyZsecretPart", "B0002", "chat-key-123", "pw-4711"):
            assert secret not in reason, reason


def test_a_built_body_is_dropped_with_its_notification() -> None:
    cache: BuiltCache[bytes] = BuiltCache(size=2)
    kept, dropped = _notification(), _notification()
    cache.put(kept, b"kept")
    cache.put(dropped, b"dropped")
    assert cache.get(dropped) == b"dropped" and len(cache) == 2
    del dropped  # delivery over: the notification goes, and the megabytes built for it with it
    gc.collect()
    assert len(cache) == 1 and cache.get(kept) == b"kept"
    a, b = _notification(), _notification()
    cache.put(a, b"a")
    cache.put(b, b"b")  # bounded: the oldest entry is evicted
    assert len(cache) == 2 and cache.get(kept) is None and cache.get(b) == b"b"
