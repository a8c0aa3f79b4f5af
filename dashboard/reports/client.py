"""Fetch a rendered report from a running Paramedic (``paramedic report render``): the server holds the
store (locked while it runs), the alert history, the audit trail and the pattern miner, and the token's
scope decides whose data the report holds, exactly as for the API."""

from __future__ import annotations

import httpx

from dashboard.reports.base import ReportError

__all__ = ["MAX_REPORT_BYTES", "fetch_report", "send_now"]

MAX_REPORT_BYTES = 64 * 1024 * 1024


def fetch_report(
    url: str,
    *,
    token: str | None,
    since: str,
    fmt: str = "html",
    tenant: str | None = None,
    timeout_s: float = 180.0,
    transport: httpx.BaseTransport | None = None,
) -> bytes:
    """The report's bytes (HTML or PDF); raises :class:`ReportError` with the server's answer."""
    params = {"since": since, "format": fmt, **({"tenant": tenant} if tenant else {})}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with (
            httpx.Client(timeout=timeout_s, transport=transport) as client,
            client.stream(
                "GET", url.rstrip("/") + "/api/v1/reports/render", params=params, headers=headers
            ) as resp,
        ):
            body = bytearray()
            for chunk in resp.iter_bytes():
                body += chunk
                if len(body) > MAX_REPORT_BYTES:
                    raise ReportError(f"{url}: the report is larger than {MAX_REPORT_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise ReportError(f"{url}: {type(exc).__name__}: {exc}") from exc
    if resp.status_code != 200:
        text = bytes(body[:300]).decode("utf-8", errors="replace")
        raise ReportError(f"{url}: HTTP {resp.status_code}: {text}")
    return bytes(body)


def send_now(url: str, *, token: str | None, schedule: str, timeout_s: float = 600.0) -> dict[str, object]:
    """Ask the server to mail ``schedule``'s reports now (an admin token); its answer's ``data``."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        resp = httpx.post(
            url.rstrip("/") + "/api/v1/reports/send",
            params={"schedule": schedule},
            headers=headers,
            timeout=timeout_s,
        )
    except httpx.HTTPError as exc:
        raise ReportError(f"{url}: {type(exc).__name__}: {exc}") from exc
    if resp.status_code != 200:
        raise ReportError(f"{url}: HTTP {resp.status_code}: {resp.text[:300]}")
    data = resp.json().get("data")
    if not isinstance(data, dict):
        raise ReportError(f"{url}: unexpected answer {resp.text[:300]}")
    return data
