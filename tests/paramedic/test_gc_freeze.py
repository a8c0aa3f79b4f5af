"""The serve's start-up heap is frozen out of the cyclic GC once the lifespan has started everything.

Without it every full collection walks the whole start-up heap (the store, the rules, the app) with the GIL
held: ``bench/gc_pause.py`` measured each at 100-112 ms of CPU without the freeze, 8-10 ms with it (arms
``nofreeze`` and ``freeze``). The raised threshold, checked here too, is what keeps full collections out of
a 30 s window altogether (arm ``threshold``; bench/README, "The cyclic GC's pauses")."""

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
        gauge = registry.get_sample_value("paramedic_gc_frozen_objects")
        # read live: frozen objects the server's threads free meanwhile leave the count, none join it
        assert gauge is not None and gauge >= gc.get_freeze_count() > 0.9 * gauge > 0
        assert not _in_generations(rules)  # the rules, loaded at start-up, are frozen with the rest
        assert not _in_generations(server.store)
        assert gc.get_threshold()[0] == 10_000
