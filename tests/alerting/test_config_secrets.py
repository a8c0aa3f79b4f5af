"""Receiver secrets: typed SecretStr at load (even in the untyped integration dicts), still usable by the
notifiers, and ``<secret>`` in every dump (``/api/v2/status``)."""

from __future__ import annotations

import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from alerting.am_api import am_router
from alerting.config import AlertingConfig, notifier_config
from alerting.dispatch import Dispatcher
from alerting.notify import EmailConfig, WebhookConfig
from tests.alerting._dispatch_support import Recorders

CONFIG = """
global:
  smtp_smarthost: 127.0.0.1:2525
  smtp_from: pm@example.com
  smtp_auth_username: mailer
  smtp_auth_password: glob-pass-1
  http_config: {authorization: {type: Bearer, credentials: http-cred-2}}
route: {receiver: ops}
receivers:
  - name: ops
    notifiers:
      - {type: webhook, url: 'http://hook:url-pass-3@127.0.0.1:9/hook', bearer_token: bearer-4}
      - {type: email, to: [a@example.com], sender: pm@example.com, username: u, password: mail-pass-5}
  - name: am-style
    email_configs:
      - {to: b@example.com, auth_username: v, auth_password: am-pass-6}
    webhook_configs:
      - {url: 'http://w:basic-pass-7@127.0.0.1:9/x', bearer_token: bearer-8}
"""
SECRETS = [
    "glob-pass-1",
    "http-cred-2",
    "url-pass-3",
    "bearer-4",
    "mail-pass-5",
    "am-pass-6",
    "basic-pass-7",
    "bearer-8",
]


def _config() -> AlertingConfig:
    return AlertingConfig.model_validate(yaml.safe_load(CONFIG))


def test_secret_options_are_typed_and_still_usable() -> None:
    cfg = _config()
    ops, am = cfg.receivers
    webhook, mail = ops.integrations()
    assert isinstance(webhook["bearer_token"], SecretStr) and isinstance(mail["password"], SecretStr)
    assert isinstance(cfg.global_.http_config, dict)
    assert isinstance(cfg.global_.http_config["authorization"]["credentials"], SecretStr)
    am_hook, am_mail = am.integrations()  # webhook_configs before email_configs
    assert isinstance(am_mail["auth_password"], SecretStr)
    assert isinstance(am_hook["bearer_token"], SecretStr)
    assert "bearer-4" not in repr(cfg) and "mail-pass-5" not in repr(cfg)
    built_hook = notifier_config(webhook, cfg.global_)
    built_mail = notifier_config(mail, cfg.global_)
    built_am = notifier_config(am_mail, cfg.global_)
    assert isinstance(built_hook, WebhookConfig) and isinstance(built_mail, EmailConfig)
    assert isinstance(built_am, EmailConfig)
    assert built_hook.bearer_token is not None and built_hook.bearer_token.get_secret_value() == "bearer-4"
    assert built_mail.password is not None and built_mail.password.get_secret_value() == "mail-pass-5"
    assert built_am.password is not None and built_am.password.get_secret_value() == "am-pass-6"
    assert str(built_hook.url) == "http://hook:url-pass-3@127.0.0.1:9/hook"  # the notifier's URL is whole
    built_am_hook = notifier_config(am_hook, cfg.global_)
    assert isinstance(built_am_hook, WebhookConfig)
    assert str(built_am_hook.url) == "http://w:basic-pass-7@127.0.0.1:9/x"


def test_reloading_the_same_file_is_equal() -> None:
    assert _config() == _config()


def test_v2_status_shows_secret_placeholders_only() -> None:
    app = FastAPI()
    app.include_router(am_router(Dispatcher(_config(), Recorders())))
    status = TestClient(app).get("/api/v2/status").json()
    original = status["config"]["original"]
    assert not [s for s in SECRETS if s in original], original
    parsed = yaml.safe_load(original)  # still a config a client (amtool config show) can print and parse
    hook = parsed["receivers"][0]["notifiers"][0]
    assert hook == {
        "type": "webhook",
        "url": "<secret>",  # a chat webhook's path or ?key= is its credential
        "bearer_token": "<secret>",
    }
    assert parsed["receivers"][1]["webhook_configs"][0]["url"] == "<secret>"
    assert "/hook" not in original and "127.0.0.1:9/x" not in original
    assert parsed["global"]["smtp_auth_password"] == "<secret>"
    assert parsed["global"]["http_config"]["authorization"] == {"type": "Bearer", "credentials": "<secret>"}
