"""Alertmanager semantics: routing tree, aggregation groups, inhibition, silences, time intervals, acks.

:class:`Dispatcher` implements :class:`~alerting.base.AlertSink`; its state (silences, notification log, acks)
lives in JSON files under a data dir. ``alerting.am_api`` serves the Alertmanager v2 HTTP API over it.
Alertmanager matchers (:func:`parse_matcher`, :func:`matchers_match`) and :func:`write_json_atomic` are
public: remediation policies use the same matcher syntax and the same atomic state files.
"""

from alerting.dispatch._matchers import Matcher, MatcherError, matchers_match, parse_matcher, parse_matchers
from alerting.dispatch._persist import DirState, StateError, StateStore, write_json_atomic
from alerting.dispatch._state import LogEntry
from alerting.dispatch._store import StoredAlert
from alerting.dispatch.config import ConfigError, DispatchConfig, load_config, parse_config
from alerting.dispatch.dispatcher import AlertState, AlertView, Dispatcher, GroupView
from alerting.dispatch.silences import (
    Silence,
    SilenceError,
    SilenceLimit,
    SilenceLimitError,
    SilenceNotFoundError,
    Silences,
)

__all__ = [
    "AlertState",
    "AlertView",
    "ConfigError",
    "DirState",
    "DispatchConfig",
    "Dispatcher",
    "GroupView",
    "LogEntry",
    "Matcher",
    "MatcherError",
    "Silence",
    "SilenceError",
    "SilenceLimit",
    "SilenceLimitError",
    "SilenceNotFoundError",
    "Silences",
    "StateError",
    "StateStore",
    "StoredAlert",
    "load_config",
    "matchers_match",
    "parse_config",
    "parse_matcher",
    "parse_matchers",
    "write_json_atomic",
]
