"""Per-listener limits of the stream receivers: a connection cap and the idle/stalled-frame timeout.

Both are enforced by :class:`~log_pipeline.receivers._conn.StreamConnection`; this module only holds the
numbers and the slot count, so that the protocol sessions stay pure and the connection code stays about I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_WRITE_HIGH_WATER_BYTES", "Slots", "StreamLimits"]

DEFAULT_WRITE_HIGH_WATER_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """``idle_timeout_s``: close a connection that sent nothing, or held an incomplete message, this long.
    ``write_high_water_bytes``: stop reading from a peer while this much of our output (RELP acks) is
    unsent, so a peer that never reads cannot grow our write buffer."""

    max_connections: int
    idle_timeout_s: float
    write_high_water_bytes: int = DEFAULT_WRITE_HIGH_WATER_BYTES


class Slots:
    """Open connections of one listener, at most ``limits.max_connections``; the connections of the listener
    share it (and its ``limits``). Used from the event loop's thread only."""

    def __init__(self, limits: StreamLimits) -> None:
        self.limits = limits
        self.limit = limits.max_connections
        self.used = 0
        self.refused = 0

    def take(self) -> bool:
        """Take a slot for a new connection; False (and counted in ``refused``) when all are taken."""
        if self.used >= self.limit:
            self.refused += 1
            return False
        self.used += 1
        return True

    def give_back(self) -> None:
        self.used -= 1
