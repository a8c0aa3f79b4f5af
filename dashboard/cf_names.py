"""Cloud Foundry metric names as Paramedic stores them from Log Cache: the ONE place the dashboard names them.

Log Cache's conventions (the naming contract of the Cloud Foundry work): ``source_id`` is the envelope's
source (an app's GUID for app metrics; ``gorouter``, ``rep``, ``bbs``, ``cloud_controller``,
``bosh-system-metrics-forwarder`` for components); the metric name is the envelope name with every ``.`` and
``-`` replaced by ``_``. The per-app KPI series are named by Paramedic's Log Cache KPI helper (aggregating
queries it runs at Log Cache over gorouter's ``http`` timer). Align these with the poller's names here only.
"""

from __future__ import annotations

__all__ = [
    "APP_5XX_PER_S",
    "APP_GUID",
    "APP_LATENCY_P95_NS",
    "APP_NAME",
    "APP_REQUESTS_PER_S",
    "BBS",
    "BBS_CRASHED",
    "BBS_LRPS_MISSING",
    "BBS_LRPS_RUNNING",
    "BOSH",
    "BOSH_HEALTHY",
    "CC",
    "CC_JOB_QUEUE",
    "CC_REQUESTS_OUTSTANDING",
    "CONTAINER_CPU",
    "CONTAINER_DISK",
    "CONTAINER_MEMORY",
    "CONTAINER_MEMORY_QUOTA",
    "GOROUTER",
    "INSTANCE_ID",
    "ORG",
    "REP",
    "REP_CONTAINERS_REMAINING",
    "REP_CONTAINERS_TOTAL",
    "REP_DISK_REMAINING_MIB",
    "REP_MEMORY_REMAINING_MIB",
    "REP_MEMORY_TOTAL_MIB",
    "REP_UNHEALTHY_CELL",
    "ROUTER_5XX",
    "ROUTER_BAD_GATEWAYS",
    "ROUTER_LATENCY_P95_MS",
    "ROUTER_REQUESTS",
    "ROUTER_ROUTE_TABLE_AGE_MS",
    "SOURCE_ID",
    "SPACE",
]

# -- labels --------------------------------------------------------------------------------------------------
SOURCE_ID = "source_id"
INSTANCE_ID = "instance_id"  # an app instance's index (container metrics)
APP_GUID = "app_guid"  # per-app KPI series
APP_NAME = "app"  # the app's name (KPI series; added by the poller to container metrics)
SPACE = "space"
ORG = "org"

# -- per-app KPI series (Paramedic's Log Cache KPI helper; labels app, app_guid, space, org) -----------------
APP_REQUESTS_PER_S = "cf_app_http_requests_per_second"
APP_5XX_PER_S = "cf_app_http_5xx_per_second"
APP_LATENCY_P95_NS = "cf_app_http_latency_p95_ns"  # nanoseconds (gorouter's http timer)

# -- app containers (source_id = app GUID, instance_id; app/space/org added by the poller) -------------------
CONTAINER_CPU = "cpu"  # percent of one core
CONTAINER_MEMORY = "memory"  # bytes
CONTAINER_DISK = "disk"  # bytes
CONTAINER_MEMORY_QUOTA = "memory_quota"  # bytes

# -- gorouter (source_id="gorouter") -------------------------------------------------------------------------
GOROUTER = "gorouter"
ROUTER_REQUESTS = "total_requests"  # counter
ROUTER_5XX = "responses_5xx"  # counter
ROUTER_BAD_GATEWAYS = "bad_gateways"  # counter
ROUTER_LATENCY_P95_MS = "gorouter_latency_p95"  # gauge, milliseconds (stored by Paramedic)
ROUTER_ROUTE_TABLE_AGE_MS = "ms_since_last_registry_update"  # gauge, milliseconds

# -- Diego cell rep (source_id="rep"; one series per cell) ---------------------------------------------------
REP = "rep"
REP_MEMORY_REMAINING_MIB = "CapacityRemainingMemory"
REP_MEMORY_TOTAL_MIB = "CapacityTotalMemory"
REP_DISK_REMAINING_MIB = "CapacityRemainingDisk"
REP_CONTAINERS_TOTAL = "CapacityTotalContainers"
REP_CONTAINERS_REMAINING = "CapacityRemainingContainers"
REP_UNHEALTHY_CELL = "CellUnhealthy"  # 1 when the cell failed its health check (diego-release docs)

# -- Diego BBS (source_id="bbs"; the active BBS emits) -------------------------------------------------------
BBS = "bbs"
BBS_LRPS_MISSING = "LRPsMissing"
BBS_CRASHED = "CrashedActualLRPs"
BBS_LRPS_RUNNING = "LRPsRunning"

# -- Cloud Controller (origin cc, source_id="cloud_controller") ----------------------------------------------
CC = "cloud_controller"
CC_REQUESTS_OUTSTANDING = "requests_outstanding"
CC_JOB_QUEUE = "job_queue_length_total"

# -- BOSH (system.healthy per VM; labels job, index, deployment) ---------------------------------------------
BOSH = "bosh-system-metrics-forwarder"
BOSH_HEALTHY = "system_healthy"
