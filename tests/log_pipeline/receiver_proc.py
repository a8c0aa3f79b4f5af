"""A receiver process for kill -9 tests and the bench: spool + LogReceivers, ports written to a JSON file.

python -m tests.log_pipeline.receiver_proc SPOOL_DIR PORTS_JSON [--relp-port P] [--fsync never]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
from pathlib import Path

from prometheus_client import CollectorRegistry

from log_pipeline.config import (
    LogsConfig,
    RelpListenerConfig,
    SyslogTcpListenerConfig,
    SyslogUdpListenerConfig,
)
from log_pipeline.receivers import LogReceivers
from log_pipeline.spool import FileSpool


async def main(args: argparse.Namespace) -> None:
    spool = FileSpool(Path(args.spool), fsync=args.fsync)
    cfg = LogsConfig(
        relp=RelpListenerConfig(port=args.relp_port),
        syslog_tcp=SyslogTcpListenerConfig(port=0),
        syslog_udp=SyslogUdpListenerConfig(port=0),
    )
    receivers = LogReceivers(cfg, spool, registry=CollectorRegistry())
    await receivers.start()
    tmp = Path(args.ports + ".tmp")
    tmp.write_text(json.dumps({**receivers.ports, "pid": os.getpid()}))
    tmp.replace(args.ports)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await receivers.stop()
    spool.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("spool")
    p.add_argument("ports")
    p.add_argument("--relp-port", type=int, default=0)
    p.add_argument("--fsync", default="never")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(main(p.parse_args()))
