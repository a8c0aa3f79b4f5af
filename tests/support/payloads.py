"""Small request bodies several test modules send."""

from __future__ import annotations

from typing import Any

__all__ = ["SILENCE"]

# An Alertmanager v2 silence (POST /api/v2/silences) in the future, matching alertname="X".
SILENCE: dict[str, Any] = {
    "matchers": [{"name": "alertname", "value": "X", "isRegex": False, "isEqual": True}],
    "startsAt": "2030-01-01T00:00:00Z",
    "endsAt": "2030-01-01T01:00:00Z",
    "createdBy": "t",
    "comment": "c",
}
