"""Streaming anomaly detection per series: ``learn_one`` / ``score_one`` in [0, 1], warm-up returns 0.

:func:`default_detector` is the one factory the online engine and ``paramedic anomaly score`` both use.
"""

from __future__ import annotations

from alerting.anomaly._ensemble import EnsembleConfig, EnsembleDetector

__all__ = [
    "EnsembleConfig",
    "EnsembleDetector",
    "default_detector",
]


def default_detector() -> EnsembleDetector:
    """The detector every series gets (one configuration for all series; benchmarked by ``bench/nab.py``)."""
    return EnsembleDetector(EnsembleConfig())
