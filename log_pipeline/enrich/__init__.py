"""Enrichment of parsed log records: Cloud Foundry conventions, BOSH syslog-release, local platform.

``enrich(record)`` applies the right enricher in place; ``ENRICHERS`` is the explicit table of them;
``parse_gorouter`` / ``parse_haproxy`` parse access lines on their own.
"""

from log_pipeline.enrich._access import parse_gorouter, parse_haproxy
from log_pipeline.enrich._enrichers import ENRICHERS, LOCAL_APP_MSGID, Enricher, enrich

__all__ = ["ENRICHERS", "LOCAL_APP_MSGID", "Enricher", "enrich", "parse_gorouter", "parse_haproxy"]
