"""The options of ``paramedic demo`` (both platforms) and where its state lives by default."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_DATA_DIR", "PLATFORMS", "DemoOptions", "data_dir_flag"]

DEFAULT_DATA_DIR = Path(".paramedic/demo")
PLATFORMS = ("local", "cloudfoundry")


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """The options of ``paramedic demo``. ``platform``: one of :data:`PLATFORMS`; ``apps`` and
    ``relp_port`` are the local platform's (the foundation's apps are fixed; its drains send syslog)."""

    http_port: int = 9300
    apps: int = 2
    instances: int = 3
    scrape_interval_s: float = 5.0
    relp_port: int = 2514
    syslog_port: int = 1514
    platform: str = "local"
    daily: bool = False  # the local demo's second app gets a compressed daily load and a predictive policy
    replicas: int = 1  # local demo: Paramedic replicas joined through etcd (docs/scaling.md)

    def __post_init__(self) -> None:
        if self.platform not in PLATFORMS:
            raise ValueError(
                f"DemoOptions.platform: must be one of {', '.join(PLATFORMS)} (got {self.platform!r})"
            )


def data_dir_flag(data_dir: Path) -> str:
    """`` --data-dir DIR`` for the banner's command lines, or "" for the default data dir."""
    return "" if data_dir == DEFAULT_DATA_DIR.resolve() else f" --data-dir {data_dir}"
