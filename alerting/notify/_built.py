"""What a notifier built for one notification, kept for that notification's retries.

The retry policy (:mod:`alerting.notify.retry`) calls ``notify`` again with the *same* notification object
after a failure. Building the request is the costly part for a big group (megabytes of JSON or MIME for
thousands of alerts, about a second of CPU), and Alertmanager, too, retries the payload it built once; so a
notifier looks the notification up here first. Keyed by identity and held weakly: an entry goes when its
notification does (delivery over), so a few megabytes are kept only while they may still be resent.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Generic, TypeVar

from alerting.model import Notification

__all__ = ["BuiltCache"]

T = TypeVar("T")


class BuiltCache(Generic[T]):
    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._items: OrderedDict[int, tuple[weakref.ref[Notification], T]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, notification: Notification) -> T | None:
        hit = self._items.get(id(notification))
        if hit is None or hit[0]() is not notification:
            return None
        return hit[1]

    def put(self, notification: Notification, built: T) -> None:
        key = id(notification)
        items = self._items

        def forget(ref: weakref.ref[Notification]) -> None:  # the notification is gone: so is its entry
            hit = items.get(key)
            if hit is not None and hit[0] is ref:
                items.pop(key, None)

        items[key] = (weakref.ref(notification, forget), built)
        items.move_to_end(key)
        while len(items) > self._size:
            items.popitem(last=False)
