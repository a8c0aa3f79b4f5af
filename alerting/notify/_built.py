"""What a notifier built for one notification, kept for that notification's retries.

The retry policy (:mod:`alerting.notify.retry`) calls ``notify`` again with the *same* notification object
after a failure. Building the request is the costly part for a big group (megabytes of JSON or MIME for
thousands of alerts, about a second of CPU), and Alertmanager, too, retries the payload it built once; so a
notifier looks the notification up here first. Keyed by identity, a few entries, used from the event
loop only.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

from alerting.model import Notification

__all__ = ["BuiltCache"]

T = TypeVar("T")


class BuiltCache(Generic[T]):
    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._items: OrderedDict[int, tuple[Notification, T]] = OrderedDict()

    def get(self, notification: Notification) -> T | None:
        hit = self._items.get(id(notification))
        if hit is None or hit[0] is not notification:  # an id is reused only once its object is gone
            return None
        self._items.move_to_end(id(notification))
        return hit[1]

    def put(self, notification: Notification, built: T) -> None:
        # the entry holds the object itself, so its id cannot be reused while the entry lives
        self._items[id(notification)] = (notification, built)
        self._items.move_to_end(id(notification))
        while len(self._items) > self._size:
            self._items.popitem(last=False)
