"""``GET /api/v1/status/cluster``: this replica's view of the cluster (foundation principals only)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from paramedic.cluster.node import ClusterNode
from platforms.tenancy import scope_of

__all__ = ["FORWARDED_BY", "LEADER_ONLY", "cluster_router", "install_leader_proxy"]

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
_RESPONSE_HEADERS = ("content-type", "retry-after", "www-authenticate")


def install_leader_proxy(app: FastAPI, node: ClusterNode, *, timeout_s: float = 30.0) -> None:
    """On a follower, forward :data:`LEADER_ONLY` requests to the leader and relay its answer (``503`` while
    no leader is known or it does not answer). The leader authenticates the caller again (every replica
    has the same users and tokens), so the follower's own check is not trusted; nobody learns the leader's
    address. One hop only: a request another replica forwarded is never forwarded again."""
    client = httpx.AsyncClient(timeout=timeout_s)

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
        leader = node.leader
        if leader is None or not leader.address or leader.id == node.id or FORWARDED_BY in request.headers:
            return unavailable("no leader elected")
        headers = {k: v for k, v in request.headers.items() if k.lower() in _REQUEST_HEADERS}
        headers[FORWARDED_BY] = node.id
        try:
            resp = await client.request(
                request.method,
                leader.address.rstrip("/") + request.url.path,
                params=request.url.query,
                content=await request.body(),
                headers=headers,
            )
        except httpx.HTTPError:
            return unavailable("the leader did not answer")
        kept = {k: v for k, v in resp.headers.items() if k.lower() in _RESPONSE_HEADERS}
        return Response(resp.content, status_code=resp.status_code, headers=kept)
