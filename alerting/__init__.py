"""Alerting: rule evaluation, anomaly detection, Alertmanager-style dispatch and notification.

``rules`` (Prometheus-compatible rule groups and unit tests) and ``anomaly`` (streaming detectors) send alerts
to an :class:`~alerting.base.AlertSink`; ``dispatch`` groups, routes, silences and inhibits them and hands
notifications to ``notify`` (email, webhook, one retry policy); ``am_api`` serves the Alertmanager v2 API.
Alerting never imports remediation: remediation subscribes to alerts as another sink.
"""
