"""Whether the session cookie is ``Secure`` (``server.auth.secure_cookies``).

``always`` and ``never`` mean what they say. ``auto`` marks it Secure when the request reached us over https,
or when the peer is a trusted proxy (``server.trusted_proxies``, loopback by default) whose
``X-Forwarded-Proto`` says https: the usual TLS-terminating reverse proxy. Headers from other peers are
ignored (anyone can send them).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from ipaddress import IPv4Network, IPv6Network
from typing import Literal

from starlette.requests import Request

__all__ = ["LOOPBACK_PROXIES", "secure_cookie_rule"]

LOOPBACK_PROXIES = (IPv4Network("127.0.0.1/32"), IPv6Network("::1/128"))


def secure_cookie_rule(
    mode: Literal["auto", "always", "never"], trusted_proxies: Sequence[IPv4Network | IPv6Network]
) -> Callable[[Request], bool]:
    """A function telling, for a request, whether cookies set in its response are Secure."""

    def secure(request: Request) -> bool:
        if mode != "auto":
            return mode == "always"
        if request.url.scheme in {"https", "wss"}:
            return True
        proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if proto != "https" or request.client is None:
            return False
        try:
            peer = ipaddress.ip_address(request.client.host)
        except ValueError:
            return False
        return any(peer in net for net in trusted_proxies)

    return secure
