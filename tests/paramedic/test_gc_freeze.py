"""The serve's start-up heap is frozen out of the cyclic GC once the lifespan has started everything.

Without it every full collection walks the whole start-up heap (the store, the rules, the app) with the GIL
held: ``bench/gc_pause.py`` measured 27 full collections of up to 114 ms of CPU in 15 s of a serve without
the freeze, none with it (bench/README, "The cyclic GC's pauses")."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from paramedic.assembly import Paramedic
from paramedic.config import parse_config


@pytest.fixture
def gc_state() -> Iterator[None]:
    """Start unfrozen and give the test process its GC settings back: the lifespan changes them."""
    threshold = gc.get_threshold()
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def _in_generations(obj: object) -> bool:
    """Whether the collector still scans ``obj`` (frozen objects are in none of its generations)."""
    return any(o is obj for o in gc.get_objects())


def test_start_up_objects_leave_the_collectors_generations(tmp_path: Path, gc_state: None) -> None:
    cfg = parse_config(
        "server: {auth: {anonymous_read: true}}\nmetrics_store: {type: embedded, path: m}\n"
        "rules: {packs: [local]}\n"
    )
    registry = CollectorRegistry()
    server = Paramedic(cfg, base_dir=tmp_path, registry=registry)
    assert server.alerting is not None and server.alerting.rules is not None
    rules = server.alerting.rules
    assert gc.get_freeze_count() == 0 and _in_generations(rules)
    assert registry.get_sample_value("paramedic_gc_frozen_objects") == 0
    with TestClient(server.app, base_url="http://127.0.0.1"):
        assert gc.get_freeze_count() > 0
        assert registry.get_sample_value("paramedic_gc_frozen_objects") == gc.get_freeze_count()
        assert not _in_generations(rules)  # the rules, loaded at start-up, are frozen with the rest
        assert not _in_generations(server.store)
        assert gc.get_threshold()[0] == 10_000
