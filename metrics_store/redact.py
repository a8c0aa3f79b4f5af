"""Secrets out of everything Paramedic shows or logs: config dumps, log records, error messages.

One function per kind of output, each printing a secret as ``<secret>`` (as Prometheus and Alertmanager do):

* :func:`redact` — a config dump (``model.model_dump(mode="python")`` or any nested dict/list): every
  :class:`~pydantic.SecretStr`/:class:`~pydantic.SecretBytes`, every value under a secret-named key
  (:func:`is_secret_key`: ``password``, ``bearer_token``, ``client_secret``, ``api_key``, ...; for the
  untyped ``dict[str, Any]`` parts of a config), every webhook URL (whose path or ``?key=`` is often the
  credential: Slack, Teams, Google Chat) and the password of every other URL (:func:`redact_url`) becomes
  ``<secret>``; other leaves become JSON-able. :func:`redacted_dump` does it for a pydantic model.
* :func:`redact_text` — free text (a log line, an exception message): URL userinfo and secret-named query
  parameters (``?token=...``).
* :class:`RedactingFilter` — a :class:`logging.Filter` applying :func:`redact_text` to a record (message and
  traceback); :func:`install_log_redaction` applies it to every record the process creates (every logger and
  handler, uvicorn's too), which ``paramedic serve`` does at start.

This module imports nothing of Paramedic's, so every package may use it without breaking the one-way
dependencies (it lives in ``metrics_store`` because every other package already depends on that one).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic_core import to_jsonable_python

__all__ = [
    "SECRET",
    "RedactingFilter",
    "install_log_redaction",
    "is_secret_key",
    "redact",
    "redact_text",
    "redact_url",
    "redacted_dump",
    "scrub",
]

SECRET = "<secret>"  # noqa: S105 -- the placeholder, not a password

# Key names (lower case) whose values are secrets wherever they appear in a config.
_SECRET_KEYS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "credentials",
        "private_key",
        "authorization",
        "routing_key",
        "service_key",
        "user_key",
        "webhook_url",
        "slack_api_url",
    }
)
# URLs that are credentials themselves (Slack, Teams and Google Chat webhooks carry theirs in the path or in
# ``?key=``), as Alertmanager's ``SecretURL``: the option of a mapping tagged ``type: <kind>`` and of the
# items of an Alertmanager-style ``<kind>_configs`` list.
_SECRET_URLS = {"webhook": "url", "slack": "api_url", "msteams": "webhook_url", "discord": "webhook_url"}
_SECRET_SUFFIXES = ("_password", "_secret", "_token", "_api_key", "_credentials")

# scheme://userinfo@ (userinfo bounded, so a long line without "@" costs linear time per start position)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{0,31}://)([^/?#@\s\"'<>]{1,512})@")
# ?token=... / &password=... in a URL or a query string in free text
_QUERY_SECRET = re.compile(r"(?i)([?&;]([a-z0-9_\-]{1,64})=)([^&#\s\"'<>]+)")


def is_secret_key(name: str) -> bool:
    """True for config keys whose values are secrets (``password``, ``auth_password``, ``bearer_token``,
    ``client_secret``, ``api_key``, ``credentials``, ...)."""
    low = name.lower()
    return low in _SECRET_KEYS or low.endswith(_SECRET_SUFFIXES)


def _userinfo(info: str) -> str:
    user, sep, _ = info.partition(":")
    return f"{user}:{SECRET}" if sep else SECRET  # a lone user part may be a token (https://TOKEN@host)


def redact_url(url: str) -> str:
    """``url`` with the password of its userinfo (a lone user part too) and the values of secret-named query
    parameters replaced by ``<secret>``; text that is not one URL goes through :func:`redact_text`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if not parts.scheme or not parts.netloc or any(c.isspace() for c in url):
        return redact_text(url)
    netloc = parts.netloc
    info, at, host = netloc.rpartition("@")
    if at:
        netloc = f"{_userinfo(info)}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_key(k) for k, _ in pairs):
            query = urlencode([(k, SECRET if is_secret_key(k) else v) for k, v in pairs], safe="<>")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _query_secret(m: re.Match[str]) -> str:
    return m.group(1) + SECRET if is_secret_key(m.group(2)) else m.group(0)


def redact_text(text: str) -> str:
    """``text`` with every URL's userinfo password and every secret-named query parameter (``token=``,
    ``password=``, ...) replaced by ``<secret>``."""
    if "@" in text:
        text = _USERINFO.sub(lambda m: m.group(1) + _userinfo(m.group(2)) + "@", text)
    if "=" in text:
        text = _QUERY_SECRET.sub(_query_secret, text)
    return text


def scrub(text: str, secrets: Mapping[str, str] | list[str] | tuple[str, ...]) -> str:
    """``text`` (e.g. an error from an HTTP client) with each known secret value replaced by ``<secret>``,
    then :func:`redact_text`; values shorter than 4 characters are left alone (they would match anywhere)."""
    values = secrets.values() if isinstance(secrets, Mapping) else secrets
    for value in sorted((v for v in values if len(v) >= 4), key=len, reverse=True):
        text = text.replace(value, SECRET)
    return redact_text(text)


def _is_leaf(value: Any) -> bool:
    """A string-like value (str, a pydantic URL, a secret), not a container, number or None."""
    return value is not None and not isinstance(value, Mapping | list | tuple | bool | int | float)


def _secret_url_key(kind: object) -> str | None:
    return _SECRET_URLS.get(kind) if isinstance(kind, str) else None


def redact(value: Any, key: str | None = None, *, url_key: str | None = None) -> Any:
    """A JSON-able copy of ``value`` (a ``model_dump(mode="python")`` or nested dicts/lists) with every secret
    as ``<secret>``: secret types, values under secret-named keys, webhook URLs (``url`` of a ``type:
    webhook`` integration or of a ``webhook_configs`` item, Slack's ``api_url``, ``webhook_url``), URL
    passwords. ``None`` stays ``None``. ``url_key``: the key holding a secret URL in the mapping ``value``."""
    if value is None:
        return None
    if isinstance(value, SecretStr | SecretBytes):
        return SECRET
    if key is not None and is_secret_key(key) and not isinstance(value, Mapping | list | tuple | bool):
        return SECRET
    if isinstance(value, Mapping):
        url_key = url_key or _secret_url_key(value.get("type"))
        return {
            str(k): SECRET if k == url_key and _is_leaf(v) else redact(v, str(k)) for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        item_url_key = (
            _secret_url_key(key.removesuffix("_configs"))
            if key is not None and key.endswith("_configs")
            else None
        )
        return [redact(v, url_key=item_url_key) for v in value]
    if isinstance(value, BaseModel):
        return redact(value.model_dump(mode="python", by_alias=True))
    if isinstance(value, str):
        return redact_url(value) if "://" in value else value
    if isinstance(value, bool | int | float):
        return value
    out = to_jsonable_python(value)  # Path, URL, datetime, enum ... (their text may be a URL)
    return redact_url(out) if isinstance(out, str) and "://" in out else out


def redacted_dump(model: BaseModel, **dump_options: Any) -> dict[str, Any]:
    """``model.model_dump(mode="python", **dump_options)`` through :func:`redact`: JSON-able, no secrets."""
    data = redact(model.model_dump(mode="python", **dump_options))
    if not isinstance(data, dict):
        raise TypeError(f"{type(model).__name__} did not dump to a mapping")
    return data


class RedactingFilter(logging.Filter):
    """Applies :func:`redact_text` to each record's message and traceback (install it on handlers: a filter
    on a logger does not see records propagated from its children)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


def install_log_redaction() -> Callable[..., logging.LogRecord]:
    """Pass every log record this process creates through :class:`RedactingFilter` (a record factory, so
    handlers configured later, such as uvicorn's, are covered). Returns the previous factory (to restore)."""
    previous = logging.getLogRecordFactory()
    scrubber = RedactingFilter()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        scrubber.filter(record)
        return record

    logging.setLogRecordFactory(factory)
    return previous
