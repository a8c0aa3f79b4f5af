"""Inhibition: a firing source alert mutes target alerts that agree with it on the ``equal`` labels.

As in Alertmanager, when the target also matches the source matchers, source alerts that themselves match the
target matchers are not counted (an alert never inhibits itself through a two-sided rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from alerting.dispatch._matchers import Matcher, matchers_match
from alerting.dispatch._store import StoredAlert
from alerting.dispatch.config import InhibitRuleConfig

__all__ = ["InhibitRule", "inhibited_by"]


@dataclass(frozen=True, slots=True)
class InhibitRule:
    sources: tuple[Matcher, ...]
    targets: tuple[Matcher, ...]
    equal: tuple[str, ...]

    @classmethod
    def from_config(cls, cfg: InhibitRuleConfig) -> InhibitRule:
        return cls(tuple(cfg.sources()), tuple(cfg.targets()), tuple(cfg.equal))


def inhibited_by(
    rules: Iterable[InhibitRule], labels: Mapping[str, str], alerts: Iterable[StoredAlert], now: datetime
) -> list[str]:
    """Fingerprints of the firing alerts that inhibit an alert with these labels (at most one per rule)."""
    firing = [a for a in alerts if not a.resolved(now)]
    out: list[str] = []
    for rule in rules:
        if not matchers_match(rule.targets, labels):
            continue
        two_sided = matchers_match(rule.sources, labels)
        for src in firing:
            if not matchers_match(rule.sources, src.labels):
                continue
            if two_sided and matchers_match(rule.targets, src.labels):
                continue
            if all(src.labels.get(n, "") == labels.get(n, "") for n in rule.equal):
                out.append(src.fingerprint)
                break
    return sorted(set(out))
