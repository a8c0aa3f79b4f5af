"""What every CC route needs: the state, the accounts, the token verifier and the URLs the root links to,
plus the helpers turning a request into a :class:`Caller` and the visible rows of a list."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from platforms.cf_sim.accounts import Accounts
from platforms.cf_sim.cc_auth import Caller, authenticate, caller_for
from platforms.cf_sim.cc_model import CCError
from platforms.cf_sim.cc_processes import SimProcess
from platforms.cf_sim.cc_state import CCState
from platforms.cf_sim.foundation import CFApp
from platforms.cf_sim.tokens import TokenIssuer

__all__ = ["MAX_BODY_BYTES", "CCContext", "params_of"]

MAX_BODY_BYTES = 64 * 1024


@dataclass(slots=True)
class CCContext:
    state: CCState
    accounts: Accounts
    issuer: TokenIssuer
    uaa_url: str
    base: str = ""  # the CC's own URL; set by the runner once the port is known
    extra_links: dict[str, str] = field(default_factory=dict)  # e.g. {"log_cache": "http://127.0.0.1:P"}

    def caller(self, request: Request) -> Caller:
        claims = authenticate(request.headers.get("authorization"), self.issuer)
        return caller_for(claims, self.accounts, self.state.foundation)

    def visible_app(self, caller: Caller, guid: str) -> CFApp:
        app = self.state.app(guid)
        if not caller.sees_space(app.space_guid):
            raise CCError.not_found("App")
        return app

    def visible_process(self, caller: Caller, guid: str) -> SimProcess:
        proc = self.state.process(guid)
        if not caller.sees_space(proc.app.space_guid):
            raise CCError.not_found("Process")
        return proc


def params_of(request: Request) -> dict[str, Any]:
    return dict(request.query_params)
