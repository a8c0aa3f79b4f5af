"""Remote metrics store: InfluxDB line protocol out, Prometheus HTTP API in. See :mod:`.store`."""

from metrics_store.remote.store import LineWriter, RemoteStore

__all__ = ["LineWriter", "RemoteStore"]
