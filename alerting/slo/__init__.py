"""Service level objectives: SLO files -> Sloth-style recording rules and multi-window, multi-burn-rate
alerts (Google SRE workbook), and the status (attainment, error budget, burn rate) of each SLO.

Public surface: :func:`load_slo_files` / :func:`parse_slo_file` (validation, :class:`SloFileError` naming
file, line and key), :func:`rules_yaml` / :func:`rule_groups` (the generated rules), :func:`slo_status`
(what the API, the app page and the reports show) and :func:`slo_router` (``/api/v1/slo``)."""

from alerting.slo.api import slo_router
from alerting.slo.generate import (
    BURN_WINDOWS,
    BurnAlert,
    burn_alerts,
    error_ratio_expr,
    rule_groups,
    rules_yaml,
)
from alerting.slo.spec import (
    AlertingSpec,
    AvailabilitySli,
    LatencySli,
    Slo,
    SloFileError,
    SloProblem,
    load_slo_files,
    parse_slo_file,
)
from alerting.slo.status import SloStatus, slo_status, visible

__all__ = [
    "BURN_WINDOWS",
    "AlertingSpec",
    "AvailabilitySli",
    "BurnAlert",
    "LatencySli",
    "Slo",
    "SloFileError",
    "SloProblem",
    "SloStatus",
    "burn_alerts",
    "error_ratio_expr",
    "load_slo_files",
    "parse_slo_file",
    "rule_groups",
    "rules_yaml",
    "slo_router",
    "slo_status",
    "visible",
]
