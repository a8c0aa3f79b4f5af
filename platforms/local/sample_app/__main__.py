"""``python -m platforms.local.sample_app --port P --app NAME --index N``: run one sample-app instance.

Start-time settings of a revision come from the environment: ``SAMPLE_APP_VERSION`` (default of
``--version``), a startup fault, ``SAMPLE_APP_FAULT`` (+ ``_RATE``, ``_DELAY_MS``; see ``faults``), and
``SAMPLE_APP_START_DELAY_MS``: a slow release that opens its port only that long after it started (at most
10 minutes), as an app warming caches does.
"""

from __future__ import annotations

import argparse
import logging
import os
import time

import prometheus_client

from platforms.local.sample_app.faults import FaultRequestError, fault_from_env
from platforms.local.sample_app.server import SampleApp

ENV_VERSION = "SAMPLE_APP_VERSION"
ENV_START_DELAY = "SAMPLE_APP_START_DELAY_MS"
MAX_START_DELAY_MS = 600_000


def _start_delay_s(environ: os._Environ[str] | dict[str, str]) -> float:
    raw = environ.get(ENV_START_DELAY) or "0"
    if not raw.isdigit() or int(raw) > MAX_START_DELAY_MS:
        raise ValueError(f"{ENV_START_DELAY} must be a whole number of ms, 0..{MAX_START_DELAY_MS}: {raw!r}")
    return int(raw) / 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m platforms.local.sample_app", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--app", required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--version", default=os.environ.get(ENV_VERSION) or "1.0.0")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        delay_s = _start_delay_s(os.environ)
    except ValueError as exc:
        parser.error(str(exc))
    if delay_s:
        logging.getLogger("sample_app").info("slow start: opening the port in %.1f s", delay_s)
        time.sleep(delay_s)  # the point of the setting: nothing listens meanwhile
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call]  # this process only: fewer series per instance
    app = SampleApp(args.app, args.index, args.port, args.version)
    try:
        fault = fault_from_env(os.environ, app.faults.clock())
    except FaultRequestError as exc:
        parser.error(str(exc))
    if fault is not None:
        app.faults.set(fault)
        logging.getLogger("sample_app").warning(
            "startup fault from the environment: kind=%s rate=%g delay_ms=%d",
            fault.kind,
            fault.rate,
            fault.delay_ms,
        )
    logging.getLogger("sample_app").info("%s/%d listening on 127.0.0.1:%d", args.app, args.index, app.port)
    app.serve_forever()


if __name__ == "__main__":
    main()
