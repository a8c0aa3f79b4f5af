"""Microsoft Teams: Paramedic's body equals the bytes a real Alertmanager 0.27 sent for the same alerts
(``tests/fixtures/alertmanager/recorded_v0.27.0_msteams``, recorded by
``tests/alerting/record_am_msteams.py``; Alertmanager 0.25 has no ``msteams_configs``), POSTed to a real
loopback receiver."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from alerting.model import Alert, Notification
from alerting.notify import build_notifier
from alerting.notify.config import MsteamsConfig
from tests.alerting._notify_servers import http_receiver
from tests.conftest import FIXTURES

RECORDED = FIXTURES / "alertmanager" / "recorded_v0.27.0_msteams"


def _notification(name: str) -> Notification:
    posted = json.loads((RECORDED / f"{name}.alerts.json").read_text())
    alerts = [
        Alert(
            labels=a["labels"],
            annotations=a["annotations"],
            starts_at=datetime.fromisoformat(a["startsAt"]),
            ends_at=datetime.fromisoformat(a["endsAt"]) if "endsAt" in a else None,
            generator_url=a["generatorURL"],
        )
        for a in posted
    ]
    return Notification(
        receiver="teams",
        status="firing",  # recomputed per alert at send time, as Alertmanager does
        alerts=alerts,
        group_labels={"alertname": "AppInstanceCrashed", "app": "catalog"},
        common_labels={},
        common_annotations={},
        external_url="http://127.0.0.1:19093",
        group_key='{}:{alertname="AppInstanceCrashed", app="catalog"}',
    )


@pytest.mark.parametrize("name", ["00_firing", "01_resolved"])
async def test_body_equals_alertmanager_027(name: str) -> None:
    with http_receiver() as sink:
        config = MsteamsConfig(webhook_url=f"http://127.0.0.1:{sink.port}/webhookb2/secret-part")
        notifier = build_notifier(config)
        try:
            result = await notifier.notify(_notification(name))
        finally:
            await notifier.aclose()  # type: ignore[attr-defined]
    assert result.ok, result.reason
    (got,) = sink.received
    assert got.body == (RECORDED / f"{name}.json").read_bytes()
    headers = {k.lower(): v for k, v in got.headers}
    recorded = json.loads((RECORDED / f"{name}.headers.json").read_text())
    assert headers["content-type"] == recorded["content-type"]
    assert got.request_line == "POST /webhookb2/secret-part HTTP/1.1"
    # the recording itself: firing red, resolved green (the colours Alertmanager 0.27 chose)
    colour = json.loads(got.body)["themeColor"]
    assert colour == ("8C1A1A" if name == "00_firing" else "2DC72D")


async def test_webhook_url_file_is_read_at_send(tmp_path: Path) -> None:
    url_file = tmp_path / "teams-url"
    with http_receiver() as sink:
        url_file.write_text(f"http://127.0.0.1:{sink.port}/webhookb2/from-file\n")
        notifier = build_notifier(MsteamsConfig(webhook_url_file=url_file))
        try:
            first = await notifier.notify(_notification("00_firing"))
            url_file.unlink()
            second = await notifier.notify(_notification("00_firing"))
        finally:
            await notifier.aclose()  # type: ignore[attr-defined]
    assert first.ok and sink.received[0].request_line == "POST /webhookb2/from-file HTTP/1.1"
    assert not second.ok and second.retry and second.reason.startswith("credentials: cannot read")
    assert "from-file" not in second.reason
