"""The stranger the real-server connection tests attack from: this host's own non-loopback IPv4 address.

Loopback peers are exempt from the HTTP caps, so these checks need another address of the host; a host with
none (a container with loopback only) cannot run them. Locally they are then deselected and the run ends with
one loud line (tests/conftest.py, as for engines not built); with ``CI`` set they run and fail, because a CI
machine that silently dropped the only real-server coverage of the caps would look green while testing less.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

MARKER = "stranger_address"
NO_ADDRESS = "this host has no non-loopback IPv4 address to play the stranger from"


def non_loopback_address() -> str | None:
    """One of this host's own non-loopback IPv4 addresses (a UDP connect sends nothing), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    """``CI`` set to anything but empty, ``0`` or ``false`` (GitHub Actions and GitLab set ``CI=true``)."""
    return environ.get("CI", "").strip().lower() not in ("", "0", "false")


def deselect_stranger_tests(address: str | None, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the stranger tests are deselected (and reported as not run): without an address, off CI."""
    return address is None and not in_ci(environ)
