"""GET shapes of Paramedic's Alertmanager API beside a real Alertmanager 0.25 receiving the same requests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.alerting._am_live import paramedic_am, webhook_sink
from tests.conftest import FIXTURES
from tests.support.servers import free_port, require_binary, running

RECORDED = FIXTURES / "alertmanager" / "recorded_v0.25.0"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("parity")
    with webhook_sink() as sink:
        config = (RECORDED / "alertmanager.yml").read_text().replace("19876", str(sink.port))
        (tmp / "am.yml").write_text(config)
        port = free_port()
        argv = [
            require_binary("prometheus-alertmanager"),
            f"--config.file={tmp / 'am.yml'}",
            f"--storage.path={tmp / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ]
        with (
            running("alertmanager", argv, tmp / "am.log", f"http://127.0.0.1:{port}/-/ready"),
            paramedic_am(config, tmp / "paramedic") as ours,
        ):
            yield f"http://127.0.0.1:{port}", ours


def _shape(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _shape(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_shape(x) for x in v[:1]]
    return type(v).__name__


def _groups(gs: list[dict[str, Any]]) -> list[tuple[str, list[tuple[str, str]], int]]:
    return sorted((g["receiver"]["name"], sorted(g["labels"].items()), len(g["alerts"])) for g in gs)


def test_alerts_silences_status_shapes_match(both: tuple[str, str]) -> None:
    real, ours = both
    end = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = [
        {"labels": {"alertname": "Parity", "space": "p", "severity": "critical"}, "annotations": {"a": "b"}},
        {"labels": {"alertname": "Gorouter5xxRateHigh", "space": "p"}, "endsAt": end},
    ]
    silence = {
        "matchers": [{"name": "alertname", "value": "Parity", "isRegex": False, "isEqual": True}],
        "startsAt": datetime.now(UTC).isoformat(),
        "endsAt": end,
        "createdBy": "t",
        "comment": "c",
    }
    got: dict[str, dict[str, Any]] = {}
    for name, url in (("real", real), ("ours", ours)):
        assert httpx.post(f"{url}/api/v2/alerts", json=body).status_code == 200
        sid = httpx.post(f"{url}/api/v2/silences", json=silence).json()["silenceID"]
        got[name] = {
            "alerts": sorted(httpx.get(f"{url}/api/v2/alerts").json(), key=lambda a: a["fingerprint"]),
            "silence": httpx.get(f"{url}/api/v2/silence/{sid}").json(),
            "silences": httpx.get(f"{url}/api/v2/silences").json(),
            "status": httpx.get(f"{url}/api/v2/status").json(),
            "receivers": httpx.get(f"{url}/api/v2/receivers").json(),
            "groups": httpx.get(f"{url}/api/v2/alerts/groups").json(),
            "bad": httpx.post(f"{url}/api/v2/alerts", json=[{"labels": {}}]).status_code,
        }
    r, o = got["real"], got["ours"]
    assert _shape(o["alerts"]) == _shape(r["alerts"])
    for a, b in zip(r["alerts"], o["alerts"], strict=True):
        for k in ("fingerprint", "labels", "annotations", "receivers", "generatorURL"):
            assert a.get(k) == b.get(k), k
        assert a["status"]["state"] == b["status"]["state"]
        assert len(a["status"]["silencedBy"]) == len(b["status"]["silencedBy"])
        assert len(a["endsAt"]) == len(b["endsAt"])  # same time format
    assert _shape(o["silence"]) == _shape(r["silence"])
    assert {k: v for k, v in o["silence"].items() if k not in ("id", "startsAt", "endsAt", "updatedAt")} == {
        k: v for k, v in r["silence"].items() if k not in ("id", "startsAt", "endsAt", "updatedAt")
    }
    assert _shape(o["silences"]) == _shape(r["silences"])
    assert set(o["status"]) == set(r["status"]) and set(o["status"]["versionInfo"]) == set(
        r["status"]["versionInfo"]
    )
    assert o["status"]["cluster"]["status"] == r["status"]["cluster"]["status"]
    assert sorted(x["name"] for x in o["receivers"]) == sorted(x["name"] for x in r["receivers"])
    assert _groups(o["groups"]) == _groups(r["groups"])
    assert o["bad"] == r["bad"] == 400
