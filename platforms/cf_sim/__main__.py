"""``python -m platforms.cf_sim [STATE_DIR]``: run a simulated foundation until interrupted.

Prints one JSON line with the CC and UAA URLs and this run's users and clients (passwords and secrets are
fresh each run), then serves until SIGINT or SIGTERM. Without STATE_DIR a temporary directory is used.
"""

from __future__ import annotations

import json
import signal
import sys
import tempfile
import threading
from pathlib import Path

from platforms.cf_sim.runner import SimulatedFoundation


def main(argv: list[str]) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with tempfile.TemporaryDirectory(prefix="cfsim-") as tmp:
        root = Path(argv[0]) if argv else Path(tmp)
        with SimulatedFoundation(root) as cf:
            print(json.dumps(cf.credentials()), flush=True)
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
