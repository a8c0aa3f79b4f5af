"""The demo's node exporter reports the root filesystem, also where it is an overlay (a container's root).

The real node exporter runs with the command line the local platform starts it with. The overlay case reads a
mount table written here (``--path.procfs``: node_exporter lists mounts from ``<procfs>/1/mounts`` and
statfs()s their real paths), since this machine's own root may be ext4."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from platforms.local.runner import node_exporter_command
from platforms.local.state import free_port
from tests.support.servers import require_binary, wait_start

# A container's mount table: the root is an overlay; the pseudo filesystems and /run must stay out.
_OVERLAY_ROOT_MOUNTS = """\
overlay / overlay rw,relatime,lowerdir=/l,upperdir=/u,workdir=/w 0 0
proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0
tmpfs /dev tmpfs rw,nosuid,size=65536k,mode=755 0 0
sysfs /sys sysfs ro,nosuid,nodev,noexec,relatime 0 0
tmpfs /run tmpfs rw,nosuid,nodev,mode=755 0 0
overlay /var/lib/docker/overlay2/abc/merged overlay rw,relatime 0 0
"""


@contextmanager
def _node_exporter(*extra: str) -> Iterator[str]:
    """Run the demo's node exporter (plus ``extra`` flags); yields its /metrics text once it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    cmd = [*node_exporter_command(require_binary("prometheus-node-exporter"), port), *extra]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:

        def answers() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"node exporter exited: {proc.stderr.read() if proc.stderr else b''!r}")
            try:
                return httpx.get(url, timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        wait_start(answers, 20, url)
        yield httpx.get(url, timeout=5.0).text
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _avail_mountpoints(metrics: str) -> dict[str, str]:
    """mountpoint -> fstype of every ``node_filesystem_avail_bytes`` series."""
    out = {}
    for line in metrics.splitlines():
        if line.startswith("node_filesystem_avail_bytes{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
            out[labels["mountpoint"]] = labels["fstype"]
    return out


def test_an_overlay_root_filesystem_is_collected_and_pseudo_filesystems_are_not(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "mounts").write_text(_OVERLAY_ROOT_MOUNTS)
    with _node_exporter(f"--path.procfs={tmp_path}") as metrics:
        found = _avail_mountpoints(metrics)
    assert found == {"/": "overlay"}, found  # not /proc, /dev, /sys, /run, nor another container's overlay


def test_this_machines_root_filesystem_is_collected() -> None:
    with _node_exporter() as metrics:
        found = _avail_mountpoints(metrics)
    assert "/" in found, found
