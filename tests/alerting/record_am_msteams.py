"""Record what a real Alertmanager 0.27 (``scripts/build_alertmanager.sh``) POSTs to a Microsoft Teams
webhook, into ``tests/fixtures/alertmanager/recorded_v0.27.0_msteams/`` (0.25 has no ``msteams_configs``).

    .venv/bin/python -m tests.alerting.record_am_msteams "$(scripts/build_alertmanager.sh)"

``test_notify_msteams.py`` replays the same alerts through Paramedic's notifier and compares the bytes.
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from tests.alerting._receiver_sink import recording_sink
from tests.conftest import FIXTURES
from tests.support.servers import free_port, running, wait_until

OUT = FIXTURES / "alertmanager" / "recorded_v0.27.0_msteams"
EXTERNAL = "http://127.0.0.1:19093"
CONFIG = """route:
  receiver: teams
  group_by: [alertname, app]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: teams
    msteams_configs:
      - webhook_url: http://127.0.0.1:SINK/webhookb2/secret-part
"""


def alerts(starts: datetime, ends: datetime | None) -> list[dict[str, Any]]:
    """The recorded input (also read back by the test)."""
    out = []
    for i, summary in enumerate(["instance 0 crashed <oom>", "instance 1 crashed & restarted"]):
        alert: dict[str, Any] = {
            "labels": {
                "alertname": "AppInstanceCrashed",
                "app": "catalog",
                "org": "acme",
                "space": "prod",
                "instance_index": str(i),
            },
            "annotations": {"summary": summary, "runbook": "https://runbooks.example/crash?x=1+2"},
            "startsAt": starts.isoformat(),
            "generatorURL": "http://prom.example:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
        }
        if ends is not None:
            alert["endsAt"] = ends.isoformat()
        out.append(alert)
    return out


def main(binary: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    with recording_sink() as sink:
        config = CONFIG.replace("SINK", str(sink.port))
        (tmp / "am.yml").write_text(config)
        (OUT / "alertmanager.yml").write_text(CONFIG)
        port = free_port()
        argv = [
            binary,
            f"--config.file={tmp / 'am.yml'}",
            f"--storage.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={EXTERNAL}",
            "--cluster.listen-address=",
        ]
        with running("alertmanager", argv, tmp / "am.log", f"http://127.0.0.1:{port}/-/ready"):
            starts = (datetime.now(UTC) - timedelta(minutes=3)).replace(microsecond=0)
            for n, ends in enumerate([None, datetime.now(UTC).replace(microsecond=0)]):
                posted = alerts(starts, ends)
                httpx.post(f"http://127.0.0.1:{port}/api/v2/alerts", json=posted).raise_for_status()
                wait_until(lambda n=n: len(sink.snapshot()) > n, 30, "the Teams request")
                req = sink.snapshot()[n]
                name = f"{n:02d}_{'firing' if ends is None else 'resolved'}"
                (OUT / f"{name}.alerts.json").write_text(json.dumps(posted, indent=1) + "\n")
                (OUT / f"{name}.json").write_bytes(req.body)
                headers = {k: v for k, v in req.headers.items() if k in {"content-type", "user-agent"}}
                (OUT / f"{name}.headers.json").write_text(json.dumps(headers, indent=1) + "\n")
                print(f"recorded {name}: {req.method} {req.path}")


if __name__ == "__main__":
    main(sys.argv[1])
