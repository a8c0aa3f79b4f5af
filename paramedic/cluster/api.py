"""``GET /api/v1/status/cluster``: this replica's view of the cluster (foundation principals only)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from paramedic.cluster.config import LEADER_PROXY_CONNECTIONS
from paramedic.cluster.node import ClusterNode
from platforms.tenancy import scope_of

__all__ = [
    "FORWARDED_BY",
    "LEADER_ONLY",
    "LEADER_PROXY_CONNECTIONS",
    "cluster_router",
    "install_leader_proxy",
    "leader_origin",
]


# What only the leader serves: the Alertmanager API (alerts in, silences, acks, groups, notification log),
# the rules' state (/api/v1/rules, /api/v1/alerts) and remediation's actions, policies and deployments. A
# follower forwards these to the leader.
LEADER_ONLY = re.compile(r"^/api/v2/|^/api/v1/(actions|policies|deployments|rules|alerts)(/|$)")


def cluster_router(node: ClusterNode, targets_owned: Callable[[], int]) -> APIRouter:
    """Members (id, address, pid, targets owned, alive) and the leader with its fencing token. Replica
    addresses and the foundation's topology are foundation data: a tenant's principal gets 404."""
    router = APIRouter()

    @router.get("/api/v1/status/cluster")
    def cluster_status(request: Request) -> JSONResponse:
        if not scope_of(request).is_foundation:
            return JSONResponse({"status": "error", "error": "not found"}, status_code=404)
        leader = node.leader
        return JSONResponse(
            {
                "status": "success",
                "data": {
                    "self": {"id": node.id, "is_leader": node.is_leader, "targets_owned": targets_owned()},
                    "leader": (
                        {"id": leader.id, "address": leader.address, "fencing_token": leader.fencing_token}
                        if leader is not None
                        else None
                    ),
                    "members": [m.to_json() for m in node.members()],
                },
            }
        )

    return router


FORWARDED_BY = "X-Paramedic-Forwarded-By"
_REQUEST_HEADERS = ("authorization", "content-type", "accept", "cookie", "x-csrf-token")
_RESPONSE_HEADERS = ("content-type", "content-encoding", "retry-after", "www-authenticate")


def leader_origin(node: ClusterNode) -> str | None:
    """The origin (``http(s)://host:port``) the caller's credentials may be forwarded to: the leader's
    address only when it is a plain http(s) origin (no user info, query or fragment) AND the leader is a
    live member that registered that very address; else None. A leader key written by something that is
    not a replica (a hostile etcd peer) then sends no credentials anywhere."""
    leader = node.leader
    if leader is None or not leader.address or leader.id == node.id:
        return None
    if not any(m.id == leader.id and m.address == leader.address and m.alive for m in node.members()):
        return None
    try:
        url = urlsplit(leader.address)
        _ = url.port  # a malformed port raises
    except ValueError:
        return None
    if url.scheme not in ("http", "https") or not url.hostname or url.username is not None:
        return None
    if url.query or url.fragment or url.path.strip("/") or "@" in url.netloc:
        return None
    return f"{url.scheme}://{url.netloc}"


def _forward_path(request: Request) -> str | None:
    """The path as the caller sent it (still percent-encoded: the leader decodes it as this replica did),
    or None when it has dot segments or bytes a URL cannot carry."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    try:
        path = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not path.startswith("/") or any(c in path for c in "?#\\ ") or any(ord(c) < 0x21 for c in path):
        return None
    if any(seg in (".", "..") for seg in request.url.path.split("/")):
        return None
    return path


async def _relay(resp: httpx.Response, max_bytes: int) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.aiter_raw():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def install_leader_proxy(
    app: FastAPI,
    node: ClusterNode,
    *,
    timeout_s: float = 30.0,
    max_response_bytes: int = 64 * 1024 * 1024,
) -> None:
    """On a follower, forward :data:`LEADER_ONLY` requests to the leader and relay its answer (``503`` while
    no leader is known or it does not answer). The leader authenticates the caller again (every replica
    has the same users and tokens), so the follower's own check is not trusted; nobody learns the leader's
    address. One hop only: a request another replica forwarded is never forwarded again. Credentials go
    only to :func:`leader_origin` (a live member's registered address); the path is forwarded as sent
    (dot segments and unencodable bytes: 404); the whole exchange is bounded by ``timeout_s`` and an answer
    over ``max_response_bytes`` is a ``502``."""
    client = httpx.AsyncClient(
        timeout=timeout_s,
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(
            max_connections=LEADER_PROXY_CONNECTIONS, max_keepalive_connections=LEADER_PROXY_CONNECTIONS
        ),
    )

    def unavailable(why: str) -> JSONResponse:
        return JSONResponse(
            {"status": "error", "error": f"{why}: retry shortly"},
            status_code=503,
            headers={"Retry-After": "2"},
        )

    @app.middleware("http")
    async def to_leader(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if node.is_leader or not LEADER_ONLY.match(request.url.path):
            return await call_next(request)
        origin = leader_origin(node)
        if origin is None or FORWARDED_BY in request.headers:
            return unavailable("no leader elected")
        path = _forward_path(request)
        if path is None:
            return JSONResponse({"status": "error", "error": "not found"}, status_code=404)
        headers = {k: v for k, v in request.headers.items() if k.lower() in _REQUEST_HEADERS}
        headers[FORWARDED_BY] = node.id
        headers["accept-encoding"] = "identity"  # relayed as received (raw), never inflated here
        query = request.scope.get("query_string", b"").decode("latin-1")
        body = await request.body()
        try:
            async with asyncio.timeout(timeout_s):
                url = origin + path + ("?" + query if query else "")
                outgoing = client.build_request(request.method, url, content=body, headers=headers)
                resp = await client.send(outgoing, stream=True)
                try:
                    content = await _relay(resp, max_response_bytes)
                finally:
                    await resp.aclose()
        except (httpx.HTTPError, httpx.InvalidURL, TimeoutError):
            return unavailable("the leader did not answer")
        if content is None:
            return JSONResponse(
                {"status": "error", "error": f"the leader's answer is over {max_response_bytes} bytes"},
                status_code=502,
            )
        kept = {k: v for k, v in resp.headers.items() if k.lower() in _RESPONSE_HEADERS}
        return Response(content, status_code=resp.status_code, headers=kept)
