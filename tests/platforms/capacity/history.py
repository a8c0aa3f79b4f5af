"""Capacity history written into a store as the platforms' metrics land there (platforms.capacity.sources).

Cloud Foundry: three 8 GiB Diego cells (rep gauges, ``source_id="rep"``, as the Log Cache poller stores them),
every hour for 14 days, the foundation's allocated memory growing ``GROWTH_MIB_PER_DAY`` from ``START_MIB``,
split 50/30/20 over the cells, with a ±20 MiB wobble and a 6-hour blue-green double allocation (+3 GiB) on
day 5 (the outliers the robust fit must not follow); app containers with 512 and 1024 MiB ``memory_quota``.
Local: one node-exporter host of 16 GiB whose available memory shrinks, and two app instances' RSS.
"""

from __future__ import annotations

from typing import Any

from metrics_store.model import labels_from

HOUR_S = 3600
DAYS = 14
CELL_MIB = 8192.0
START_MIB = 6000.0
GROWTH_MIB_PER_DAY = 300.0
SHARES = (0.5, 0.3, 0.2)
MIB = 1048576


def allocated(day: float, *, growth: float = GROWTH_MIB_PER_DAY) -> float:
    return START_MIB + growth * day


def _times(now_s: float) -> list[int]:
    end = int(now_s)
    return [end - k * HOUR_S for k in range(DAYS * 24, -1, -1)]


def _put(store: Any, labels: dict[str, str], times: list[int], values: list[float]) -> None:
    ref = store.series_ref(labels_from(labels))
    store.append([ref] * len(times), [t * 1000 for t in times], values)


def write_cf(store: Any, now_s: float, *, growth: float = GROWTH_MIB_PER_DAY, outliers: bool = True) -> None:
    times = _times(now_s)
    origin = times[0]
    totals: list[float] = []
    for t in times:
        day = (t - origin) / 86400
        wobble = 20.0 if (t // HOUR_S) % 2 else -20.0
        burst = 3072.0 if outliers and 5.0 <= day < 5.25 else 0.0
        totals.append(allocated(day, growth=growth) + (wobble + burst if t != times[-1] else 0.0))
    for index, share in enumerate(SHARES):
        rep = {"source_id": "rep", "deployment": "cf", "job": "diego-cell", "index": str(index)}
        n = len(times)
        _put(store, {"__name__": "CapacityTotalMemory", **rep}, times, [CELL_MIB] * n)
        _put(
            store,
            {"__name__": "CapacityRemainingMemory", **rep},
            times,
            [CELL_MIB - a * share for a in totals],
        )
        _put(store, {"__name__": "CapacityTotalDisk", **rep}, times, [32768.0] * n)
        _put(store, {"__name__": "CapacityRemainingDisk", **rep}, times, [32768.0 - 4096.0 * (index + 1)] * n)
        _put(store, {"__name__": "CapacityTotalContainers", **rep}, times, [250.0] * n)
        _put(store, {"__name__": "CapacityRemainingContainers", **rep}, times, [250.0 - 10 * (index + 1)] * n)
    for guid, app, space, quota_mib, disk_mib in (
        ("g-1", "api", "prod", 1024, 2048),
        ("g-2", "web", "dev", 512, 1024),
    ):
        tenant = {"source_id": guid, "instance_id": "0", "app": app, "org": "acme", "space": space}
        _put(store, {"__name__": "memory_quota", **tenant}, times, [float(quota_mib * MIB)] * len(times))
        _put(store, {"__name__": "disk_quota", **tenant}, times, [float(disk_mib * MIB)] * len(times))


LOCAL_TOTAL_MIB = 16384.0
LOCAL_USED_START_MIB = 4000.0
LOCAL_GROWTH_MIB_PER_DAY = 500.0


def write_local(store: Any, now_s: float) -> None:
    times = _times(now_s)
    origin = times[0]
    node = {"job": "node", "instance": "127.0.0.1:9100"}
    used = [LOCAL_USED_START_MIB + LOCAL_GROWTH_MIB_PER_DAY * (t - origin) / 86400 for t in times]
    _put(
        store, {"__name__": "node_memory_MemTotal_bytes", **node}, times, [LOCAL_TOTAL_MIB * MIB] * len(times)
    )
    _put(
        store,
        {"__name__": "node_memory_MemAvailable_bytes", **node},
        times,
        [(LOCAL_TOTAL_MIB - u) * MIB for u in used],
    )
    root = {**node, "mountpoint": "/", "device": "/dev/root", "fstype": "ext4"}
    _put(store, {"__name__": "node_filesystem_size_bytes", **root}, times, [100.0 * 1024 * MIB] * len(times))
    _put(store, {"__name__": "node_filesystem_avail_bytes", **root}, times, [40.0 * 1024 * MIB] * len(times))
    for instance, rss_mib in (("0", 200), ("1", 300)):
        app = {"job": "app", "app": "checkout", "app_instance": instance, "org": "demo", "space": "team-a"}
        _put(
            store,
            {"__name__": "process_resident_memory_bytes", **app},
            times,
            [float(rss_mib * MIB)] * len(times),
        )
