"""Streaming anomaly detection per series: ``learn_one`` / ``score_one`` in [0, 1], warm-up returns 0."""
