"""``SimulatedFoundation``: a CF-compatible simulated foundation on loopback, for the demo and the tests.

Starts a real local platform (supervisord cells running the sample app for every CF app's local app,
HAProxy as the router, node exporter), then the Cloud Controller and the UAA as uvicorn servers on their own
free 127.0.0.1 ports (as api.* and uaa.* hosts are separate), and a controller loop (crash detection,
deployments, jobs). Passwords and secrets are fresh per run: read them from :attr:`accounts` or
:meth:`password` / :meth:`client_secret`.

Hook for the metrics side (Log Cache and friends, written elsewhere): ``extra_servers`` maps a root-link name
(``"log_cache"``) to a factory ``(foundation) -> ASGI app``; each is served on its own free port after the
platform is up, linked from the CC root document, and its URL is in :attr:`urls`. ``extra_links`` links URLs
served by someone else. Not thread-safe to start/stop from several threads; the servers themselves are.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import prometheus_client
import uvicorn
from prometheus_client import CollectorRegistry

from platforms.cf_sim.accounts import Accounts, default_accounts
from platforms.cf_sim.cc_api import cc_app
from platforms.cf_sim.cc_auth import RateLimiter
from platforms.cf_sim.cc_context import CCContext
from platforms.cf_sim.cc_state import CCState
from platforms.cf_sim.foundation import Foundation, default_foundation
from platforms.cf_sim.sim_metrics import sim_metrics
from platforms.cf_sim.tokens import TokenIssuer
from platforms.cf_sim.uaa import UAA, uaa_app
from platforms.local import LocalPlatform, LocalPlatformRunner
from platforms.local.adapter import MAX_INSTANCES

__all__ = ["ServedApp", "SimOptions", "SimulatedFoundation"]

_log = logging.getLogger(__name__)

AppFactory = Callable[["SimulatedFoundation"], Any]


class ServedApp:
    """One ASGI app served by uvicorn in a thread on a socket bound before start (so the port is known)."""

    def __init__(self, name: str, app: Any, sock: socket.socket) -> None:
        self.name = name
        self._sock = sock
        self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, name=name, daemon=True
        )

    @staticmethod
    def bind() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        return sock

    def start(self, timeout_s: float = 10.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{self.name} did not start on {self.url}")
            time.sleep(0.02)

    def stop(self, timeout_s: float = 5.0) -> None:
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        self._sock.close()


@dataclass(frozen=True, slots=True)
class SimOptions:
    """How the simulated foundation runs. ``rate_limit`` requests per ``rate_window_s`` per user or client;
    ``instances`` per CF app at start; ``tick_s`` the controller loop's period; ``redirect_uris`` those
    registered for the ``paramedic-ui`` client (authorization_code)."""

    foundation: Foundation | None = None
    instances: int = 2
    rate_limit: int = 2000
    rate_window_s: float = 60.0
    token_ttl_s: float = 600.0
    tick_s: float = 0.5
    redirect_uris: tuple[str, ...] = ()
    start_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        problems = [
            f"SimOptions.{name}: {why}"
            for name, bad, why in (
                ("instances", not 1 <= self.instances <= MAX_INSTANCES, f"must be 1..{MAX_INSTANCES}"),
                ("rate_limit", self.rate_limit < 1, "must be at least 1"),
                ("rate_window_s", self.rate_window_s <= 0, "must be positive"),
                ("token_ttl_s", self.token_ttl_s <= 0, "must be positive"),
                ("tick_s", self.tick_s <= 0, "must be positive"),
                ("start_timeout_s", self.start_timeout_s <= 0, "must be positive"),
            )
            if bad
        ]
        problems += [
            f"SimOptions.redirect_uris: {uri!r} is not an http(s) URL"
            for uri in self.redirect_uris
            if not uri.startswith(("http://", "https://"))
        ]
        if problems:
            raise ValueError("; ".join(problems))


class SimulatedFoundation:
    """Context manager: ``with SimulatedFoundation(tmp) as cf: cf.cc_url, cf.password("admin")``."""

    def __init__(
        self,
        root: Path,
        options: SimOptions | None = None,
        *,
        registry: CollectorRegistry = prometheus_client.REGISTRY,
        extra_servers: Mapping[str, AppFactory] | None = None,
        extra_links: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.options = options or SimOptions()
        self.foundation = self.options.foundation or default_foundation()
        self.registry = registry
        self.metrics = sim_metrics(registry)
        self.accounts: Accounts = default_accounts(self.foundation, self.options.redirect_uris)
        self.limiter = RateLimiter(self.options.rate_limit, self.options.rate_window_s)
        self._extra_servers = dict(extra_servers or {})
        self._extra_links = dict(extra_links or {})
        self.local_runner: LocalPlatformRunner | None = None
        self.platform: LocalPlatform | None = None
        self.state: CCState | None = None
        self.issuer: TokenIssuer | None = None
        self.servers: list[ServedApp] = []
        self.urls: dict[str, str] = {}
        self._stop = threading.Event()
        self._loop: threading.Thread | None = None

    # -- what callers read -----------------------------------------------------------------------------------

    @property
    def cc_url(self) -> str:
        return self.urls["cc"]

    @property
    def uaa_url(self) -> str:
        return self.urls["uaa"]

    def password(self, username: str) -> str:
        user = self.accounts.user(username)
        if user is None:
            raise KeyError(username)
        return user.password

    def client_secret(self, client_id: str) -> str:
        client = self.accounts.client(client_id)
        if client is None:
            raise KeyError(client_id)
        return client.secret

    def credentials(self) -> dict[str, object]:
        """Everything a client needs to log in, as JSON-ready data (this run's passwords and secrets)."""
        return {
            "cc_url": self.cc_url,
            "uaa_url": self.uaa_url,
            "urls": dict(self.urls),
            "users": {u.username: u.password for u in self.accounts.users},
            "clients": {c.client_id: c.secret for c in self.accounts.clients},
        }

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> SimulatedFoundation:
        try:
            self._start(self.options.start_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self, timeout_s: float) -> None:
        self.local_runner = LocalPlatformRunner(self.root / "platform", registry=self.registry)
        self.local_runner.init({a.local_app: self.options.instances for a in self.foundation.apps})
        self.local_runner.start(timeout_s=timeout_s)
        self.platform = LocalPlatform(self.root / "platform", registry=self.registry)
        self.state = CCState(self.foundation, self.platform, self.metrics)
        cc_sock, uaa_sock = ServedApp.bind(), ServedApp.bind()
        uaa_url = f"http://127.0.0.1:{uaa_sock.getsockname()[1]}"
        self.issuer = TokenIssuer(f"{uaa_url}/oauth/token")
        uaa = UAA(self.accounts, self.issuer, token_ttl_s=self.options.token_ttl_s)
        ctx = CCContext(
            self.state, self.accounts, self.issuer, uaa_url, f"http://127.0.0.1:{cc_sock.getsockname()[1]}"
        )
        for name, factory in self._extra_servers.items():
            served = ServedApp(name, factory(self), ServedApp.bind())
            self.servers.append(served)
            self.urls[name] = served.url
            ctx.extra_links[name] = served.url
        ctx.extra_links.update(self._extra_links)
        self.servers += [
            ServedApp("uaa", uaa_app(uaa, self.metrics), uaa_sock),
            ServedApp("cc", cc_app(ctx, self.metrics, self.limiter), cc_sock),
        ]
        for served in self.servers:
            served.start()
            self.urls[served.name] = served.url
        self._loop = threading.Thread(target=self._run_loop, name="cfsim-controller", daemon=True)
        self._loop.start()

    def _run_loop(self) -> None:
        while not self._stop.wait(self.options.tick_s):
            if self.state is not None:
                try:
                    self.state.tick()
                except Exception:  # the loop must outlive one bad pass; the next tick retries
                    _log.exception("cf simulator: controller loop pass failed")

    def stop(self) -> None:
        self._stop.set()
        if self._loop is not None:
            self._loop.join(10)
        while self.servers:
            self.servers.pop().stop()
        if self.local_runner is not None:
            self.local_runner.stop()
            self.local_runner = None

    def __enter__(self) -> SimulatedFoundation:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
