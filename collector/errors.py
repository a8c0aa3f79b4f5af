"""Errors of the collector package.

::

    CollectorError                 base of everything raised here
    ├── RelabelError               a relabel rule cannot be compiled
    ├── TargetError                a target cannot become a scrape URL (no __address__, ...)
    ├── DiscoveryError             a discovery source failed (file unreadable/invalid, platform API error)
    └── ScrapeError                one scrape failed; ``reason`` is the metric label (errors_total{reason})
        ├── ScrapeTimeoutError          the whole scrape exceeded timeout_s
        ├── ScrapeConnectError     connect refused/reset, protocol error (aiohttp error chained)
        ├── ScrapeTLSError         TLS handshake failed (certificate not trusted, client certificate needed)
        ├── ScrapeAuthError        no OAuth2 token (token_url unreachable or refused the client)
        ├── ScrapeConfigError      a file of the job's http config is unreadable (CA, cert, secret file)
        ├── ScrapeStatusError       the target answered with a status other than 200
        ├── BodyTooLargeError           the (decompressed) body exceeded max_body_bytes
        ├── ScrapeParseError       the body is not valid exposition format (parser error chained)
        └── ScrapeLimitError    sample_limit / label_* limits (the scrape fails as a whole)
"""

from __future__ import annotations

__all__ = [
    "BodyTooLargeError",
    "CollectorError",
    "DiscoveryError",
    "RelabelError",
    "ScrapeAuthError",
    "ScrapeConfigError",
    "ScrapeConnectError",
    "ScrapeError",
    "ScrapeLimitError",
    "ScrapeParseError",
    "ScrapeStatusError",
    "ScrapeTLSError",
    "ScrapeTimeoutError",
    "TargetError",
]


class CollectorError(Exception):
    """Base of every collector error."""


class RelabelError(CollectorError):
    """A relabel rule is invalid."""


class TargetError(CollectorError):
    """A target's labels cannot produce a scrape URL."""


class DiscoveryError(CollectorError):
    """A discovery source failed; the message names the file/entry or the platform."""


class ScrapeError(CollectorError):
    """One scrape failed. ``reason`` is a short, bounded label value for metrics."""

    reason = "error"


class ScrapeTimeoutError(ScrapeError):
    reason = "timeout"


class ScrapeConnectError(ScrapeError):
    reason = "connection"


class ScrapeTLSError(ScrapeError):
    reason = "tls"


class ScrapeAuthError(ScrapeError):
    reason = "oauth2"


class ScrapeConfigError(ScrapeError):
    reason = "http_config"


class ScrapeStatusError(ScrapeError):
    reason = "http_status"


class BodyTooLargeError(ScrapeError):
    reason = "body_too_large"


class ScrapeParseError(ScrapeError):
    reason = "parse"


class ScrapeLimitError(ScrapeError):
    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
