"""HTTP plumbing shared by the adapter: UAA client-credentials tokens and CC API v3 calls.

* :class:`UAATokens` fetches ``POST {uaa}/oauth/token`` (``grant_type=client_credentials``, HTTP basic auth
  ``client_id:client_secret``) and caches the token until ``refresh_margin_s`` before ``expires_in``.
* :class:`CCClient` sends every CC call with the bearer token. A 401 fetches a fresh token and repeats the
  call once (any method: CC did not act on it). A 429 is waited out (``Retry-After``: seconds or an HTTP
  date, else ``X-RateLimit-Reset``, capped at ``max_retry_after_s``) and repeated up to
  ``rate_limit_retries`` times, for any method (CC did not act on it either). Idempotent calls are retried
  with exponential backoff on 5xx, timeouts and connection errors; connection errors (request never sent)
  are retried for every call; any other 4xx is final. Every attempt first takes a token of the shared
  :class:`~platforms.cloudfoundry._budget.RequestBudget` (when one is given), and ``X-RateLimit-Remaining``
  answers lower its pace. Failures become :mod:`platforms.cloudfoundry.errors` naming the call, the status and
  CF's error title/detail. ``list`` follows ``pagination.next.href``.

Both are safe to use from many threads (one ``httpx.Client``, a lock around the token).
"""

from __future__ import annotations

import builtins
import threading
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from platforms.cloudfoundry._budget import RequestBudget, current_priority
from platforms.cloudfoundry._metrics import CFMetrics
from platforms.cloudfoundry.errors import CFApiError, CFAuthError, CFRateLimitedError, CFUnavailableError

__all__ = ["CCClient", "Json", "UAATokens", "api_error"]

Json = dict[str, Any]


def _cf_error(resp: httpx.Response) -> tuple[str, str]:
    """(title, detail) from a CC v3 error body ``{"errors": [...]}`` or a UAA ``{"error", ...}`` body."""
    try:
        body = resp.json()
    except ValueError:
        return "", resp.text[:200].strip()
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            return str(first.get("title", "")), str(first.get("detail", ""))
        if "error" in body:
            return str(body.get("error", "")), str(body.get("error_description", ""))
    return "", ""


def _error_class(status: int) -> type[CFApiError]:
    if status == 401:
        return CFAuthError
    if status == 429:
        return CFRateLimitedError
    return CFApiError


def _reset_in(resp: httpx.Response, now_wall: float) -> float | None:
    """Seconds until ``X-RateLimit-Reset`` (unix seconds), None without a usable header."""
    try:
        return float(resp.headers["X-RateLimit-Reset"]) - now_wall
    except (KeyError, ValueError):
        return None


def _json(call: str, resp: httpx.Response) -> Json:
    if not resp.content:
        return {}
    try:
        parsed = resp.json()
    except ValueError as exc:
        raise CFApiError(
            call, f"HTTP {resp.status_code} with a non-JSON body", status=resp.status_code
        ) from exc
    return parsed if isinstance(parsed, dict) else {"value": parsed}


def api_error(call: str, resp: httpx.Response, cls: type[CFApiError] = CFApiError) -> CFApiError:
    title, detail = _cf_error(resp)
    what = ": ".join(p for p in (title, detail) if p) or resp.reason_phrase
    return cls(call, f"HTTP {resp.status_code} {what}", status=resp.status_code, title=title, detail=detail)


class UAATokens:
    """A cached UAA client-credentials token (thread-safe)."""

    def __init__(
        self,
        http: httpx.Client,
        uaa_url: str,
        client_id: str,
        client_secret: str,
        metrics: CFMetrics,
        *,
        refresh_margin_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._url = uaa_url.rstrip("/") + "/oauth/token"
        self._auth = (client_id, client_secret)
        self._metrics = metrics
        self._margin = refresh_margin_s
        self._clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._refresh_at = 0.0

    def token(self) -> str:
        """The cached token, or a fresh one when none is cached or it is about to expire."""
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                return self._fetch()
            return self._token

    def refresh(self, stale: str) -> str:
        """A fresh token after the API refused ``stale`` (another thread may have refreshed already)."""
        with self._lock:
            if self._token is None or self._token == stale:
                return self._fetch()
            return self._token

    def _fetch(self) -> str:
        call = "POST /oauth/token"
        started = time.perf_counter()
        try:
            resp = self._http.post(
                self._url,
                data={"grant_type": "client_credentials"},
                auth=self._auth,
                headers={"Accept": "application/json"},
            )
        except httpx.TransportError as exc:
            reason = "timeout" if isinstance(exc, httpx.TimeoutException) else "connect_error"
            self._metrics.uaa.attempt(call, time.perf_counter() - started, ok=False)
            self._metrics.uaa.failed(reason)
            raise CFUnavailableError(call, f"UAA unreachable: {type(exc).__name__}: {exc}") from exc
        self._metrics.uaa.attempt(call, time.perf_counter() - started, ok=resp.status_code == 200)
        if resp.status_code != 200:
            self._metrics.uaa.failed(str(resp.status_code))
            raise api_error(call, resp, CFAuthError)
        try:
            body = resp.json()
            token = str(body["access_token"])
            expires_in = float(body.get("expires_in", 0))
        except (ValueError, KeyError, TypeError) as exc:
            raise CFAuthError(call, f"UAA answered without access_token: {exc}", status=200) from exc
        self._metrics.token_refreshes.inc()
        self._token = token
        self._refresh_at = self._clock() + max(0.0, expires_in - min(self._margin, expires_in / 2))
        return token


class CCClient:
    """Calls to the Cloud Controller v3 API (see module docstring for the retry and rate-limit policy)."""

    def __init__(  # noqa: PLR0913 - every knob is injected for tests; the adapter passes them by name
        self,
        http: httpx.Client,
        api_url: str,
        tokens: UAATokens,
        metrics: CFMetrics,
        *,
        retries: int = 3,
        backoff_s: float = 0.2,
        max_backoff_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        budget: RequestBudget | None = None,
        rate_limit_retries: int = 3,
        max_retry_after_s: float = 120.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        self._base = api_url.rstrip("/")
        self._tokens = tokens
        self._metrics = metrics
        self._retries = retries
        self._backoff = backoff_s
        self._max_backoff = max_backoff_s
        self._sleep = sleep
        self._budget = budget
        self._rl_retries = rate_limit_retries
        self._max_retry_after = max_retry_after_s
        self._clock = clock
        self._wall = wall_clock
        self._counts: dict[str, int] = {}
        self._count_lock = threading.Lock()

    def sent(self, priority: str) -> int:
        """How many CC attempts calls of ``priority`` (``discovery``/``remediation``) have made so far."""
        with self._count_lock:
            return self._counts.get(priority, 0)

    def request(
        self,
        method: str,
        path: str,
        endpoint: str,
        *,
        idempotent: bool,
        params: Mapping[str, str] | None = None,
        body: Json | None = None,
    ) -> Json:
        """Send one call; ``endpoint`` is the path template used in metrics and errors (``/v3/apps/:guid``).
        Returns the JSON body (``{}`` for an empty 2xx body)."""
        return _json(
            f"{method} {endpoint}",
            self.send(method, path, endpoint, idempotent=idempotent, params=params, body=body),
        )

    def send(
        self,
        method: str,
        path: str,
        endpoint: str,
        *,
        idempotent: bool,
        params: Mapping[str, str] | None = None,
        body: Json | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        """Send one call with the retry and rate-limit policy; returns the 2xx response (raises otherwise)."""
        call = f"{method} {endpoint}"
        attempt = limited = 0
        reauthed = False
        token = self._tokens.token()
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        while True:
            if self._budget is not None:
                self._budget.acquire()
            with self._count_lock:
                prio = current_priority()
                self._counts[prio] = self._counts.get(prio, 0) + 1
            started = time.perf_counter()
            try:
                resp = self._http.request(
                    method,
                    self._base + path,
                    params=params,
                    json=body,
                    content=content,
                    headers={**headers, "Authorization": f"bearer {token}"},
                )
            except httpx.TransportError as exc:
                self._metrics.cc.attempt(call, time.perf_counter() - started, ok=False)
                never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if (idempotent or never_sent) and attempt < self._retries:
                    attempt = self._backoff_sleep(call, attempt)
                    continue
                raise self._unavailable(call, attempt, exc) from exc
            status = resp.status_code
            self._metrics.cc.attempt(call, time.perf_counter() - started, ok=status < 400)
            self._observe_rate_limit(resp)
            if status == 401 and not reauthed:
                reauthed = True
                token = self._tokens.refresh(token)
                continue
            if status == 429 and limited < self._rl_retries:
                limited += 1
                self._wait_retry_after(resp)
                continue
            if status >= 500 and idempotent and attempt < self._retries:
                attempt = self._backoff_sleep(call, attempt)
                continue
            if status >= 400:
                self._metrics.cc.failed(str(status))
                if status == 429:
                    self._metrics.rate_limited.inc()
                raise api_error(call, resp, _error_class(status))
            return resp

    def _unavailable(self, call: str, attempt: int, exc: httpx.TransportError) -> CFUnavailableError:
        reason = "timeout" if isinstance(exc, httpx.TimeoutException) else "connect_error"
        self._metrics.cc.failed(reason)
        tries = f" after {attempt + 1} attempts" if attempt else ""
        return CFUnavailableError(call, f"{reason}{tries}: {type(exc).__name__}: {exc}")

    def _retry_after_s(self, resp: httpx.Response) -> float:
        """Seconds from Retry-After (delta-seconds or HTTP date), else the rate-limit reset, else 1."""
        raw = resp.headers.get("Retry-After", "").strip()
        wait: float | None = None
        if raw:
            try:
                wait = float(raw)
            except ValueError:
                try:
                    wait = parsedate_to_datetime(raw).timestamp() - self._wall()
                except (TypeError, ValueError):
                    wait = None
        if wait is None:
            wait = _reset_in(resp, self._wall())
        return min(self._max_retry_after, max(0.0, 1.0 if wait is None else wait))

    def _wait_retry_after(self, resp: httpx.Response) -> None:
        self._metrics.rate_limited.inc()
        wait = self._retry_after_s(resp)
        if self._budget is not None:
            self._budget.pause_until(self._clock() + wait)  # every caller waits; acquire() sleeps it
        else:
            self._metrics.throttled_waits.labels("remediation").inc()
            self._metrics.throttled_seconds.labels("remediation").inc(wait)
            self._sleep(wait)

    def _observe_rate_limit(self, resp: httpx.Response) -> None:
        raw = resp.headers.get("X-RateLimit-Remaining")
        if raw is None or self._budget is None:
            return
        try:
            remaining = int(raw)
        except ValueError:
            return
        reset = _reset_in(resp, self._wall())
        self._budget.observe_remaining(
            remaining, None if reset is None else min(reset, self._max_retry_after)
        )

    def _backoff_sleep(self, call: str, attempt: int) -> int:
        self._metrics.cc.retried(call)
        self._sleep(min(self._max_backoff, self._backoff * 2**attempt))
        return attempt + 1

    def get(self, path: str, endpoint: str, params: Mapping[str, str] | None = None) -> Json:
        return self.request("GET", path, endpoint, idempotent=True, params=params)

    def list(self, path: str, endpoint: str, params: Mapping[str, str] | None = None) -> list[Json]:
        """Every resource of a paginated list, following ``pagination.next.href`` (its path and query are
        sent to the configured API URL, so a CC behind a proxy with another external name still works)."""
        return self.list_with_included(path, endpoint, params)[0]

    def list_with_included(
        self,
        path: str,
        endpoint: str,
        params: Mapping[str, str] | None = None,
        *,
        max_items: int | None = None,
    ) -> tuple[builtins.list[Json], dict[str, builtins.list[Json]]]:
        """:meth:`list`, plus the ``included`` resources of every page (``include=space.organization``):
        ``{"spaces": [...], "organizations": [...]}``. Stops after ``max_items`` resources."""
        out: builtins.list[Json] = []
        included: dict[str, builtins.list[Json]] = {}
        per_page = 5000 if max_items is None else max(1, min(5000, max_items))
        page = self.get(path, endpoint, {"per_page": str(per_page), **(params or {})})
        seen: set[str] = set()
        while True:
            out.extend(r for r in page.get("resources", []) if isinstance(r, dict))
            inc = page.get("included")
            for kind, items in inc.items() if isinstance(inc, dict) else ():
                if isinstance(items, list):
                    included.setdefault(str(kind), []).extend(i for i in items if isinstance(i, dict))
            if max_items is not None and len(out) >= max_items:
                return out[:max_items], included
            nxt = (page.get("pagination") or {}).get("next") or {}
            href = nxt.get("href") if isinstance(nxt, dict) else None
            if not href or href in seen:
                return out, included
            seen.add(href)
            parts = urlsplit(href)
            query = dict(parse_qsl(parts.query, keep_blank_values=True))
            page = self.get(parts.path, endpoint, query)
