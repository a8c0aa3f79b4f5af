"""``paramedic_http_refusals_total{reason}``: requests the HTTP guards refused before any route ran.

Reasons: ``body_too_large`` (413, :mod:`paramedic.auth._body_limit`), ``untrusted_host`` (400,
:mod:`paramedic.auth._hosts`), ``login_throttled`` (429) and ``login_busy`` (503, both
:mod:`paramedic.auth._throttle`). Authorisation refusals (401/403) are counted apart, in
``paramedic_auth_decisions_total``.
"""

from __future__ import annotations

import json

import prometheus_client
from prometheus_client import CollectorRegistry, Counter
from starlette.types import Send

__all__ = ["REFUSAL_REASONS", "refusals_counter", "send_refusal"]

REFUSAL_REASONS = ("body_too_large", "untrusted_host", "login_throttled", "login_busy")


def refusals_counter(registry: CollectorRegistry = prometheus_client.REGISTRY) -> Counter:
    """The counter, every reason pre-created at 0."""
    counter = Counter(
        "paramedic_http_refusals",
        "HTTP requests refused by the server's guards (body size, Host header, log-in throttling).",
        ["reason"],
        registry=registry,
    )
    for reason in REFUSAL_REASONS:
        counter.labels(reason)
    return counter


async def send_refusal(send: Send, status: int, error: str, headers: dict[str, str] | None = None) -> None:
    """A JSON error body shaped like the query API's (``status``, ``errorType``, ``error``)."""
    kind = {400: "bad_data", 413: "too_large", 429: "throttled", 503: "unavailable"}.get(status, "error")
    data = json.dumps({"status": "error", "errorType": kind, "error": error}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})
