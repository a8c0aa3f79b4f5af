"""bench/eevdf_slice.py: the part of a late wake-up spent behind the busy loop is the interval minus the busy
loop's own off-CPU stretches inside it."""

from __future__ import annotations

from bench.eevdf_slice import off_cpu_ns

GAPS = [(100, 200), (300, 350), (1_000, 2_000)]
STARTS = [s for s, _ in GAPS]


def test_off_cpu_time_is_the_overlap_of_the_gaps_with_the_interval() -> None:
    assert off_cpu_ns(GAPS, STARTS, 0, 90) == 0  # before any gap
    assert off_cpu_ns(GAPS, STARTS, 150, 320) == 50 + 20  # the end of one gap, the start of the next
    assert off_cpu_ns(GAPS, STARTS, 120, 180) == 60  # inside one gap
    assert off_cpu_ns(GAPS, STARTS, 0, 5_000) == 100 + 50 + 1_000  # all of them
    assert off_cpu_ns([], [], 0, 5_000) == 0
