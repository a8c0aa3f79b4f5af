"""An :class:`~alerting.base.AlertSink` that hands every batch of alerts to several sinks, in order.

The rule manager sends to one sink; the server subscribes the dispatcher (notifications) and, when
remediation is configured, the remediation engine (actions) to it. Subscribing is thread-safe; a sink that
raises is logged and does not stop the others from getting the alerts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from alerting.base import AlertSink
from alerting.model import Alert

__all__ = ["AlertFanout"]

log = logging.getLogger(__name__)


class AlertFanout:
    def __init__(self, sinks: Sequence[AlertSink] = ()) -> None:
        self._lock = threading.Lock()
        self._sinks: tuple[AlertSink, ...] = tuple(sinks)

    def subscribe(self, sink: AlertSink) -> None:
        with self._lock:
            self._sinks = (*self._sinks, sink)

    def __len__(self) -> int:
        return len(self._sinks)

    def put(self, alerts: Sequence[Alert]) -> None:
        for sink in self._sinks:  # a tuple swapped atomically: no lock on the hot path
            try:
                sink.put(alerts)
            except Exception:
                log.exception("alert sink %s failed to take %d alerts", type(sink).__name__, len(alerts))
