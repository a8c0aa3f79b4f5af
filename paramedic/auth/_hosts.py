"""The ``Host`` header check (``server.trusted_hosts``): a defence against DNS rebinding.

A page on ``evil.example`` whose name the attacker re-points at 127.0.0.1 makes the victim's browser send
requests to Paramedic that are same-origin for the page, so the page can read the answers, but the browser
sends ``Host: evil.example``. Refusing hosts we do not serve (400) ends that. The default list is the loopback
names, the listen host, and any IP address literal: a Host that is an address came from no DNS name, so it
cannot be a rebinding. ``*.example.com`` matches subdomains, ``*`` anything (the check off). A request with
no Host header (HTTP/1.0) passes: browsers always send one. Refusals are counted in
``paramedic_http_refusals_total{reason="untrusted_host"}``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from paramedic.auth._refusals import send_refusal

__all__ = ["TrustedHostsMiddleware", "default_hosts", "host_name"]

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names, not a bind


def default_hosts(listen_host: str) -> list[str]:
    """The hosts served when ``server.trusted_hosts`` is not set (besides IP address literals)."""
    hosts = list(LOOPBACK_NAMES)
    if listen_host not in WILDCARD_ADDRESSES and listen_host.lower() not in hosts:
        hosts.append(listen_host.lower())
    return hosts


def host_name(header: str) -> str:
    """The name of a Host header value: lower case, without the port, brackets or a trailing dot."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    name, sep, port = value.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        value = name
    return value.rstrip(".")


class TrustedHostsMiddleware:
    def __init__(
        self, app: ASGIApp, *, hosts: Iterable[str], allow_ip_literals: bool, refusals: Counter
    ) -> None:
        self.app = app
        names = [h.lower() for h in hosts]
        self.any = "*" in names
        self.exact = frozenset(n for n in names if not n.startswith("*"))
        self.suffixes = tuple(n[1:] for n in names if n.startswith("*."))
        self.allow_ip_literals = allow_ip_literals
        self.refused = refusals.labels("untrusted_host")

    def allowed(self, name: str) -> bool:
        if self.any or name in self.exact or (self.suffixes and name.endswith(self.suffixes)):
            return True
        if not self.allow_ip_literals:
            return False
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == b"host"), None)
        if header is None or self.allowed(host_name(header.decode("latin-1"))):
            await self.app(scope, receive, send)
            return
        self.refused.inc()
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        msg = "invalid Host header: not one of server.trusted_hosts (add it there; docs/security.md)"
        await send_refusal(send, 400, msg)
