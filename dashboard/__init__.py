"""Operator dashboards: server-rendered pages (FastAPI + Jinja2) with uPlot charts, no build step.

The dashboard only reads, through the Protocols of :mod:`dashboard.base`; the wiring implements them and
mounts :func:`dashboard_router`.
"""

from dashboard.app import dashboard_router
from dashboard.base import (
    ActionsReader,
    AlertsReader,
    InstanceInfo,
    InstantSample,
    MetricsReader,
    PlatformReader,
    PlatformViews,
    RangeSeries,
    ReaderError,
    SloReader,
    Sources,
)
from dashboard.security import CONTENT_SECURITY_POLICY, security_headers

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "ActionsReader",
    "AlertsReader",
    "InstanceInfo",
    "InstantSample",
    "MetricsReader",
    "PlatformReader",
    "PlatformViews",
    "RangeSeries",
    "ReaderError",
    "SloReader",
    "Sources",
    "dashboard_router",
    "security_headers",
]
