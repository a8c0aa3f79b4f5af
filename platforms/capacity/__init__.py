"""Cell capacity planning: free chunks of the largest app instance, container slots, N+1 headroom and a
robust growth forecast (scikit-learn) of the cells' allocated memory, on Cloud Foundry (Diego rep metrics)
and on the local platform (node exporter, measured).

``capacity_outlook(querier, now)`` is the one function a caller needs (a report, the CLI); the API
(``/api/v1/capacity``) and the dashboard's Capacity page serve the same :class:`CapacityOutlook`.
"""

from platforms.capacity.api import CapacityService, capacity_router
from platforms.capacity.forecast import GrowthFit, crossing_time, fit_growth
from platforms.capacity.model import CellCapacity, NPlusOne, cells_to_add, chunks_free, n_plus_one
from platforms.capacity.outlook import CapacityError, CapacityOutlook, capacity_outlook
from platforms.capacity.settings import CapacitySettings
from platforms.capacity.sources import DIEGO, LOCAL, SOURCES, CellSource

__all__ = [
    "DIEGO",
    "LOCAL",
    "SOURCES",
    "CapacityError",
    "CapacityOutlook",
    "CapacityService",
    "CapacitySettings",
    "CellCapacity",
    "CellSource",
    "GrowthFit",
    "NPlusOne",
    "capacity_outlook",
    "capacity_router",
    "cells_to_add",
    "chunks_free",
    "crossing_time",
    "fit_growth",
    "n_plus_one",
]
