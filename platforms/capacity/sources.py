"""Where the cells' capacity is read from: the metric names of each platform as they land in the store.

* ``diego`` (Cloud Foundry, and the CF simulator): the rep's per-cell gauges polled from Log Cache with
  ``source_id="rep"`` (``CapacityTotal/RemainingMemory`` and ``..Disk`` in MiB, ``CapacityTotal/Remaining
  Containers``), one series per cell (labels ``job``, ``index``). The chunk is the largest ``memory_quota``
  (bytes) of any app container, the disk chunk the largest ``disk_quota``: the largest instance *allocated*.
* ``local`` (the local platform): a cell is a host the node exporter describes (``job="node"``, one per
  ``instance``): ``node_memory_MemTotal_bytes`` and ``..MemAvailable_bytes`` (measured, not allocated: a
  supervisord cell has no memory limits, so what is used is what is taken), the root filesystem's size and
  free bytes; no container slot limit. The chunk is the largest resident set of any app instance
  (``process_resident_memory_bytes{job="app"}``), measured.

Each :class:`CellSource` names its queries; :data:`SOURCES` is tried in order and the first whose memory
query answers is used.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DIEGO", "LOCAL", "SOURCES", "CellSource"]

_MIB = 1048576


@dataclass(frozen=True, slots=True)
class CellSource:
    """The PromQL of one platform's cell capacity; every query's result is in MiB (or a count), one series
    per cell keyed by ``cell_labels``; ``None``: the platform has no such figure."""

    name: str
    cell_labels: tuple[str, ...]
    memory_total: str
    memory_remaining: str
    disk_total: str | None
    disk_remaining: str | None
    containers_total: str | None
    containers_remaining: str | None
    chunk: str  # the largest app instance's memory, MiB (one sample)
    chunk_from: str
    disk_chunk: str | None
    allocated_history: str  # the foundation's allocated memory, MiB (one series)


_REP = 'source_id="rep"'

DIEGO = CellSource(
    name="diego",
    cell_labels=("job", "index"),
    memory_total=f"CapacityTotalMemory{{{_REP}}}",
    memory_remaining=f"CapacityRemainingMemory{{{_REP}}}",
    disk_total=f"CapacityTotalDisk{{{_REP}}}",
    disk_remaining=f"CapacityRemainingDisk{{{_REP}}}",
    containers_total=f"CapacityTotalContainers{{{_REP}}}",
    containers_remaining=f"CapacityRemainingContainers{{{_REP}}}",
    chunk=f"max(memory_quota) / {_MIB}",
    chunk_from="largest app instance memory quota",
    disk_chunk=f"max(disk_quota) / {_MIB}",
    allocated_history=f"sum(CapacityTotalMemory{{{_REP}}}) - sum(CapacityRemainingMemory{{{_REP}}})",
)

_NODE = 'job="node"'
_ROOT = f'{_NODE},mountpoint="/"'

LOCAL = CellSource(
    name="local",
    cell_labels=("instance",),
    memory_total=f"node_memory_MemTotal_bytes{{{_NODE}}} / {_MIB}",
    memory_remaining=f"node_memory_MemAvailable_bytes{{{_NODE}}} / {_MIB}",
    disk_total=f"node_filesystem_size_bytes{{{_ROOT}}} / {_MIB}",
    disk_remaining=f"node_filesystem_avail_bytes{{{_ROOT}}} / {_MIB}",
    containers_total=None,
    containers_remaining=None,
    chunk=f'max(process_resident_memory_bytes{{job="app"}}) / {_MIB}',
    chunk_from="largest app instance resident memory (measured)",
    disk_chunk=None,
    allocated_history=(
        f"sum(node_memory_MemTotal_bytes{{{_NODE}}} - node_memory_MemAvailable_bytes{{{_NODE}}}) / {_MIB}"
    ),
)

SOURCES: tuple[CellSource, ...] = (DIEGO, LOCAL)
