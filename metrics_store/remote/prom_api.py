"""A read-only :class:`~metrics_store.base.Querier` over a Prometheus-compatible HTTP query API.

Raw samples come from an instant query of a range selector (``{matchers}[<range>]`` at ``time=end``), which
Prometheus, Paramedic and VictoriaMetrics all answer with the stored samples, not evaluated steps. Used where
the store itself cannot be opened (``paramedic policy backtest --url`` against a running server, whose
embedded store is locked by that server), and to replay a real Prometheus' history. Staleness markers are not
returned by that API, so series end at their last sample instead (the 5-minute lookback then applies).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from metrics_store.base import StoreError
from metrics_store.model import Labels, Matcher, SeriesData, labels_from
from metrics_store.redact import redact_url

__all__ = ["PrometheusAPIQuerier", "WindowCachingQuerier"]


def _selector(matchers: Sequence[Matcher]) -> str:
    return "{" + ",".join(str(m) for m in matchers) + "}"


class PrometheusAPIQuerier:
    """``url`` is the server's base URL (``http://127.0.0.1:9300``); ``token`` a bearer token if needed."""

    def __init__(self, url: str, *, token: str | None = None, timeout_s: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self._safe_url = redact_url(self.url)  # for error messages: no userinfo password
        self._client = httpx.Client(base_url=self.url, headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._client.close()

    def _get(self, path: str, params: tuple[tuple[str, str], ...]) -> Any:
        try:
            resp = self._client.get(path, params=params)
        except httpx.HTTPError as exc:
            raise StoreError(f"GET {self._safe_url}{path}: {exc}") from exc
        try:
            body = resp.json()
        except ValueError as exc:
            raise StoreError(f"GET {self._safe_url}{path}: HTTP {resp.status_code}, not JSON") from exc
        if resp.status_code != 200 or body.get("status") != "success":
            raise StoreError(
                f"GET {self._safe_url}{path}: HTTP {resp.status_code}: {body.get('error', body)}"
            )
        return body["data"]

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        span_ms = max(1, end_ms - start_ms + 1)
        data = self._get(
            "/api/v1/query",
            (("query", f"{_selector(matchers)}[{span_ms}ms]"), ("time", f"{end_ms / 1000:.3f}")),
        )
        out = []
        for series in data.get("result", []):
            values = series.get("values", [])
            if not values:
                continue
            ts = np.array([round(float(t) * 1000) for t, _ in values], dtype=np.int64)
            vs = np.array([float(v) for _, v in values], dtype=np.float64)
            keep = ts >= start_ms
            out.append(SeriesData(labels_from(series["metric"]), ts[keep], vs[keep]))
        return [s for s in out if len(s.timestamps_ms)]

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        data = self._get(
            "/api/v1/series",
            (
                ("match[]", _selector(matchers)),
                ("start", f"{start_ms / 1000:.3f}"),
                ("end", f"{end_ms / 1000:.3f}"),
            ),
        )
        return sorted(labels_from(m) for m in data)


class WindowCachingQuerier:
    """Fetch each distinct selector once for the whole ``[start_ms, end_ms]`` window, then answer every
    ``select`` inside it from memory — for replays that evaluate the same rules at thousands of steps over a
    slow (HTTP) querier. Selects reaching outside the window go to ``inner``."""

    def __init__(self, inner: PrometheusAPIQuerier, start_ms: int, end_ms: int) -> None:
        self._inner = inner
        self._start, self._end = start_ms, end_ms
        self._cache: dict[tuple[Matcher, ...], list[SeriesData]] = {}
        self.fetches = 0

    def select(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[SeriesData]:
        if start_ms < self._start or end_ms > self._end:
            return self._inner.select(matchers, start_ms, end_ms)
        key = tuple(matchers)
        whole = self._cache.get(key)
        if whole is None:
            whole = self._cache[key] = self._inner.select(matchers, self._start, self._end)
            self.fetches += 1
        out = []
        for s in whole:
            lo, hi = np.searchsorted(s.timestamps_ms, [start_ms, end_ms + 1])
            if hi > lo:
                out.append(SeriesData(s.labels, s.timestamps_ms[lo:hi], s.values[lo:hi]))
        return out

    def series(self, matchers: Sequence[Matcher], start_ms: int, end_ms: int) -> list[Labels]:
        return sorted({s.labels for s in self.select(matchers, start_ms, end_ms)})
