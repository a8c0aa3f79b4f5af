"""Security headers of every dashboard response.

The pages run no inline script and carry no inline style (CSP without ``'unsafe-inline'``): data reaches the
scripts through ``data-*`` attributes and JSON fetched from the server's APIs, and scripts write text with
``textContent``. :class:`SecureRoute` is the router's route class, so the headers follow the routes wherever
the wiring mounts them; :func:`security_headers` is the same set for other responses.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

__all__ = ["CONTENT_SECURITY_POLICY", "SecureRoute", "security_headers"]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def security_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


class SecureRoute(APIRoute):
    """An APIRoute whose responses carry :func:`security_headers` (errors raised as HTTPException are
    answered by the app's handlers and carry none; the dashboard returns its own error pages instead)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def secured(request: Request) -> Response:
            response = await handler(request)
            for name, value in security_headers().items():
                response.headers.setdefault(name, value)
            return response

        return secured
