"""A second, private rsyslog instance for tests and benches: imtcp input we feed, omrelp (or a file) output.

rsyslog runs as ``rsyslogd -n -f cfg -i pidfile`` with its own workDirectory, stopped by PID. The input is an
imtcp listener on loopback; :func:`feed` writes LF-framed RFC 5424 lines ``... seq=N`` to it.
"""

from __future__ import annotations

import socket
from pathlib import Path

from tests.support.servers import ManagedProcess, free_port, require_binary, wait_until

__all__ = ["Rsyslog", "feed_lines", "relp_forwarder_config", "relp_sink_config"]


def relp_forwarder_config(work: Path, in_port: int, relp_port: int, window: int | None) -> str:
    window_opt = f' windowSize="{window}"' if window else ""
    return f"""
global(workDirectory="{work}" maxMessageSize="64k")
module(load="imtcp")
module(load="omrelp")
input(type="imtcp" address="127.0.0.1" port="{in_port}" ruleset="fwd")
ruleset(name="fwd") {{
  action(type="omrelp" target="127.0.0.1" port="{relp_port}"{window_opt}
         template="RSYSLOG_SyslogProtocol23Format"
         action.resumeRetryCount="-1" action.resumeInterval="1"
         queue.type="LinkedList" queue.size="500000" queue.dequeueBatchSize="1024")
}}
"""


def relp_sink_config(work: Path, relp_port: int, out_file: Path) -> str:
    return f"""
global(workDirectory="{work}" maxMessageSize="64k")
module(load="imrelp")
input(type="imrelp" address="127.0.0.1" port="{relp_port}" ruleset="sink")
ruleset(name="sink") {{
  action(type="omfile" file="{out_file}" template="RSYSLOG_SyslogProtocol23Format"
         asyncWriting="on" ioBufferSize="256k" flushOnTXEnd="off")
}}
"""


class Rsyslog:
    def __init__(self, name: str, work: Path, config: str) -> None:
        require_binary("rsyslogd")
        work.mkdir(parents=True, exist_ok=True)
        self.cfg = work / f"{name}.conf"
        self.cfg.write_text(config)
        self.proc = ManagedProcess(
            name,
            [require_binary("rsyslogd"), "-n", "-f", str(self.cfg), "-i", str(work / f"{name}.pid")],
            work / f"{name}.log",
        )

    def wait_port(self, port: int, timeout_s: float = 15.0) -> None:
        def up() -> bool:
            if self.proc.popen.poll() is not None:
                raise RuntimeError(f"rsyslogd exited:\n{self.proc.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                return False
            return True

        wait_until(up, timeout_s, f"rsyslogd to listen on {port}")

    def stop(self) -> None:
        self.proc.stop()


def feed_lines(sock: socket.socket, start: int, stop: int, host: str = "cell1") -> None:
    """Send ``seq=start..stop-1`` as LF-framed RFC 5424 lines to rsyslog's imtcp."""
    chunk: list[bytes] = []
    for i in range(start, stop):
        chunk.append(b"<14>1 2024-05-01T12:00:00.000Z %s app 42 - - message seq=%d\n" % (host.encode(), i))
        if len(chunk) == 2000:
            sock.sendall(b"".join(chunk))
            chunk.clear()
    if chunk:
        sock.sendall(b"".join(chunk))


def free_ports(n: int) -> list[int]:
    return [free_port() for _ in range(n)]
