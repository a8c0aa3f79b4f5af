"""Log patterns: online template mining and per-app pattern statistics.

* :class:`TemplateMiner` implements :class:`log_pipeline.base.PatternMiner`
  (``mine(message) -> (pattern_id, template)``).
* :class:`TenantMiners` keeps one miner per (org, space): a tenant's templates come from its lines only.
* :class:`PatternStats` counts per (org, space, app, pattern), writes
  ``paramedic_log_pattern_messages_total`` into a metrics store Appender and lists patterns for
  ``/api/v1/logs/patterns`` (:meth:`PatternStats.list_patterns`).
* :class:`PatternMetrics` is the components' self-instrumentation.
"""

from log_pipeline.patterns._metrics import PatternMetrics
from log_pipeline.patterns._miner import MinerConfig, TemplateMiner
from log_pipeline.patterns._stats import PATTERN_COUNT_METRIC, PatternInfo, PatternStats
from log_pipeline.patterns._tenant import TenantMiners
from log_pipeline.patterns._tokens import WILDCARD, collapse_lists, tokenise

__all__ = [
    "PATTERN_COUNT_METRIC",
    "WILDCARD",
    "MinerConfig",
    "PatternInfo",
    "PatternMetrics",
    "PatternStats",
    "TemplateMiner",
    "TenantMiners",
    "collapse_lists",
    "tokenise",
]
