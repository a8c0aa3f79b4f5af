"""Target discovery: static targets, Prometheus file_sd files, the platform adapter.

:data:`DISCOVERERS` is the table keyed by the job's config ``type``; :func:`discoverer_for` builds one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from collector.config import FileJob, PlatformJob, StaticJob
from collector.discovery.base import Discoverer, Publish, TargetGroup
from collector.discovery.file import FileDiscoverer, parse_file_sd
from collector.discovery.platform import PlatformDiscoverer, target_labels_from_url
from collector.discovery.static import StaticDiscoverer, WithStaticGroups, static_groups
from collector.errors import DiscoveryError
from platforms.base import Platform

__all__ = [
    "DISCOVERERS",
    "Discoverer",
    "FileDiscoverer",
    "PlatformDiscoverer",
    "Publish",
    "StaticDiscoverer",
    "TargetGroup",
    "discoverer_for",
    "parse_file_sd",
    "target_labels_from_url",
]

OnError = Callable[[DiscoveryError], None]


def _static(job: StaticJob | FileJob | PlatformJob, _: Platform | None, __: Path, ___: OnError) -> Discoverer:
    if not isinstance(job, StaticJob):
        raise TypeError(job)
    return StaticDiscoverer(job)


def _file(
    job: StaticJob | FileJob | PlatformJob, _: Platform | None, base_dir: Path, on_error: OnError
) -> Discoverer:
    if not isinstance(job, FileJob):
        raise TypeError(job)
    files = FileDiscoverer(job.files, job.refresh_interval_s, base_dir=base_dir, on_error=on_error)
    if job.static_configs:
        return WithStaticGroups(files, static_groups(job.name, job.static_configs))
    return files


def _platform(
    job: StaticJob | FileJob | PlatformJob, platform: Platform | None, _: Path, on_error: OnError
) -> Discoverer:
    if not isinstance(job, PlatformJob):
        raise TypeError(job)
    if platform is None:
        raise DiscoveryError(f"job {job.name}: type platform needs a `platform:` section in the config")
    return PlatformDiscoverer(platform, job.refresh_interval_s, on_error=on_error)


DISCOVERERS: dict[
    str, Callable[[StaticJob | FileJob | PlatformJob, Platform | None, Path, OnError], Discoverer]
] = {
    "static": _static,
    "file": _file,
    "platform": _platform,
}


def discoverer_for(
    job: StaticJob | FileJob | PlatformJob, platform: Platform | None, base_dir: Path, on_error: OnError
) -> Discoverer:
    """The discoverer for ``job`` (its config ``type``); raises DiscoveryError when it cannot be built."""
    return DISCOVERERS[job.type](job, platform, base_dir, on_error)
