"""How far back the capacity outlook looks and how far ahead it projects (``ValueError`` names a bad key)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CapacitySettings"]


@dataclass(frozen=True, slots=True)
class CapacitySettings:
    """``history_s`` of allocated memory sampled every ``step_s`` is fitted; "cells needed" is for
    ``horizon_days`` ahead; a projection within ``warn_days`` is a warning; a crossing further than
    ``max_projection_days`` ahead is not claimed (a near-flat trend would otherwise name a date centuries
    away); ``chunk_mib`` is the chunk when no app instance reports its size."""

    history_s: float = 14 * 86400.0
    step_s: float = 3600.0
    horizon_days: float = 90.0
    warn_days: float = 14.0
    chunk_mib: float = 1024.0
    max_projection_days: float = 730.0

    def __post_init__(self) -> None:
        for key in ("history_s", "step_s", "horizon_days", "warn_days", "chunk_mib", "max_projection_days"):
            if not getattr(self, key) > 0:
                raise ValueError(f"capacity settings: {key}: must be > 0, got {getattr(self, key)}")
        if self.history_s / self.step_s > 10_000:
            raise ValueError(
                f"capacity settings: step_s: {self.history_s:g}s of history at {self.step_s:g}s is more than "
                "10000 points; raise step_s"
            )
