"""Load policy YAML files into :class:`~remediation.config.PolicyFile`, with errors that name the place::

    policies.yaml:14: policies[2].rails.budget.max_actions: Input should be greater than or equal to 0

Beyond the pydantic model, every trigger matcher must parse (Alertmanager syntax), ``verify.expr`` must be
PromQL, a schedule must be a valid cron expression or ISO date-time in a known time zone, and a policy name
may appear only once across all the files loaded together.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]
from pydantic import ValidationError

from alerting.dispatch import MatcherError, parse_matcher
from metrics_store.promql import QueryParseError, parse
from metrics_store.yaml_errors import (
    Loc,
    YamlProblem,
    errors_with_lines,
    key_path,
    line_for,
    line_index,
    load_yaml,
    yaml_syntax_error,
)
from remediation.actions import is_per_instance
from remediation.base import RemediationError
from remediation.config import Policy, PolicyFile
from remediation.predictive.policy_check import predictive_problems

__all__ = [
    "LoadedPolicy",
    "PolicyError",
    "PolicyProblem",
    "load_policies",
    "load_policy_file",
    "load_policy_files",
    "parse_policy_file",
    "policy_version",
]


PolicyProblem = YamlProblem  # file:line: key.path: message


class PolicyError(RemediationError):
    """A policy file is unreadable, not YAML, or invalid. ``problems`` lists every issue found."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True, slots=True)
class LoadedPolicy:
    """A validated policy, where it came from, and its version hash."""

    policy: Policy
    file: str
    line: int | None
    version: str


def policy_version(policy: Policy) -> str:
    """sha256 of the policy's canonical JSON (sorted keys, no spaces), first 12 hex digits."""
    canonical = json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _semantic_problems(policy: Policy) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    for j, text in enumerate(policy.trigger.matchers):
        try:
            parse_matcher(text)
        except MatcherError as exc:
            out.append((("trigger", "matchers", j), str(exc)))
    schedule = policy.trigger.schedule
    if not policy.trigger.matchers and schedule is None and policy.predictive is None:
        out.append(
            (("trigger",), "give `matchers` or a `schedule` (fix: a policy needs something to set it off)")
        )
    if schedule is not None:
        tz_ok = True
        try:
            ZoneInfo(schedule.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            tz_ok = False
            out.append((("trigger", "schedule", "timezone"), f"unknown time zone {schedule.timezone!r}"))
        if (schedule.cron is None) == (schedule.at is None):
            out.append((("trigger", "schedule"), "give exactly one of `cron` and `at`"))
        if schedule.cron is not None and tz_ok:
            try:
                CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone)
            except ValueError as exc:
                out.append((("trigger", "schedule", "cron"), f"not a cron expression: {exc}"))
        if schedule.at is not None:
            try:
                datetime.fromisoformat(schedule.at)
            except ValueError:
                out.append((("trigger", "schedule", "at"), f"not an ISO 8601 date-time: {schedule.at!r}"))
        if policy.target.app is None:
            out.append((("target", "app"), "a scheduled policy needs a fixed `target.app`"))
    action_problems = policy.action.problems()
    if policy.predictive is not None:  # the forecast sets the count: neither adjustment nor instances
        action_problems = [(path, m) for path, m in action_problems if path != ()]
    out.extend((("action", *path), message) for path, message in action_problems)
    out.extend(predictive_problems(policy))
    if is_per_instance(policy.action.type) and policy.target.instance_label is None:
        out.append((("target", "instance_label"), f"{policy.action.type} needs `instance_label`"))
    if policy.verify.expr is not None:
        try:
            parse(policy.verify.expr)  # guarded: no stack-overflowing text or regex reaches the native parser
        except QueryParseError as exc:
            out.append((("verify", "expr"), f"not PromQL: {exc}"))
    return out


def parse_policy_file(text: str, filename: str = "<policies>") -> list[LoadedPolicy]:
    """Validate one policy file's ``text``; raise :class:`PolicyError` naming file, line and key."""
    try:
        data: Any = load_yaml(text)
    except yaml.YAMLError as exc:
        line, message = yaml_syntax_error(exc)
        raise PolicyError([PolicyProblem(filename, line, "", message)]) from exc
    if not isinstance(data, dict):
        raise PolicyError(
            [PolicyProblem(filename, 1, "", "the top level must be a mapping {policies: [...]}")]
        )
    index = line_index(text)
    try:
        pf = PolicyFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            PolicyProblem(filename, ln, k, m)
            for ln, k, m in errors_with_lines(exc, data, index, model=PolicyFile)
        ]
        raise PolicyError(problems) from exc
    problems = []
    seen: dict[str, int] = {}
    for i, policy in enumerate(pf.policies):
        for loc, msg in _semantic_problems(policy):
            full: Loc = ("policies", i, *loc)
            problems.append(PolicyProblem(filename, line_for(index, full), key_path(full), msg))
        if policy.name in seen:
            full = ("policies", i, "name")
            msg = f"duplicate policy name {policy.name!r} (also policies[{seen[policy.name]}])"
            problems.append(PolicyProblem(filename, line_for(index, full), key_path(full), msg))
        seen.setdefault(policy.name, i)
    if problems:
        raise PolicyError(problems)
    return [
        LoadedPolicy(p, filename, line_for(index, ("policies", i)), policy_version(p))
        for i, p in enumerate(pf.policies)
    ]


def load_policy_file(path: Path | str) -> list[LoadedPolicy]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError([PolicyProblem(str(path), None, "", f"cannot read: {exc.strerror}")]) from exc
    except UnicodeDecodeError as exc:
        raise PolicyError([PolicyProblem(str(path), None, "", f"not UTF-8 text: {exc.reason}")]) from exc
    return parse_policy_file(text, str(path))


def load_policies(paths: Iterable[Path | str]) -> list[LoadedPolicy]:
    """Load every file; all problems of all files are reported together. A policy name defined in two
    files is an error at the second definition."""
    out: list[LoadedPolicy] = []
    problems: list[PolicyProblem] = []
    first: dict[str, LoadedPolicy] = {}
    for path in paths:
        try:
            loaded = load_policy_file(path)
        except PolicyError as exc:
            problems.extend(exc.problems)
            continue
        for i, lp in enumerate(loaded):
            prev = first.get(lp.policy.name)
            if prev is not None:
                where = f"{prev.file}:{prev.line}" if prev.line is not None else prev.file
                problems.append(
                    PolicyProblem(
                        lp.file, lp.line, f"policies[{i}].name",
                        f"duplicate policy name {lp.policy.name!r} (first defined at {where})",
                    )
                )  # fmt: skip
                continue
            first[lp.policy.name] = lp
            out.append(lp)
    if problems:
        raise PolicyError(problems)
    return out


def load_policy_files(paths: Iterable[Path | str]) -> list[Policy]:
    """:func:`load_policies` without the provenance: the policies of every file, in order."""
    return [lp.policy for lp in load_policies(paths)]
