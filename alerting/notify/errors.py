"""Errors of :mod:`alerting.notify`.

::

    AlertingError (alerting.base)
    └── NotifyError            a notifier could not be built or could not render (causes chained)
        ├── NotifyConfigError  invalid receiver configuration (unknown type, unreadable templates dir)
        └── TemplateError      a Jinja2 template failed to load, compile or render (sandbox violations too)

Delivery failures are *not* raised: notifiers return :class:`alerting.base.NotifyResult` with a ``reason``
of the form ``"<category>: <detail>"`` (``http_5xx``, ``http_4xx``, ``timeout``, ``connect``, ``smtp``,
``smtp_auth``, ``template``, ...); the category becomes the ``reason`` label of the delivery metrics.
"""

from __future__ import annotations

from alerting.base import AlertingError

__all__ = ["NotifyConfigError", "NotifyError", "TemplateError"]


class NotifyError(AlertingError):
    """Base of the notify package's errors."""


class NotifyConfigError(NotifyError):
    """A receiver configuration cannot be used."""


class TemplateError(NotifyError):
    """A template failed to load, compile or render."""
