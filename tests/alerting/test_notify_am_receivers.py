"""The chat and paging receivers beyond the byte comparison: a hung receiver does not hold back the others,
output caps, the retry policy and per-receiver metrics, Telegram's answer check, and secrets shown only as
``<secret>`` in the config the API serves."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from alerting.am_api import am_router
from alerting.base import Notifier
from alerting.config import AlertingConfig, notifier_config
from alerting.dispatch import Dispatcher, parse_config
from alerting.dispatch.config import GlobalConfig
from alerting.model import Alert, Notification
from alerting.notify import DeliveryMetrics, RetryPolicy, build_notifier, deliver
from alerting.notify.telegram import telegram_result
from tests.alerting._dispatch_support import Clock, alert
from tests.alerting._notify_servers import http_receiver

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _build(options: dict[str, Any]) -> Notifier:
    return build_notifier(notifier_config(options, GlobalConfig()))


def _notification(**labels: str) -> Notification:
    a = Alert({"alertname": "Down", **labels}, {"summary": "down"}, NOW, None, "http://prom/g")
    return Notification(
        "team", "firing", [a], {"alertname": "Down"}, {}, {}, "http://pm", '{}:{alertname="Down"}'
    )


async def _sleep_nowhere(_: float) -> None:
    return None


async def test_a_hung_receiver_does_not_hold_back_the_others() -> None:
    with http_receiver(["hang"]) as slow, http_receiver() as fast:
        config = f"""
route: {{receiver: team, group_by: [alertname], group_wait: 0s, group_interval: 1m, repeat_interval: 1h}}
receivers:
  - name: team
    webhook_configs: [{{url: 'http://127.0.0.1:{slow.port}/hook', timeout_s: 20}}]
    slack_configs: [{{api_url: 'http://127.0.0.1:{fast.port}/slack', channel: '#ops'}}]
"""
        clock = Clock(NOW)
        built: list[Any] = []

        def build(options: dict[str, Any]) -> Notifier:
            built.append(_build(options))
            return built[-1]  # type: ignore[no-any-return]

        d = Dispatcher(parse_config(config), build, clock=clock, registry=CollectorRegistry())
        d.put([alert(alertname="Down")])
        flush = asyncio.create_task(d.flush_due())
        try:
            async with asyncio.timeout(10):
                while not fast.received:  # Slack is delivered while the webhook still hangs
                    await asyncio.sleep(0.02)
            assert len(slow.received) == 1 and not flush.done()
        finally:
            slow.release.set()
            await asyncio.wait_for(flush, 10)
            for n in built:
                await n.aclose()
    assert json.loads(fast.received[0].body)["channel"] == "#ops"


async def test_output_is_capped_as_alertmanager_caps_it() -> None:
    long = "x" * 3000
    with http_receiver() as sink:
        base = f"http://127.0.0.1:{sink.port}"
        notifiers = [
            _build({"type": "slack", "api_url": f"{base}/slack"}),
            _build({"type": "telegram", "api_url": f"{base}/tg", "bot_token": "1:t", "chat_id": 1}),
            _build({"type": "opsgenie", "api_url": f"{base}/og/", "api_key": "k"}),
            _build(
                {
                    "type": "pagerduty",
                    "url": f"{base}/pd",
                    "routing_key": "r",
                    "details": {"big": "Big"},
                }
            ),
        ]
        huge = Alert(
            {"alertname": "Down", "app": long}, {"summary": "y" * 600_000}, NOW, None, "http://prom/g"
        )
        n = Notification(
            "team", "firing", [huge], {"alertname": "Down", "app": long}, {}, {}, "http://pm", "{}"
        )
        try:
            results = [await x.notify(n) for x in notifiers]
        finally:
            for x in notifiers:
                await x.aclose()  # type: ignore[attr-defined]
    # the scripted sink is no Bot API: Telegram's answer check refuses it (retryable); the body was sent
    assert [r.ok for r in results] == [True, False, True, True], results
    slack, telegram, opsgenie, pagerduty = (json.loads(r.body) for r in sink.received)
    assert len(slack["attachments"][0]["title"]) == 1024 and slack["attachments"][0]["title"].endswith("…")
    assert len(telegram["text"]) <= 4096
    assert len(opsgenie["message"]) == 130
    assert len(pagerduty["payload"]["summary"]) == 1024
    # over 512 KB the custom details go, replaced by Alertmanager's note
    note = "Custom details have been removed because the original event exceeds the maximum size of 512KB"
    assert pagerduty["payload"]["custom_details"] == {"error": note}


async def test_retries_and_metrics_per_receiver() -> None:
    registry = CollectorRegistry()
    metrics = DeliveryMetrics(registry)
    with http_receiver([503, 200, 400]) as sink:
        slack = _build({"type": "slack", "api_url": f"http://127.0.0.1:{sink.port}/services/T/B/secret-9"})
        try:
            ok = await deliver(slack, _notification(), metrics=metrics, sleep=_sleep_nowhere)
            bad = await deliver(
                slack, _notification(), RetryPolicy(max_attempts=3), metrics=metrics, sleep=_sleep_nowhere
            )
        finally:
            await slack.aclose()  # type: ignore[attr-defined]
    assert ok.ok and not bad.ok and not bad.retry and "secret-9" not in bad.reason
    assert bad.reason.startswith("http_4xx: 400")

    def value(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, {"receiver": "team", **labels}) or 0.0

    assert value("paramedic_notify_attempts_total") == 3
    assert value("paramedic_notify_sent_total") == 1
    assert value("paramedic_notify_errors_total", reason="http_5xx") == 1
    assert value("paramedic_notify_dropped_total", reason="http_4xx") == 1


def test_telegram_answer_must_say_ok() -> None:
    assert telegram_result(200, b'{"ok":true,"result":{"message_id":1}}').ok
    refused = telegram_result(
        400, b'{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}'
    )
    assert not refused.ok and refused.retry and "chat not found" in refused.reason
    assert not telegram_result(200, b"<html>proxy error</html>").ok


SECRET_CONFIG = """
global:
  slack_api_url: https://hooks.slack.example/services/T0/B0/global-slack-1
  opsgenie_api_key: og-global-2
  http_config: {basic_auth: {username: am, password: http-pass-3}}
route: {receiver: all}
receivers:
  - name: all
    slack_configs: [{api_url: 'https://hooks.slack.example/services/T1/B1/slack-4'}]
    pagerduty_configs: [{routing_key: pd-key-5}]
    opsgenie_configs: [{api_key: og-key-6}]
    telegram_configs: [{bot_token: '42:tg-token-7', chat_id: 1}]
    msteams_configs: [{webhook_url: 'https://outlook.example/webhookb2/teams-8'}]
    webhook_configs:
      - url: https://hooks.example/x
        http_config:
          oauth2: {client_id: c, client_secret: oauth-9, token_url: 'https://idp.example/token'}
"""
SECRETS = [f"-{i}" for i in range(1, 10)]


def test_config_api_shows_receiver_secrets_as_placeholders() -> None:
    cfg = AlertingConfig.model_validate(yaml.safe_load(SECRET_CONFIG))
    app = FastAPI()
    app.include_router(am_router(Dispatcher(cfg, _build, registry=CollectorRegistry())))
    original = TestClient(app).get("/api/v2/status").json()["config"]["original"]
    leaked = [
        s
        for s in SECRET_CONFIG.split()
        if any(s.rstrip("'}],").endswith(x) for x in SECRETS) and s in original
    ]
    assert not leaked, original
    parsed = yaml.safe_load(original)
    receiver = parsed["receivers"][0]
    assert receiver["slack_configs"][0]["api_url"] == "<secret>"
    assert receiver["pagerduty_configs"][0]["routing_key"] == "<secret>"
    assert receiver["telegram_configs"][0]["bot_token"] == "<secret>"
    assert receiver["msteams_configs"][0]["webhook_url"] == "<secret>"
    assert receiver["webhook_configs"][0]["http_config"]["oauth2"]["client_secret"] == "<secret>"
    assert parsed["global"]["http_config"]["basic_auth"]["password"] == "<secret>"


async def test_receivers_still_get_their_secrets(tmp_path: Any) -> None:
    """The same config, built: each receiver holds the real value it needs (not the placeholder)."""
    cfg = AlertingConfig.model_validate(yaml.safe_load(SECRET_CONFIG))
    options = cfg.receivers[0].integrations()
    built = {o["type"]: notifier_config(o, cfg.global_) for o in options}
    assert built["slack"].api_url.get_secret_value().endswith("slack-4")  # type: ignore[union-attr]
    assert built["opsgenie"].api_key.get_secret_value() == "og-key-6"  # type: ignore[union-attr]
    http = built["pagerduty"].http_config  # global.http_config is every receiver's default
    assert http is not None and http.basic_auth is not None
    assert (
        http.basic_auth.password is not None and http.basic_auth.password.get_secret_value() == "http-pass-3"
    )


def test_every_copied_definition_is_rendered() -> None:
    """The Go definitions kept in templates/am_default.tmpl and the Python ones agree name for name."""
    import re  # noqa: PLC0415

    from alerting.notify.amtemplate import DEFINITIONS  # noqa: PLC0415

    text = (
        Path(DEFINITIONS["__subject"].__code__.co_filename).parent / "templates/am_default.tmpl"
    ).read_text()
    copied = set(re.findall(r'\{\{ define "([^"]+)" \}\}', text))
    lists = {
        "__text_alert_list",
        "__text_alert_list_markdown",
        "pagerduty.default.instances",
    }  # taken with args
    assert copied - lists == set(DEFINITIONS)


async def test_hostile_sinks_endless_answer_and_silence() -> None:
    """A sink that answers a 100 MB body is read for 64 KiB only; one that never answers times out."""
    import socket  # noqa: PLC0415
    import threading  # noqa: PLC0415

    listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    stop = threading.Event()
    written: list[int] = []

    def endless(sock: socket.socket) -> None:
        conn, _ = sock.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n")
        total = 0
        try:
            while not stop.is_set() and total < 100_000_000:
                total += conn.send(b"x" * 65536)
        except OSError:
            pass  # the client hung up
        written.append(total)
        conn.close()

    def silent(sock: socket.socket) -> None:
        conn, _ = sock.accept()
        stop.wait(10)
        conn.close()

    pairs = zip((endless, silent), listeners, strict=True)
    threads = [threading.Thread(target=f, args=(s,), daemon=True) for f, s in pairs]
    for t in threads:
        t.start()
    ports = [s.getsockname()[1] for s in listeners]
    loud = _build({"type": "slack", "api_url": f"http://127.0.0.1:{ports[0]}/s"})
    mute = _build({"type": "slack", "api_url": f"http://127.0.0.1:{ports[1]}/s", "timeout_s": 0.5})
    try:
        async with asyncio.timeout(10):
            results = await asyncio.gather(loud.notify(_notification()), mute.notify(_notification()))
    finally:
        stop.set()
        for n in (loud, mute):
            await n.aclose()  # type: ignore[attr-defined]
        for t in threads:
            t.join(5)
        for s in listeners:
            s.close()
    assert results[0].ok
    assert written and written[0] < 100_000_000  # we hung up long before the end
    assert not results[1].ok and results[1].retry and results[1].reason.startswith("timeout")


async def test_a_message_never_mixes_two_spaces() -> None:
    """Attacker: globex/dev fires the same alertname as acme/prod; each Slack and PagerDuty message holds one
    space's alerts only (groups split by org/space, the default), so no team reads another's labels."""
    with http_receiver() as sink:
        config = f"""
route: {{receiver: team, group_by: [alertname], group_wait: 0s, group_interval: 1m, repeat_interval: 1h}}
receivers:
  - name: team
    slack_configs: [{{api_url: 'http://127.0.0.1:{sink.port}/slack'}}]
    pagerduty_configs: [{{routing_key: k, url: 'http://127.0.0.1:{sink.port}/pd'}}]
"""
        built: list[Any] = []

        def build(options: dict[str, Any]) -> Notifier:
            built.append(_build(options))
            return built[-1]  # type: ignore[no-any-return]

        d = Dispatcher(parse_config(config), build, clock=Clock(NOW), registry=CollectorRegistry())
        d.put(
            [
                alert(alertname="Down", org="acme", space="prod", app="catalog"),
                alert(alertname="Down", org="globex", space="dev", app="secret-project"),
            ]
        )
        try:
            await d.flush_due()
        finally:
            for n in built:
                await n.aclose()
    bodies = [r.body.decode() for r in sink.received]
    assert len(bodies) == 4  # two groups x two receivers
    for body in bodies:
        assert ("acme" in body) != ("globex" in body), body
    assert sum("secret-project" in b for b in bodies) == 2
