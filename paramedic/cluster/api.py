"""``GET /api/v1/status/cluster``: this replica's view of the cluster (foundation principals only)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.responses import Response

from paramedic.cluster.node import ClusterNode
from platforms.tenancy import scope_of

__all__ = ["LEADER_ONLY", "cluster_router", "install_leader_redirect"]

# What only the leader serves: the Alertmanager API (alerts in, silences, acks, groups, notification log)
# and remediation's actions and policies. A follower answers these with a redirect to the leader.
LEADER_ONLY = re.compile(r"^/api/v2/|^/api/v1/(actions|policies|deployments)(/|$)")


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


def install_leader_redirect(app: FastAPI, node: ClusterNode) -> None:
    """On a follower, answer :data:`LEADER_ONLY` requests with ``307`` to the same path on the leader (the
    method and body are kept), or ``503`` while no leader is known. Install it inside authentication, so
    only callers allowed to make the request learn where the leader is."""

    @app.middleware("http")
    async def to_leader(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if node.is_leader or not LEADER_ONLY.match(request.url.path):
            return await call_next(request)
        leader = node.leader
        if leader is None or not leader.address or leader.id == node.id:
            return JSONResponse(
                {"status": "error", "error": "no leader elected yet: retry shortly"},
                status_code=503,
                headers={"Retry-After": "2"},
            )
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(leader.address.rstrip("/") + request.url.path + query, status_code=307)
