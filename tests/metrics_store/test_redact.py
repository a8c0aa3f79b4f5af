"""metrics_store.redact: secrets become ``<secret>`` in dumps, URLs, free text and log records."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, HttpUrl, SecretStr

from metrics_store.redact import (
    SECRET,
    RedactingFilter,
    install_log_redaction,
    is_secret_key,
    redact,
    redact_text,
    redact_url,
    redacted_dump,
    scrub,
)


@pytest.mark.parametrize(
    "key",
    ["password", "auth_password", "smtp_auth_password", "bearer_token", "client_secret", "api_key",
     "credentials", "token", "Password"],
)  # fmt: skip
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["username", "tokens_file", "url", "to", "host", "group_key", "sender"])
def test_ordinary_keys(key: str) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("http://hook:pw123@127.0.0.1:9/hook", "http://hook:<secret>@127.0.0.1:9/hook"),
        ("https://TOKEN123@example.com/x", "https://<secret>@example.com/x"),
        ("https://example.com/a?token=abc&page=2", "https://example.com/a?token=<secret>&page=2"),
        ("https://example.com/a?page=2", "https://example.com/a?page=2"),
        ("not a url", "not a url"),
        ("see http://u:pw@h/x for details", "see http://u:<secret>@h/x for details"),
    ],
)
def test_redact_url(url: str, want: str) -> None:
    assert redact_url(url) == want


def test_redact_text_finds_urls_and_query_secrets_inside_prose() -> None:
    text = "POST http://u:hunter22@h:9/x failed; retry http://h/approve?token=1700.abcdef&x=1 now"
    out = redact_text(text)
    assert "hunter22" not in out and "1700.abcdef" not in out
    assert "http://u:<secret>@h:9/x" in out and "token=<secret>&x=1" in out


def test_scrub_removes_known_values() -> None:
    assert scrub("auth failed for Bearer s3cr3t-value", ["s3cr3t-value", "ab"]) == (
        f"auth failed for Bearer {SECRET}"
    )


class _Inner(BaseModel):
    password: SecretStr | None = None
    url: HttpUrl


class _Outer(BaseModel):
    name: str
    inner: _Inner
    path: Path
    options: dict[str, object]


def test_redacted_dump_is_json_able_and_has_no_secret() -> None:
    model = _Outer(
        name="n",
        inner=_Inner(password=SecretStr("pw-1"), url=HttpUrl("https://a:pw-2@example.com/")),
        path=Path("/tmp/x"),
        options={"bearer_token": "pw-3", "nested": [{"auth_password": "pw-4"}], "port": 25, "tls": True},
    )
    out = redacted_dump(model)
    assert "pw-" not in repr(out)
    assert out["inner"]["password"] == SECRET
    assert out["inner"]["url"] == "https://a:<secret>@example.com/"
    assert out["options"] == {
        "bearer_token": SECRET,
        "nested": [{"auth_password": SECRET}],
        "port": 25,
        "tls": True,
    }
    assert out["path"] == "/tmp/x"


def test_webhook_urls_are_secrets_in_every_shape() -> None:
    """Slack, Teams and Google Chat webhooks carry their credential in the path or ``?key=``: the whole URL
    is ``<secret>`` (Alertmanager's ``SecretURL``); other URLs keep all but their password."""
    hook = "https://chat.example.com/v1/spaces/AAA/messages?key=k-1&token=t-2"
    data = {
        "notifiers": [{"type": "webhook", "url": HttpUrl(hook)}, {"type": "email", "url": "http://a/b"}],
        "webhook_configs": [{"url": hook, "send_resolved": True}],
        "slack_configs": [{"api_url": hook, "channel": "#ops"}],
        "msteams_configs": [{"webhook_url": hook}],
        "global": {"slack_api_url": hook},
        "external_url": "http://paramedic.example.com/base",
        "email_configs": [{"url": "http://u:p-3@mail.example.com/x"}],
    }
    out = redact(data)
    assert out["notifiers"] == [{"type": "webhook", "url": SECRET}, {"type": "email", "url": "http://a/b"}]
    assert out["webhook_configs"] == [{"url": SECRET, "send_resolved": True}]
    assert out["slack_configs"] == [{"api_url": SECRET, "channel": "#ops"}]
    assert out["msteams_configs"] == [{"webhook_url": SECRET}]
    assert out["global"] == {"slack_api_url": SECRET}
    assert out["external_url"] == "http://paramedic.example.com/base"
    assert out["email_configs"] == [{"url": "http://u:<secret>@mail.example.com/x"}]
    assert redact({"type": "webhook", "url": None}) == {"type": "webhook", "url": None}


def test_redact_keeps_none_and_plain_values() -> None:
    assert redact({"password": None, "user": "bob", "n": 1.5}) == {"password": None, "user": "bob", "n": 1.5}


def test_filter_redacts_message_args_and_traceback() -> None:
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "send to %s", ("http://u:pw-x@h/",), None)
    try:
        raise RuntimeError("cannot reach http://u:pw-y@h/")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    line = logging.Formatter().format(record)
    assert "pw-x" not in line and "pw-y" not in line
    assert "http://u:<secret>@h/" in line


def test_installed_redaction_covers_every_logger_and_handler() -> None:
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(self.format(record))

    logger = logging.getLogger("tests.redact.installed")
    logger.propagate = False
    handler = Keep()
    logger.addHandler(handler)
    previous = install_log_redaction()
    try:
        logger.warning("POST %s refused", "http://h/x/approve?token=1790000000.abc")
        try:
            raise ValueError("http://u:pw-z@h/")
        except ValueError:
            logger.exception("failed")
    finally:
        logging.setLogRecordFactory(previous)
        logger.removeHandler(handler)
    assert seen[0] == "POST http://h/x/approve?token=<secret> refused"
    assert "pw-z" not in seen[1] and "http://u:<secret>@h/" in seen[1]
