"""``/apps/{app}/events.json`` over any window runs only small range queries (a real engine over a
MemoryStore): a three-year window no longer asks for a 1 s-step query over a 100-million-second step."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from dashboard import RangeSeries, Sources, dashboard_router
from metrics_store.memory import MemoryStore
from metrics_store.model import labels_from
from paramedic.dashboard import PromqlMetricsReader

FIRED_S = 1_700_000_007  # the first firing ALERTS sample (an evaluation every 10 s)


class _RecordingMetrics(PromqlMetricsReader):
    """PromqlMetricsReader that records the points asked of every range query."""

    def __init__(self, store: MemoryStore, now_s: float) -> None:
        super().__init__(store, clock=lambda: now_s)
        self.points: list[float] = []

    def range(self, expr: str, start_s: float, end_s: float, step_s: float) -> list[RangeSeries]:
        self.points.append((end_s - start_s) / step_s)
        return super().range(expr, start_s, end_s, step_s)


def _client() -> tuple[TestClient, _RecordingMetrics]:
    store = MemoryStore()
    labels = {"__name__": "ALERTS", "alertname": "Down", "app": "shop", "alertstate": "firing"}
    ref = store.series_ref(labels_from(labels))
    times = [(FIRED_S + 10 * i) * 1000 for i in range(1080)]  # firing for three hours
    store.append([ref] * len(times), times, [1.0] * len(times))
    metrics = _RecordingMetrics(store, FIRED_S + 3 * 3600)
    app = FastAPI()
    app.include_router(dashboard_router(Sources(metrics=metrics)))
    return TestClient(app), metrics


def test_a_three_year_window_runs_only_small_queries() -> None:
    client, metrics = _client()
    resp = client.get("/apps/shop/events.json", params={"start": "0", "end": "1e11"})
    assert resp.status_code == 200
    assert resp.json() == {"events": []}  # three hours fall between two points 1e8 s apart
    assert metrics.points and max(metrics.points) <= 1000


def test_past_1000_hours_markers_stay_on_the_coarse_grid() -> None:
    client, metrics = _client()
    end = FIRED_S + 3 * 3600
    events = client.get("/apps/shop/events.json", params={"start": end - 1100 * 3600, "end": end}).json()
    step = 1100 * 3.6
    [marker] = events["events"]
    assert marker["kind"] == "alert" and FIRED_S < marker["t"] <= FIRED_S + step  # not refined
    assert max(metrics.points) <= 1000


def test_a_dashboard_window_still_gets_the_exact_firing_time() -> None:
    client, metrics = _client()
    params = {"start": str(FIRED_S - 7 * 86400), "end": str(FIRED_S + 3 * 3600)}  # the 7d range of the page
    events = client.get("/apps/shop/events.json", params=params).json()["events"]
    assert [(e["kind"], e["t"]) for e in events] == [("alert", FIRED_S)]
    assert max(metrics.points) <= 3600


def test_absurd_windows_answer_without_events() -> None:
    client, _ = _client()
    for start, end in (("-1e300", "1e300"), ("0", "inf"), ("5", "1")):
        resp = client.get("/apps/shop/events.json", params={"start": start, "end": end})
        assert resp.status_code == 200 and resp.json() == {"events": []}
