"""free_port never hands out ports reserved for a later bind in this process (the demo's own listeners)."""

from __future__ import annotations

from platforms.local import state
from platforms.local.state import free_port, reserve_ports


def test_reserved_ports_are_never_picked() -> None:
    span = state._picking_range()
    assert span is not None
    everything = set(range(span[0], span[1] + 1))
    before = set(state._HANDED_OUT)
    reserve_ports(*everything)
    try:
        picked = {free_port() for _ in range(5)}
        assert not picked & everything  # only the kernel's ephemeral ports are left to pick
    finally:
        state._HANDED_OUT.clear()
        state._HANDED_OUT.update(before)
