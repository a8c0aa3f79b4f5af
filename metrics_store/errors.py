"""Errors raised by the metrics stores.

Hierarchy (every class is a :class:`~metrics_store.base.StoreError`; driver, OS and HTTP exceptions are
chained as ``__cause__``)::

    StoreError
    ├── StoreClosedError        operation on a closed store
    ├── UnknownSeriesError      append() with a ref this store never handed out
    ├── InvalidSampleError      a sample or label set the backend cannot represent
    ├── WalError                the write-ahead log could not be written or read (OSError chained)
    ├── DatabaseError           DuckDB failed (duckdb.Error chained)
    └── RemoteError             the remote backend failed
        ├── RemoteWriteError    a write failed after all retries (the samples were NOT stored)
        └── RemoteReadError     a read failed or returned a malformed answer
"""

from __future__ import annotations

from metrics_store.base import StoreError

__all__ = [
    "DatabaseError",
    "InvalidSampleError",
    "RemoteError",
    "RemoteReadError",
    "RemoteWriteError",
    "StoreClosedError",
    "StoreError",
    "UnknownSeriesError",
    "WalError",
]


class StoreClosedError(StoreError):
    """The store was closed; open a new one."""


class UnknownSeriesError(StoreError):
    """``append`` got a ref that ``series_ref`` of this store never returned."""


class InvalidSampleError(StoreError):
    """A sample or label set the backend cannot represent (e.g. a newline in a line-protocol tag)."""


class WalError(StoreError):
    """Writing or reading the write-ahead log failed."""


class DatabaseError(StoreError):
    """The embedded database (DuckDB) failed."""


class RemoteError(StoreError):
    """The remote backend failed."""


class RemoteWriteError(RemoteError):
    """A write failed after all retries; the samples were not stored."""


class RemoteReadError(RemoteError):
    """A read failed or the server answered something we cannot parse."""
