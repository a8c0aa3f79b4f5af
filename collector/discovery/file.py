"""Prometheus ``file_sd`` targets (``type: file``): JSON or YAML lists of ``{targets: [...], labels: {...}}``.

Files (globs allowed, relative to ``base_dir``) are re-read when their stat changes (polled every
``poll_interval_s``) and unconditionally every ``refresh_interval_s``. A file that cannot be read or parsed
keeps its last good targets; the error names the file and the entry and is logged once per change.
A file that disappears takes its targets with it. Each target gets ``__meta_filepath``.
"""

from __future__ import annotations

import asyncio
import glob
import json
import logging
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from collector.discovery.base import Publish, TargetGroup
from collector.errors import DiscoveryError
from metrics_store.yaml_errors import load_yaml

__all__ = ["FileDiscoverer", "parse_file_sd"]

log = logging.getLogger("collector.discovery")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_Stat = tuple[int, int, int]


def parse_file_sd(path: str, text: str) -> list[TargetGroup]:
    """Parse one file_sd document; raises :class:`DiscoveryError` naming ``path`` and the entry."""
    try:
        data: Any = json.loads(text) if path.endswith(".json") else load_yaml(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DiscoveryError(
            f"{path}: not valid {'JSON' if path.endswith('.json') else 'YAML'}: {exc}"
        ) from exc
    if data is None:
        return []
    if not isinstance(data, list):
        raise DiscoveryError(f"{path}: the top level must be a list of {{targets, labels}} entries")
    groups = []
    for i, entry in enumerate(data):
        where = f"{path}: entry [{i}]"
        if not isinstance(entry, dict):
            raise DiscoveryError(f"{where}: must be a mapping with targets and labels")
        unknown = set(entry) - {"targets", "labels"}
        if unknown:
            raise DiscoveryError(f"{where}: unknown key(s) {sorted(unknown)} (only targets, labels)")
        targets = entry.get("targets") or []
        if not isinstance(targets, list) or not all(isinstance(t, str) and t for t in targets):
            raise DiscoveryError(f"{where}: targets: must be a list of host:port strings")
        labels = entry.get("labels") or {}
        if not isinstance(labels, dict):
            raise DiscoveryError(f"{where}: labels: must be a mapping of label name to string")
        for name, value in labels.items():
            if not isinstance(name, str) or not _LABEL_NAME.match(name):
                raise DiscoveryError(f"{where}: labels: {name!r} is not a valid label name")
            if not isinstance(value, str):
                raise DiscoveryError(f"{where}: labels.{name}: must be a string (quote it)")
        group_labels = {**labels, "__meta_filepath": path}
        groups.append(
            TargetGroup(
                source=f"file:{path}[{i}]",
                targets=tuple({"__address__": t} for t in targets),
                labels=group_labels,
            )
        )
    return groups


class FileDiscoverer:
    def __init__(
        self,
        files: list[str],
        refresh_interval_s: float,
        *,
        base_dir: Path,
        poll_interval_s: float = 0.5,
        on_error: Callable[[DiscoveryError], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._patterns = [p if Path(p).is_absolute() else str(base_dir / p) for p in files]
        self._refresh = refresh_interval_s
        self._poll = min(poll_interval_s, refresh_interval_s)
        self._on_error = on_error
        self._monotonic = monotonic
        self._stats: dict[str, _Stat] = {}
        self._groups: dict[str, list[TargetGroup]] = {}
        self._errors: dict[str, str] = {}
        self._last_full = float("-inf")

    @property
    def errors(self) -> dict[str, str]:
        """Current error per file (empty when every file is good)."""
        return dict(self._errors)

    def _paths(self) -> list[str]:
        found: set[str] = set()
        for pattern in self._patterns:
            # Path.glob cannot take an absolute pattern
            found.update(glob.glob(pattern) if glob.has_magic(pattern) else [pattern])  # noqa: PTH207
        return sorted(found)

    def scan(self, force: bool) -> list[TargetGroup]:
        """One pass over the files (blocking; run in a worker thread). Returns every current group."""
        seen = set()
        for path in self._paths():
            try:
                st = Path(path).stat()
            except FileNotFoundError:
                continue
            except OSError as exc:
                self._problem(path, DiscoveryError(f"{path}: cannot stat: {exc.strerror}"))
                seen.add(path)
                continue
            seen.add(path)
            stat = (st.st_mtime_ns, st.st_size, st.st_ino)
            if not force and self._stats.get(path) == stat:
                continue
            self._stats[path] = stat
            try:
                text = Path(path).read_text(encoding="utf-8")
                groups = parse_file_sd(path, text)
            except OSError as exc:
                self._problem(path, DiscoveryError(f"{path}: cannot read: {exc.strerror}"))
                continue
            except UnicodeDecodeError as exc:
                self._problem(path, DiscoveryError(f"{path}: not UTF-8 text: {exc.reason}"))
                continue
            except DiscoveryError as exc:
                self._problem(path, exc)
                continue
            if path in self._errors:
                log.info("%s: file_sd file is valid again", path)
                del self._errors[path]
            self._groups[path] = groups
        for gone in set(self._groups) - seen:
            del self._groups[gone]
            self._stats.pop(gone, None)
            self._errors.pop(gone, None)
        for gone in set(self._errors) - seen:
            del self._errors[gone]
        return [g for path in sorted(self._groups) for g in self._groups[path]]

    def _problem(self, path: str, error: DiscoveryError) -> None:
        if self._on_error is not None:
            self._on_error(error)
        if self._errors.get(path) != str(error):
            kept = sum(len(g.targets) for g in self._groups.get(path, []))
            log.error("file_sd: %s (keeping the %d targets last read from it)", error, kept)
            self._errors[path] = str(error)

    async def run(self, publish: Publish) -> None:
        last: list[TargetGroup] | None = None
        while True:
            now = self._monotonic()
            force = now - self._last_full >= self._refresh
            if force:
                self._last_full = now
            groups = await asyncio.to_thread(self.scan, force)
            if groups != last:
                last = groups
                publish(groups)
            await asyncio.sleep(self._poll)
