"""Errors of the rule engine.

Hierarchy (every class is an :class:`alerting.base.AlertingError`)::

    RuleError                 base of everything below
    ├── RuleFileError         a rule file does not load; ``problems`` lists every problem, each naming
    │                         the file, group, rule index and key (like ``promtool check rules``)
    ├── TemplateError         an annotation/label template does not parse or fails to expand
    ├── RuleEvalError         one rule failed to evaluate (query error chained as ``__cause__``)
    └── RuleTestError         a unit-test file does not load (bad YAML, unknown keys)
"""

from __future__ import annotations

from collections.abc import Sequence

from alerting.base import AlertingError

__all__ = ["RuleError", "RuleEvalError", "RuleFileError", "RuleTestError", "TemplateError"]


class RuleError(AlertingError):
    """Base of every rule-engine error."""


class RuleFileError(RuleError):
    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class TemplateError(RuleError):
    """A Go-template-like text does not parse, or uses a function/construct this evaluator lacks."""


class RuleEvalError(RuleError):
    """A rule's query or kind evaluator failed."""


class RuleTestError(RuleError):
    """A promtool-style unit-test file is malformed."""
