"""Enrichment of parsed log records: Cloud Foundry conventions, BOSH syslog-release, local platform.

``enrich(record)`` applies the right enricher in place; ``ENRICHERS`` is the explicit table of them;
``parse_gorouter`` / ``parse_haproxy`` parse access lines on their own; ``tenant_labeller(tenant_of)`` is the
stage that gives an app's lines its ``org``/``space`` where the line itself does not name them.
"""

from log_pipeline.enrich._access import parse_gorouter, parse_haproxy
from log_pipeline.enrich._enrichers import ENRICHERS, LOCAL_APP_MSGID, Enricher, enrich
from log_pipeline.enrich._tenant import TenantOf, tenant_labeller

__all__ = [
    "ENRICHERS",
    "LOCAL_APP_MSGID",
    "Enricher",
    "TenantOf",
    "enrich",
    "parse_gorouter",
    "parse_haproxy",
    "tenant_labeller",
]
