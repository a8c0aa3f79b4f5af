"""Tenancy of log lines: an app's line gets the ``org`` and ``space`` labels of the app's space.

Cloud Foundry drains already name both (hostname ``org.space.app``, see ``_enrichers``); on the local platform
the app's space comes from the platform's config through its ``tenant_of`` (a
:class:`platforms.base.TenantResolver`, passed in as a plain function so the log pipeline stays independent of
the platform package). Labels a line already has are kept (a drain's own org/space win); a line without an
``app`` label (router process, cells, components) gets neither: it is foundation data.
"""

from __future__ import annotations

from collections.abc import Callable

from log_pipeline.model import LogRecord
from platforms.tenancy import ORG_LABEL, SPACE_LABEL

__all__ = ["TenantOf", "tenant_labeller"]

TenantOf = Callable[[str], tuple[str, str] | None]


def tenant_labeller(tenant_of: TenantOf) -> Callable[[LogRecord], bool]:
    """A record stage that sets ``org``/``space`` from ``tenant_of(app)`` on app lines that lack them;
    returns whether it labelled the record."""

    def label(record: LogRecord) -> bool:
        labels = record.labels
        app = labels.get("app")
        if not app or ORG_LABEL in labels:
            return False
        tenant = tenant_of(app)
        if tenant is None:
            return False
        labels[ORG_LABEL], labels[SPACE_LABEL] = tenant
        return True

    return label
