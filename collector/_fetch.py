"""One HTTP scrape: content negotiation like Prometheus, gzip, a hard deadline and a streamed size limit.

The deadline covers the whole exchange (connect, headers, every body byte), so a target trickling bytes
(slowloris) fails at ``timeout_s`` like one that never answers. The body is streamed and the scrape aborted as
soon as the *decompressed* size passes ``max_body_bytes``, so memory per scrape is bounded.

The client is aiohttp (C HTTP parser): a scrape costs about a tenth of the CPU httpx + httpcore + anyio need
per request (see the commit "collector: aiohttp for scrapes"), and at 1 s intervals the per-request overhead
was most of the collector's CPU. aiohttp exceptions become ours here, with the cause chained.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError

from collector.errors import (
    BodyTooLargeError,
    ScrapeConnectError,
    ScrapeParseError,
    ScrapeStatusError,
    ScrapeTimeoutError,
    ScrapeTLSError,
)
from collector.http_client import ScrapeHTTP
from metrics_store.names import EscapingScheme

__all__ = ["ACCEPT_HEADER", "USER_AGENT", "accept_header", "fetch", "new_session", "scrape_headers"]

# Prometheus 2.42's scrape Accept header: OpenMetrics first, then the text format 0.0.4.
ACCEPT_HEADER = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
USER_AGENT = "Paramedic-Collector/0.1"


def accept_header(escaping: EscapingScheme | None) -> str:
    """The scrape Accept header: Prometheus 3's default protocols (OpenMetrics 1.0.0, 0.0.1, text 1.0.0,
    0.0.4), the newer versions asking the target to write names as ``escaping`` says
    (``scrape/scrape.go`` ``acceptHeader``); None: Prometheus 2.42's header (:data:`ACCEPT_HEADER`)."""
    if escaping is None:
        return ACCEPT_HEADER
    return (
        f"application/openmetrics-text;version=1.0.0;escaping={escaping};q=0.7,"
        "application/openmetrics-text;version=0.0.1;q=0.6,"
        f"text/plain;version=1.0.0;escaping={escaping};q=0.5,"
        "text/plain;version=0.0.4;q=0.4,*/*;q=0.3"
    )


def scrape_headers(timeout_s: float, escaping: EscapingScheme | None = None) -> dict[str, str]:
    """The request headers of a scrape with this timeout (built once per loop and timeout, not per scrape)."""
    return {
        "Accept": accept_header(escaping),
        "Accept-Encoding": "gzip",
        "X-Prometheus-Scrape-Timeout-Seconds": f"{timeout_s:g}",
    }


def new_session(connector: Callable[[], aiohttp.BaseConnector] | None = None) -> aiohttp.ClientSession:
    """One small session per target (call on the event loop): one keep-alive connection, no cookies, no
    proxy from the environment, no client-side timeouts (:func:`fetch` enforces the whole-exchange
    deadline). ``connector`` builds the connector (tests, other transports); default: TCP, 2 connections."""
    return aiohttp.ClientSession(
        connector=connector() if connector is not None else aiohttp.TCPConnector(limit=2),
        headers={"User-Agent": USER_AGENT},
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),
        trust_env=False,
    )


async def fetch(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    *,
    timeout_s: float,
    max_body_bytes: int,
    http: ScrapeHTTP | None = None,
) -> tuple[bytes, str | None]:
    """GET ``url``; the body (decompressed) and its Content-Type. Raises a ScrapeError subclass.
    ``http``: the job's TLS, credentials and proxy (an OAuth2 token fetch counts against the deadline)."""
    try:
        async with asyncio.timeout(timeout_s):
            if http is None:
                request = session.get(url, headers=headers)
            else:
                o = await http.options(headers, https=url.startswith("https:"))
                request = session.get(
                    url,
                    headers=o.headers,
                    ssl=o.ssl,
                    server_hostname=o.server_hostname,
                    proxy=o.proxy,
                    proxy_headers=o.proxy_headers,
                    allow_redirects=o.allow_redirects,
                )
            async with request as resp:
                if resp.status != 200:
                    if resp.status == 401 and http is not None:
                        http.unauthorized()
                    raise ScrapeStatusError(f"server returned HTTP status {resp.status} {resp.reason or ''}")
                rh = resp.headers
                length = rh.get("Content-Length", "")
                if length.isdigit() and "Content-Encoding" not in rh:
                    if int(length) > max_body_bytes:
                        raise BodyTooLargeError(
                            "body size limit exceeded: "
                            f"Content-Length {length} > max_body_bytes {max_body_bytes}"
                        )
                    body = await resp.read()  # the parser stops at Content-Length: bounded
                else:
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in resp.content.iter_any():  # decompressed
                        size += len(chunk)
                        if size > max_body_bytes:
                            raise BodyTooLargeError(
                                f"body size limit exceeded: more than max_body_bytes {max_body_bytes} bytes"
                            )
                        chunks.append(chunk)
                    body = b"".join(chunks)
                return body, rh.get("Content-Type")
    except TimeoutError as exc:  # aiohttp's own timeout errors are TimeoutError subclasses too
        raise ScrapeTimeoutError(f"scrape timed out after {timeout_s:g}s") from exc
    except aiohttp.ClientPayloadError as exc:
        if isinstance(exc.__cause__, ContentEncodingError):  # bad gzip
            raise ScrapeParseError(f"cannot decode the response body: {exc.__cause__.message}") from exc
        raise ScrapeConnectError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc
    except aiohttp.ClientSSLError as exc:  # handshake: untrusted or misnamed certificate, bad client cert
        raise ScrapeTLSError(f"TLS handshake failed: {_ssl_reason(exc)}") from exc
    except (aiohttp.ClientError, OSError) as exc:
        if _is_tls_alert(exc):
            raise ScrapeTLSError(f"TLS handshake failed: {_ssl_reason(exc)}") from exc
        raise ScrapeConnectError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    """The ssl module's error behind ``exc`` (aiohttp wraps it in various ways), if any."""
    todo: list[BaseException] = [exc]
    for _ in range(8):
        if not todo:
            return None
        seen = todo.pop(0)
        if isinstance(seen, ssl.SSLError) and hasattr(seen, "reason"):
            return seen
        for attr in ("certificate_error", "os_error"):
            inner = getattr(seen, attr, None)
            if isinstance(inner, BaseException) and inner is not seen:
                todo.append(inner)
        todo += [e for e in (seen.__cause__, seen.__context__) if e is not None]
    return None


def _is_tls_alert(exc: BaseException) -> bool:
    """A TLS alert after the handshake (TLS 1.3 servers refuse a missing client certificate that way)."""
    return _ssl_cause(exc) is not None


_TLS_HINTS = {  # first match wins
    "MISMATCH": "set tls_config.server_name to a name the target's certificate carries",
    "CERTIFICATE_REQUIRED": "the target requires a client certificate: set tls_config.cert_file/key_file",
    "CERTIFICATE_VERIFY_FAILED": "set tls_config.ca_file to the CA that signed the target's certificate",
    "UNKNOWN_CA": "the target does not trust the client certificate's CA",
    "BAD_CERTIFICATE": "the target refused the client certificate",
}


def _ssl_reason(exc: BaseException) -> str:
    """What went wrong, as the TLS library names it, with a hint for the usual cases."""
    cause = _ssl_cause(exc)
    if cause is None:
        text = str(exc)
    else:
        reason = getattr(cause, "reason", None) or str(cause)
        verify = getattr(cause, "verify_message", None)
        text = f"{reason}: {verify}" if verify else str(reason)
    for marker, hint in _TLS_HINTS.items():
        if marker in text.upper():
            return f"{text} ({hint})"
    return text
