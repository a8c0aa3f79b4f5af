"""Errors of the push receivers: every refusal carries the HTTP status it is answered with and a short reason
(the ``reason`` label of ``paramedic_scrape_errors_total`` and ``paramedic_push_requests_total``).

    PushRefusedError    a request is refused as a whole; nothing of it is stored (status 400 bad body,
                        403 tenancy, 404 disabled, 413 limits, 415 content type/encoding, 503 not running)
"""

from __future__ import annotations

__all__ = ["PushRefusedError"]


class PushRefusedError(Exception):
    """The request is refused with ``status``; ``reason`` is a short metric label, ``str(self)`` the
    message."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
