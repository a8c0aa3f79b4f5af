"""``python -m platforms.cf_sim [STATE_DIR] [--drain syslog://HOST:PORT] [--instances N]
[--redirect-uri URL]``: run a simulated foundation (CC, UAA, Log Cache, gorouter and Diego metrics, syslog
drains; :class:`.stack.CFStack`) until interrupted.

Prints one JSON line with the CC, UAA and Log Cache URLs and this run's users and clients (passwords and
secrets are fresh each run), then serves until SIGINT or SIGTERM. Without STATE_DIR a temporary directory is
used.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import threading
from pathlib import Path

from platforms.cf_sim.runner import SimOptions
from platforms.cf_sim.stack import CFStack, StackOptions


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m platforms.cf_sim", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "state_dir", nargs="?", type=Path, help="where the simulated platform keeps its state"
    )
    parser.add_argument("--drain", action="append", default=[], help="syslog://host:port every app drains to")
    parser.add_argument("--instances", type=int, default=2, help="instances per app (1..16)")
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="a redirect URI registered for the paramedic-ui client (UAA log-in), repeatable",
    )
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sim = SimOptions(instances=args.instances, redirect_uris=tuple(args.redirect_uri))
    options = StackOptions(sim=sim, drain_urls=tuple(args.drain))
    with tempfile.TemporaryDirectory(prefix="cfsim-") as tmp:
        root = args.state_dir if args.state_dir is not None else Path(tmp)
        with CFStack(root, options) as cf:
            print(json.dumps(cf.credentials()), flush=True)
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
