"""Rules, anomaly detection and alert notification (a later issue)."""
