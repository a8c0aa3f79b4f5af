"""Pattern mining per tenant: one :class:`TemplateMiner` per (org, space), so that a tenant's templates are
generalised from its own lines only (a template mined over every tenant would show, in its ``<*>``, that
another tenant's lines differ there, and its id/template would follow their traffic).

Foundation components (no org) share the miner of ``("", "")``. At most ``max_tenants`` miners are kept;
the least recently used one is dropped whole (its patterns count as evicted) when another tenant needs one.
Pattern ids stay hashes of a pattern's first template, so the same line yields the same id in every tenant.
Memory is bounded across tenants as well (issue 11: tenants come from the sender's host name): every
:data:`CHECK_EVERY` lines the miners' estimated bytes (:meth:`TemplateMiner.memory_bytes`) are summed, and
while they exceed ``max_bytes`` the least recently used tenants' miners are dropped the same way.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from log_pipeline.patterns._miner import MinerConfig, TemplateMiner

__all__ = ["TenantMiners"]

Tenant = tuple[str, str]  # (org, space); ("", "") for the foundation
CHECK_EVERY = 1024  # lines mined between two sums of the miners' bytes (a sum walks every tenant)


class TenantMiners:
    """A :class:`log_pipeline.base.PatternMiner` (``mine(message)`` mines for the foundation) that also
    mines per tenant with :meth:`mine_for`. Thread-safe."""

    def __init__(
        self,
        config: MinerConfig | None = None,
        *,
        max_tenants: int = 1024,
        max_bytes: int = 1024 * 1024 * 1024,
        on_new: Callable[[str], None] | None = None,
        on_evict: Callable[[str], None] | None = None,
    ) -> None:
        if max_tenants < 1:
            raise ValueError("max_tenants must be >= 1")
        if max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        self._max_bytes = max_bytes
        self._since_check = 0
        self._cfg = config
        self._max = max_tenants
        self._on_new = on_new
        self._on_evict = on_evict
        self._miners: OrderedDict[Tenant, TemplateMiner] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            miners = list(self._miners.values())
        return sum(len(m) for m in miners)

    def tenants(self) -> list[Tenant]:
        with self._lock:
            return list(self._miners)

    def _miner(self, tenant: Tenant) -> TemplateMiner:
        dropped: TemplateMiner | None = None
        with self._lock:
            miner = self._miners.get(tenant)
            if miner is None:
                if len(self._miners) >= self._max:
                    _, dropped = self._miners.popitem(last=False)
                miner = TemplateMiner(self._cfg, on_new=self._on_new, on_evict=self._on_evict)
                self._miners[tenant] = miner
            else:
                self._miners.move_to_end(tenant)
        if dropped is not None:
            self._evicted(dropped)
        return miner

    def _evicted(self, dropped: TemplateMiner) -> None:
        if self._on_evict is not None:
            for pid in dropped.pattern_ids():
                self._on_evict(pid)

    def memory_bytes(self) -> int:
        """Estimated bytes of every tenant's miner (what ``max_bytes`` bounds)."""
        with self._lock:
            miners = list(self._miners.values())
        return sum(m.memory_bytes() for m in miners)

    def _bound_memory(self, keep: Tenant) -> None:
        """Drop least recently used miners (never ``keep``'s) while the sum is over ``max_bytes``."""
        dropped: list[TemplateMiner] = []
        with self._lock:
            sizes = {t: m.memory_bytes() for t, m in self._miners.items()}
            total = sum(sizes.values())
            for tenant in list(self._miners):
                if total <= self._max_bytes:
                    break
                if tenant != keep:
                    dropped.append(self._miners.pop(tenant))
                    total -= sizes[tenant]
        for miner in dropped:
            self._evicted(miner)

    def mine_for(self, org: str, space: str, message: str) -> tuple[str, str]:
        """``(pattern_id, template)`` of ``message`` among the lines of ``org``/``space``."""
        found = self._miner((org, space)).mine(message)
        self._since_check += 1  # racy across threads at worst delays a check: it is a sampling interval
        if self._since_check >= CHECK_EVERY:
            self._since_check = 0
            self._bound_memory((org, space))
        return found

    def mine(self, message: str) -> tuple[str, str]:
        return self.mine_for("", "", message)

    def template(self, org: str, space: str, pattern_id: str) -> str | None:
        with self._lock:
            miner = self._miners.get((org, space))
        return None if miner is None else miner.template(pattern_id)
