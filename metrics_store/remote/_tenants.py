"""Org/space tenancy onto VictoriaMetrics cluster tenants (``accountID:projectID``).

The mapping is a configured table (``metrics_store.cluster.tenants``), not a hash: account IDs must stay
stable across restarts and never collide, and VictoriaMetrics' per-tenant statistics and limits then name
the org. Each listed org has its own accountID; each listed space of it a projectID (unlisted spaces use
projectID 0). Series without an ``org`` label (cells, router: foundation data) and series of unlisted orgs
go to ``foundation_account_id:0``.

The ``org``/``space`` labels stay on every series and remain the authority for tenancy
(:mod:`metrics_store.scoped` adds them as matchers to every tenant read). The account a read goes to is
derived from those same matchers, so a tenant read touches only its own account; a read the matchers do not
pin to one account (foundation reads, an org's reads across its spaces) goes to ``/select/multitenant/``
(VictoriaMetrics >= 1.104), narrowed by a ``vm_account_id`` matcher where the org is known. The labels
``vm_account_id``/``vm_project_id`` that multitenant reads add are removed from the results.

Moving an org into the table later is a migration: its older samples stay in the foundation account, where
reads pinned to the org's new account no longer look.
"""

from __future__ import annotations

from collections.abc import Sequence

from metrics_store.config import VMClusterConfig
from metrics_store.model import Labels, Matcher, MatchOp, labels_get

__all__ = ["MULTITENANT", "TENANT_LABELS", "TenantMap"]

MULTITENANT = "multitenant"
TENANT_LABELS = frozenset({"vm_account_id", "vm_project_id"})
"""Labels VictoriaMetrics adds to multitenant read results; never Paramedic labels."""

ORG_LABEL = "org"
SPACE_LABEL = "space"


class TenantMap:
    """Pure mapping, immutable after construction: safe from any thread."""

    def __init__(self, cfg: VMClusterConfig) -> None:
        self._foundation = f"{cfg.foundation_account_id}:0"
        self._accounts = {t.org: t.account_id for t in cfg.tenants}
        self._projects = {t.org: dict(t.spaces) for t in cfg.tenants}

    def write_tenant(self, labels: Labels) -> str:
        """``accountID:projectID`` a series with ``labels`` is written to."""
        return self._tenant_of(labels_get(labels, ORG_LABEL), labels_get(labels, SPACE_LABEL))

    def _tenant_of(self, org: str, space: str) -> str:
        account = self._accounts.get(org)
        if account is None:
            return self._foundation
        return f"{account}:{self._projects[org].get(space, 0)}"

    def read_route(self, matchers: Sequence[Matcher]) -> tuple[str, list[Matcher]]:
        """The tenant path segment a read with ``matchers`` goes to, and matchers to add to its selector."""
        org = _equal_value(matchers, ORG_LABEL)
        if org is None:
            return MULTITENANT, []
        account = self._accounts.get(org)
        if account is None:
            return self._foundation, []
        space = _equal_value(matchers, SPACE_LABEL)
        if space is None:
            return MULTITENANT, [Matcher("vm_account_id", MatchOp.EQ, str(account))]
        return self._tenant_of(org, space), []


def _equal_value(matchers: Sequence[Matcher], name: str) -> str | None:
    """The value an ``name="v"`` matcher pins the label to; None when no equality matcher names it."""
    values = {m.value for m in matchers if m.name == name and m.op is MatchOp.EQ}
    return values.pop() if len(values) == 1 else None
