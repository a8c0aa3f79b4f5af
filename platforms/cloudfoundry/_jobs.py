"""Asynchronous CC operations: a ``202 Accepted`` with ``Location: .../v3/jobs/:guid`` (apply_manifest,
app delete, ...) is polled with ``GET /v3/jobs/:guid`` until its ``state`` is ``COMPLETE`` (returned) or
``FAILED`` (:class:`~platforms.cloudfoundry.errors.CFJobFailedError` carrying the job's ``errors``); still
``PROCESSING``/``POLLING`` after ``timeout_s`` is a :class:`~platforms.cloudfoundry.errors.CFJobTimeoutError`.
Both name the operation's call and the job. Outcomes are counted in ``paramedic_cf_jobs_total{outcome}``."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from platforms.cloudfoundry._client import CCClient, Json
from platforms.cloudfoundry._metrics import CFMetrics
from platforms.cloudfoundry.errors import CFApiError, CFJobFailedError, CFJobTimeoutError

__all__ = ["JobWaiter"]


class JobWaiter:
    """Polls the jobs of 202 answers (clock and sleep injected)."""

    def __init__(
        self,
        cc: CCClient,
        metrics: CFMetrics,
        *,
        timeout_s: float,
        poll_s: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
    ) -> None:
        self._cc = cc
        self._metrics = metrics
        self._timeout = timeout_s
        self._poll = poll_s
        self._clock = clock
        self._sleep = sleep

    def wait(self, call: str, resp: httpx.Response) -> Json:
        """The finished job of ``resp`` (the answer to ``call``); a 2xx without a job Location is returned as
        ``{"state": "COMPLETE"}`` (the operation finished synchronously)."""
        location = resp.headers.get("Location", "")
        path = urlsplit(location).path
        if resp.status_code != 202 or "/v3/jobs/" not in path:
            return {"state": "COMPLETE", "operation": call}
        deadline = self._clock() + self._timeout
        while True:
            job = self._cc.get(path, "/v3/jobs/:guid")
            state = str(job.get("state", ""))
            if state == "COMPLETE":
                self._metrics.jobs.labels("complete").inc()
                return job
            if state == "FAILED":
                self._metrics.jobs.labels("failed").inc()
                errors = [e for e in job.get("errors") or [] if isinstance(e, dict)]
                what = (
                    "; ".join(f"{e.get('title', '')}: {e.get('detail', '')}" for e in errors) or "no detail"
                )
                raise CFJobFailedError(call, f"job {job.get('guid', path)} FAILED: {what}", errors=errors)
            if state not in {"PROCESSING", "POLLING"}:
                raise CFApiError(call, f"job {job.get('guid', path)} has unknown state {state!r}")
            if self._clock() >= deadline:
                self._metrics.jobs.labels("timeout").inc()
                raise CFJobTimeoutError(
                    call, f"job {job.get('guid', path)} still {state} after {self._timeout}s"
                )
            self._sleep(self._poll)
