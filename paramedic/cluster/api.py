"""``GET /api/v1/status/cluster``: this replica's view of the cluster (foundation principals only)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from paramedic.cluster.node import ClusterNode
from platforms.tenancy import scope_of

__all__ = ["cluster_router"]


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
