"""Remediation: policies that turn alerts into platform actions, behind safety rails, audited.

``policy`` loads and tests policy files; ``engine`` (an :class:`~alerting.base.AlertSink`) matches alerts to
policies, checks the ``rails`` (cooldown, budget, blast radius, concurrency, circuit breaker, lock), runs the
``actions`` (restart, scale, rollback, blue-green) on a platform, verifies the outcome and writes every step
to the ``audit`` log; ``approval`` holds requests that need a human.
"""
