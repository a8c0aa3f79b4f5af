"""The tenant a rule belongs to, so that the rules API shows a tenant-scoped principal only the foundation's
rules and its own tenants' (``paramedic._rules_api``).

A rule is a tenant's when its own ``labels`` name an ``org`` (and maybe a ``space``; a templated value names
no tenant), or when every selector of its expression pins ``org`` by equality to one value (the rules
generated from ``rules.slo_files`` do, see :mod:`alerting.slo.generate`): then the tenant is that org, with
the ``space`` every selector pins to one value, if any. Any other rule (no tenant matcher, selectors of
several orgs, an expression that does not parse) is the foundation's configuration, listed to everyone as
before.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from metrics_store.model import MatchOp
from metrics_store.promql import QueryError, parse, selector_matchers, vector_selectors
from platforms.tenancy import ORG_LABEL, SPACE_LABEL

__all__ = ["rule_tenant"]

Tenant = tuple[str, str | None]


def rule_tenant(expr: str, labels: Mapping[str, str]) -> Tenant | None:
    """``(org, space or None)`` of a rule, or None for a foundation rule."""
    org = labels.get(ORG_LABEL)
    if org and "{{" not in org:  # a template (``{{ $labels.org }}``) names each alert's org, not the rule's
        space = labels.get(SPACE_LABEL) or None
        return org, space if space is None or "{{" not in space else None
    return _expr_tenant(expr)


@functools.lru_cache(maxsize=4096)
def _expr_tenant(expr: str) -> Tenant | None:
    try:
        selectors = [selector_matchers(vs) for vs in vector_selectors(parse(expr))]
    except QueryError:
        return None
    orgs: set[str | None] = set()
    spaces: set[str | None] = set()
    for matchers in selectors:
        pinned = {m.name: m.value for m in matchers if m.op is MatchOp.EQ and m.value}
        orgs.add(pinned.get(ORG_LABEL))
        spaces.add(pinned.get(SPACE_LABEL))
    if len(orgs) != 1:
        return None
    (org,) = orgs
    if org is None:
        return None
    space = next(iter(spaces)) if len(spaces) == 1 else None
    return org, space
