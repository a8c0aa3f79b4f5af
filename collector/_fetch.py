"""One HTTP scrape: content negotiation like Prometheus, gzip, a hard deadline and a streamed size limit.

The deadline covers the whole exchange (connect, headers, every body byte), so a target trickling bytes
(slowloris) fails at ``timeout_s`` like one that never answers. The body is streamed and the scrape aborted as
soon as the *decompressed* size passes ``max_body_bytes``, so memory per scrape is bounded.
"""

from __future__ import annotations

import asyncio

import httpx

from collector.errors import (
    BodyTooLargeError,
    ScrapeConnectError,
    ScrapeParseError,
    ScrapeStatusError,
    ScrapeTimeoutError,
)

__all__ = ["ACCEPT_HEADER", "fetch"]

# Prometheus 2.42's scrape Accept header: OpenMetrics first, then the text format 0.0.4.
ACCEPT_HEADER = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


async def fetch(
    client: httpx.AsyncClient, url: str, *, timeout_s: float, max_body_bytes: int
) -> tuple[bytes, str | None]:
    """GET ``url``; the body (decompressed) and its Content-Type. Raises a ScrapeError subclass."""
    headers = {
        "Accept": ACCEPT_HEADER,
        "Accept-Encoding": "gzip",
        "X-Prometheus-Scrape-Timeout-Seconds": f"{timeout_s:g}",
    }
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream("GET", url, headers=headers, timeout=timeout_s) as resp:
                if resp.status_code != 200:
                    raise ScrapeStatusError(
                        f"server returned HTTP status {resp.status_code} {resp.reason_phrase}"
                    )
                length = resp.headers.get("content-length", "")
                if (
                    length.isdigit()
                    and "content-encoding" not in resp.headers
                    and int(length) > max_body_bytes
                ):
                    raise BodyTooLargeError(
                        f"body size limit exceeded: Content-Length {length} > max_body_bytes {max_body_bytes}"
                    )
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > max_body_bytes:
                        raise BodyTooLargeError(
                            f"body size limit exceeded: more than max_body_bytes {max_body_bytes} bytes"
                        )
                    chunks.append(chunk)
                return b"".join(chunks), resp.headers.get("content-type")
    except TimeoutError as exc:
        raise ScrapeTimeoutError(f"scrape timed out after {timeout_s:g}s") from exc
    except httpx.TimeoutException as exc:
        raise ScrapeTimeoutError(f"scrape timed out after {timeout_s:g}s ({type(exc).__name__})") from exc
    except httpx.DecodingError as exc:
        raise ScrapeParseError(f"cannot decode the response body: {exc}") from exc
    except httpx.HTTPError as exc:
        raise ScrapeConnectError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc
