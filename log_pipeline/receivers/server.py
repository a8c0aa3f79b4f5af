"""``LogReceivers``: starts and stops every configured listener in front of one spool."""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Literal

from prometheus_client import CollectorRegistry

from log_pipeline.base import LogPipelineError, Spool
from log_pipeline.config import LogsConfig, TlsListenerConfig
from log_pipeline.receivers._conn import Context, RelpConnection, SyslogStreamConnection, SyslogUdpReceiver
from log_pipeline.receivers._limits import Slots, StreamLimits
from log_pipeline.receivers._metrics import ReceiverMetrics

__all__ = ["DEFAULT_BACKLOG", "LogReceivers", "ReceiverError"]

# each stream listener's listen backlog (``LogReceivers(backlog=...)``): asyncio accepts up to this many
# connections per loop pass before a cap can refuse any, so an accept flood briefly holds a few backlogs of
# descriptors; ``paramedic serve`` passes a smaller one where the open-files limit is tight (paramedic.fds)
DEFAULT_BACKLOG = 512

log = logging.getLogger("log_pipeline.receivers")
Listener = Literal["relp", "tcp", "udp", "tls"]


class ReceiverError(LogPipelineError):
    """A listener cannot start (port in use, bad certificate); the OSError/SSLError is chained."""


def _tls_context(cfg: TlsListenerConfig) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
    if cfg.client_ca_file:
        ctx.load_verify_locations(cfg.client_ca_file)
        ctx.verify_mode = ssl.CERT_REQUIRED if cfg.require_client_cert else ssl.CERT_OPTIONAL
    elif cfg.require_client_cert:
        raise ReceiverError("logs.tls.require_client_cert needs logs.tls.client_ca_file")
    return ctx


def _slots(max_connections: int, idle_timeout_s: float) -> Slots:
    return Slots(StreamLimits(max_connections, idle_timeout_s))


class LogReceivers:
    """RELP, syslog TCP/UDP and TLS listeners appending to ``spool``; ``ports`` has the bound ports.

    Each stream listener has its own connection cap and idle timeout (``max_connections``,
    ``idle_timeout_s``; a TLS handshake must finish within ``min(60, idle_timeout_s)`` seconds, before
    the connection takes a slot). Start/stop from one asyncio loop. ``stop`` closes the listeners, tells
    RELP peers ``serverclose``, waits (bounded) for appends in flight; it does not close the spool (its
    owner does, after stop). ``backlog``: each stream listener's listen backlog (:data:`DEFAULT_BACKLOG`).
    """

    def __init__(
        self,
        config: LogsConfig,
        spool: Spool,
        registry: CollectorRegistry | None = None,
        append_threads: int = 4,
        backlog: int = DEFAULT_BACKLOG,
    ) -> None:
        self.config = config
        self.backlog = backlog
        self.metrics = ReceiverMetrics.create(registry)
        self._ctx = Context(spool, self.metrics, append_threads)
        self._servers: list[asyncio.Server] = []
        self._udp: tuple[asyncio.DatagramTransport, SyslogUdpReceiver] | None = None
        self.ports: dict[Listener, int] = {}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        cfg = self.config
        ctx = self._ctx
        try:
            if cfg.relp is not None:
                relp = cfg.relp
                relp_slots = _slots(relp.max_connections, relp.idle_timeout_s)
                srv = await loop.create_server(
                    lambda: RelpConnection(ctx, relp_slots, relp.max_frame_bytes),
                    relp.host,
                    relp.port,
                    backlog=self.backlog,
                )
                self._add("relp", srv)
            if cfg.syslog_tcp is not None:
                tcp = cfg.syslog_tcp
                tcp_slots = _slots(tcp.max_connections, tcp.idle_timeout_s)
                srv = await loop.create_server(
                    lambda: SyslogStreamConnection(ctx, tcp_slots, "tcp", "auto", tcp.max_message_bytes),
                    tcp.host,
                    tcp.port,
                    backlog=self.backlog,
                )
                self._add("tcp", srv)
            if cfg.syslog_udp is not None:
                udp = cfg.syslog_udp
                transport, proto = await loop.create_datagram_endpoint(
                    lambda: SyslogUdpReceiver(
                        ctx,
                        udp.queue_messages,
                        queue_bytes=udp.queue_bytes,
                        max_message_bytes=udp.max_message_bytes,
                    ),
                    local_addr=(udp.host, udp.port),
                )
                self._udp = (transport, proto)
                self.ports["udp"] = int(transport.get_extra_info("sockname")[1])
            if cfg.tls is not None:
                tls = cfg.tls
                tls_slots = _slots(tls.max_connections, tls.idle_timeout_s)
                srv = await loop.create_server(
                    lambda: SyslogStreamConnection(ctx, tls_slots, "tls", "octet", tls.max_message_bytes),
                    tls.host,
                    tls.port,
                    ssl=_tls_context(tls),
                    ssl_handshake_timeout=min(60.0, tls.idle_timeout_s),
                    backlog=self.backlog,
                )
                self._add("tls", srv)
        except (OSError, ssl.SSLError) as e:
            await self.stop()
            raise ReceiverError(f"cannot start log listeners: {e}") from e
        log.info("log receivers listening: %s", self.ports)

    def _add(self, name: Listener, srv: asyncio.Server) -> None:
        self._servers.append(srv)
        self.ports[name] = int(srv.sockets[0].getsockname()[1])

    async def stop(self, timeout_s: float = 5.0) -> None:
        for srv in self._servers:
            srv.close()
        if self._udp is not None:
            transport, proto = self._udp
            transport.close()
            await proto.aclose(timeout_s)
            self._udp = None
        for conn in list(self._ctx.connections):
            conn.shutdown()
        tasks = list(self._ctx.tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for t in pending:
                t.cancel()
        for srv in self._servers:
            await srv.wait_closed()
        self._servers.clear()
        self._ctx.executor.shutdown(wait=False, cancel_futures=True)
