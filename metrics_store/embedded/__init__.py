"""Embedded metrics store (the default): DuckDB + write-ahead log. See :mod:`metrics_store.embedded.store`."""

from metrics_store.embedded.store import EmbeddedStore

__all__ = ["EmbeddedStore"]
