"""Inhibition: a firing source alert mutes target alerts that agree with it on the ``equal`` labels.

As in Alertmanager, when the target also matches the source matchers, source alerts that themselves match the
target matchers are not counted (an alert never inhibits itself through a two-sided rule).

Tenancy: a source alert that carries an ``org`` (a tenant's alert) inhibits only targets of the same
``org``/``space``, whatever the rule's ``equal`` says; a source without an ``org`` (the foundation's: router,
cells, node) inhibits as configured. Otherwise a space's alert (one a scoped operator may post, or a rule's
alert of a same-named app in another space) would mute another space's alerts through ``equal: [app]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from alerting.dispatch._matchers import Matcher, matchers_match
from alerting.dispatch._store import StoredAlert
from alerting.dispatch.config import InhibitRuleConfig
from platforms.tenancy import ORG_LABEL, SPACE_LABEL

__all__ = ["InhibitIndex", "InhibitRule", "inhibited_by"]

_Tenant = tuple[str, str] | None  # (org, space) of a tenant's alert; None for the foundation's


def _tenant(labels: Mapping[str, str]) -> _Tenant:
    org = labels.get(ORG_LABEL, "")
    return (org, labels.get(SPACE_LABEL, "")) if org else None


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
        self._rules: list[tuple[InhibitRule, dict[tuple[str, ...], list[tuple[str, bool, _Tenant]]]]] = []
        for rule in rules:
            sources: dict[tuple[str, ...], list[tuple[str, bool, _Tenant]]] = {}
            for src in firing:
                if matchers_match(rule.sources, src.labels):
                    key = tuple(src.labels.get(n, "") for n in rule.equal)
                    sources.setdefault(key, []).append(
                        (src.fingerprint, matchers_match(rule.targets, src.labels), _tenant(src.labels))
                    )
            self._rules.append((rule, sources))

    def inhibited_by(self, labels: Mapping[str, str]) -> list[str]:
        """Fingerprints of the firing alerts inhibiting an alert with these labels (at most one per rule)."""
        out: list[str] = []
        tenant = _tenant(labels)
        for rule, sources in self._rules:
            if not matchers_match(rule.targets, labels):
                continue
            two_sided = matchers_match(rule.sources, labels)
            key = tuple(labels.get(n, "") for n in rule.equal)
            for fingerprint, is_target, src_tenant in sources.get(key, ()):
                if two_sided and is_target:
                    continue  # an alert never inhibits itself through a two-sided rule
                if src_tenant is not None and src_tenant != tenant:
                    continue  # a tenant's alert never mutes another tenant's (or the foundation's)
                out.append(fingerprint)
                break
        return sorted(set(out))


def inhibited_by(
    rules: Iterable[InhibitRule], labels: Mapping[str, str], alerts: Iterable[StoredAlert], now: datetime
) -> list[str]:
    """Fingerprints of the firing alerts that inhibit an alert with these labels (at most one per rule)."""
    return InhibitIndex(rules, alerts, now).inhibited_by(labels)
