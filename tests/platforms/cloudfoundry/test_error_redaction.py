"""Cloud Foundry errors never carry a URL password or a token query value (they reach logs and the API)."""

from __future__ import annotations

from platforms.cloudfoundry.errors import CFUnavailableError


def test_error_message_is_redacted() -> None:
    exc = CFUnavailableError(
        "POST /oauth/token", "cannot reach https://admin:uaa-pass-1@uaa.example/oauth/token?token=t0k3n-2"
    )
    text = str(exc)
    assert "uaa-pass-1" not in text and "t0k3n-2" not in text
    assert "https://admin:<secret>@uaa.example/oauth/token?token=<secret>" in text
    assert exc.call == "POST /oauth/token"
