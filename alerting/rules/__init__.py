"""Rules as code: Prometheus rule files (unchanged) plus Paramedic rule kinds, an explicit alert state
machine, promtool-style unit tests and built-in rule packs. See docs/rules.md.

The recent window (``RecentWindow``, fed by ``WindowTee`` as a subscriber of the store's committed samples,
read through ``WindowedQuerier``) is public so that the wiring can build it without reaching into a private
module."""

from alerting.rules._alerting import Activation, ActiveAlert, AlertingRule, AlertState
from alerting.rules._cache import CycleCache
from alerting.rules._kinds import Detector
from alerting.rules._load import PACKS_DIR, GroupSpec, RuleSpec, load_files, parse_groups
from alerting.rules._template import Template
from alerting.rules._unittest import TestResult, run_test_file
from alerting.rules._window import FanOut, RecentWindow, WindowedQuerier, WindowTee
from alerting.rules.errors import RuleError, RuleEvalError, RuleFileError, RuleTestError, TemplateError
from alerting.rules.manager import RuleManager, RuleOptions

__all__ = [
    "PACKS_DIR",
    "Activation",
    "ActiveAlert",
    "AlertState",
    "AlertingRule",
    "CycleCache",
    "Detector",
    "FanOut",
    "GroupSpec",
    "RecentWindow",
    "RuleError",
    "RuleEvalError",
    "RuleFileError",
    "RuleManager",
    "RuleOptions",
    "RuleSpec",
    "RuleTestError",
    "Template",
    "TemplateError",
    "TestResult",
    "WindowTee",
    "WindowedQuerier",
    "load_files",
    "parse_groups",
    "run_test_file",
]
