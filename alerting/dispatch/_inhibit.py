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

__all__ = ["InhibitIndex", "InhibitRule", "inhibited_by"]


@dataclass(frozen=True, slots=True)
class InhibitRule:
    sources: tuple[Matcher, ...]
    targets: tuple[Matcher, ...]
    equal: tuple[str, ...]

    @classmethod
    def from_config(cls, cfg: InhibitRuleConfig) -> InhibitRule:
        return cls(tuple(cfg.sources()), tuple(cfg.targets()), tuple(cfg.equal))


class InhibitIndex:
    """The firing source alerts of every rule, indexed by their ``equal`` label values: built once for a
    snapshot of the alert store (linear), then each lookup costs one dict probe per rule, so the state of
    every alert (``GET /api/v2/alerts``, a flush) is linear in the alerts instead of quadratic."""

    def __init__(self, rules: Iterable[InhibitRule], alerts: Iterable[StoredAlert], now: datetime) -> None:
        rules = list(rules)
        firing = [a for a in alerts if not a.resolved(now)] if rules else []
        self._rules: list[tuple[InhibitRule, dict[tuple[str, ...], list[tuple[str, bool]]]]] = []
        for rule in rules:
            sources: dict[tuple[str, ...], list[tuple[str, bool]]] = {}
            for src in firing:
                if matchers_match(rule.sources, src.labels):
                    key = tuple(src.labels.get(n, "") for n in rule.equal)
                    sources.setdefault(key, []).append(
                        (src.fingerprint, matchers_match(rule.targets, src.labels))
                    )
            self._rules.append((rule, sources))

    def inhibited_by(self, labels: Mapping[str, str]) -> list[str]:
        """Fingerprints of the firing alerts inhibiting an alert with these labels (at most one per rule)."""
        out: list[str] = []
        for rule, sources in self._rules:
            if not matchers_match(rule.targets, labels):
                continue
            two_sided = matchers_match(rule.sources, labels)
            for fingerprint, is_target in sources.get(tuple(labels.get(n, "") for n in rule.equal), ()):
                if two_sided and is_target:
                    continue  # an alert never inhibits itself through a two-sided rule
                out.append(fingerprint)
                break
        return sorted(set(out))


def inhibited_by(
    rules: Iterable[InhibitRule], labels: Mapping[str, str], alerts: Iterable[StoredAlert], now: datetime
) -> list[str]:
    """Fingerprints of the firing alerts that inhibit an alert with these labels (at most one per rule)."""
    return InhibitIndex(rules, alerts, now).inhibited_by(labels)
