"""TemplateMiner: masking, grouping, determinism, id stability, bounded memory, thread safety.

Accuracy on Loghub is measured by bench/patterns.py (Loghub's licence keeps its data out of the repository);
here the inputs are synthetic lines and Cloud Foundry text (gorouter docs, Diego metric catalogue;
Apache-2.0, in tests/fixtures/cloudfoundry).
"""

from __future__ import annotations

import random
import threading

import pytest

from log_pipeline.base import PatternMiner
from log_pipeline.patterns import WILDCARD, MinerConfig, TemplateMiner, tokenise
from tests.conftest import FIXTURES

CF = FIXTURES / "cloudfoundry"
GOROUTER_DOC = CF / "gorouter" / "gorouter_docs_04-observability.md"
DIEGO_CSV = CF / "diego" / "diego_metrics.csv"


def _rtr_line(rng: random.Random) -> str:
    """A gorouter access log line in the documented format, with random values."""
    host = rng.choice(["app1.example.com", "api.sys.example.com", "dora.apps.internal"])
    method = rng.choice(["GET", "GET", "POST"])
    path = rng.choice(["/", "/v2/info", f"/orders/{rng.randint(1, 999)}", "/health"])
    return (
        f"{host} - [2024-05-0{rng.randint(1, 9)}T12:{rng.randint(10, 59)}:07.123+0000] "
        f'"{method} {path} HTTP/1.1" '
        f'{rng.choice([200, 200, 404, 502])} 0 {rng.randint(10, 9999)} "-" "curl/8.{rng.randint(0, 9)}.0" '
        f'"10.0.{rng.randint(0, 9)}.{rng.randint(1, 254)}:{rng.randint(1024, 65535)}" '
        f'"10.0.1.{rng.randint(1, 254)}:61{rng.randint(0, 999):03d}" '
        'x_forwarded_for:"-" x_forwarded_proto:"https" '
        f'vcap_request_id:"{rng.getrandbits(128):032x}" response_time:0.00{rng.randint(1, 9)} '
        f'gorouter_time:0.000{rng.randint(1, 9)} app_id:"{rng.getrandbits(64):016x}" '
        f'app_index:"{rng.randint(0, 3)}"'
    )


def test_is_a_pattern_miner() -> None:
    assert isinstance(TemplateMiner(), PatternMiner)


@pytest.mark.parametrize(
    ("message", "template"),
    [
        ("Connected to 10.0.0.12:8080 in 35ms", "Connected to <*> in <*>"),
        ("request 3f2b9c1e-7a0d-4a57-9b7e-0c2d2f1a9b10 done", "request <*> done"),
        ("opened /var/vcap/data/app/log.txt", "opened <*>"),
        ("took 1.5 s to flush 0x7ffe12 bytes", "took <*> s to flush <*> bytes"),
        ("uid=0 euid=1000 tty=ssh", "uid=<*> euid=<*> tty=ssh"),
        ("Fan speeds ( 3552 3534 3391 )", "Fan speeds ( <*> )"),
        ("", ""),
    ],
)
def test_masks_obvious_variables(message: str, template: str) -> None:
    assert TemplateMiner().mine(message)[1] == template


def test_tokenise_keeps_spacing_and_splits_punctuation() -> None:
    tokens, spaces = tokenise("key=value, other: 12")
    assert tokens == ("key", "=", "value", ",", "other", ":", WILDCARD)
    assert "".join(s + t for s, t in zip(spaces, tokens, strict=True)) == "key=value, other: <*>"


def test_groups_variants_and_separates_templates() -> None:
    miner = TemplateMiner()
    lines = [
        "Accepted publickey for alice from 10.0.0.1 port 5000 ssh2",
        "Accepted publickey for bob from 10.0.0.2 port 5001 ssh2",
        "Accepted publickey for carol from 10.0.0.3 port 5002 ssh2",
        "Connection closed by 10.0.0.4 port 5003",
        "Connection closed by 10.0.0.5 port 5004",
        "Link error",
        "Link ok",
    ]
    ids = [miner.mine(line)[0] for line in lines]
    assert ids[0] == ids[1] == ids[2]
    assert ids[3] == ids[4]
    assert len({ids[0], ids[3], ids[5], ids[6]}) == 4
    assert miner.template(ids[0]) == "Accepted publickey for <*> from <*> port <*>"


def test_deterministic_across_instances() -> None:
    rng = random.Random(7)
    lines = [_rtr_line(rng) for _ in range(300)]
    first = [TemplateMiner().mine(line) for line in lines]
    a, b = TemplateMiner(), TemplateMiner()
    assert [a.mine(line) for line in lines] == [b.mine(line) for line in lines]
    assert first[0] == TemplateMiner().mine(lines[0])


def test_gorouter_access_lines_share_one_pattern() -> None:
    rng = random.Random(1)
    miner = TemplateMiner()
    ids = {miner.mine(_rtr_line(rng))[0] for _ in range(500)}
    assert len(ids) <= 3  # one template; a few early lines may differ in the method/host before merging


def test_ids_are_stable_while_templates_generalise() -> None:
    miner = TemplateMiner()
    pid, template = miner.mine("Stopping container web-1 after health check failure")
    assert template == "Stopping container <*> after health check failure"
    pid2, template2 = miner.mine("Stopping container worker after health check failure")
    assert pid2 == pid
    assert template2 == "Stopping container <*> after health check failure"
    pid3, _ = miner.mine("Stopping container web after liveness check failure")
    assert pid3 == pid
    assert miner.mine("Stopping container web-1 after health check failure")[0] == pid


def test_cloud_foundry_text_is_mined_deterministically() -> None:
    assert GOROUTER_DOC.is_file() and DIEGO_CSV.is_file(), f"Cloud Foundry reference data missing under {CF}"
    lines = GOROUTER_DOC.read_text(encoding="utf-8").splitlines()
    lines += DIEGO_CSV.read_text(encoding="utf-8").splitlines()
    miner = TemplateMiner()
    first = [miner.mine(line) for line in lines]
    again = [miner.mine(line)[0] for line in lines]
    assert [pid for pid, _ in first] == again  # an id, once given, stays with its messages
    fresh = TemplateMiner()
    assert [fresh.mine(line) for line in lines[:50]] == first[:50]
    json_ids = {pid for (pid, _), line in zip(first, lines, strict=True) if line.startswith('{"log_level"')}
    assert 1 <= len(json_ids) < sum(1 for line in lines if line.startswith('{"log_level"'))
    assert len(miner) < len(set(lines))


def test_bounded_table_evicts_least_recently_used() -> None:
    created: list[str] = []
    evicted: list[str] = []
    miner = TemplateMiner(MinerConfig(max_patterns=3), on_new=created.append, on_evict=evicted.append)
    keep, _ = miner.mine("heartbeat from scheduler")
    for word in ["alpha", "beta", "gamma", "delta", "epsilon"]:
        miner.mine(f"{word} phase started")
        miner.mine("heartbeat from scheduler")  # keeps this pattern recently used
    assert len(miner) == 3
    assert len(created) == 6 and len(evicted) == 3
    assert keep not in evicted and miner.template(keep) == "heartbeat from scheduler"
    assert miner.template(evicted[0]) is None


def test_long_messages_are_truncated() -> None:
    miner = TemplateMiner(MinerConfig(max_message_chars=64))
    _, template = miner.mine("x " * 10_000)
    assert len(template) <= 64


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="similarity_threshold"):
        MinerConfig(similarity_threshold=0)
    with pytest.raises(ValueError, match="max_patterns"):
        MinerConfig(max_patterns=0)


def test_concurrent_mining_is_safe() -> None:
    miner = TemplateMiner(MinerConfig(max_patterns=50))
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for i in range(2000):
                miner.mine(f"worker{rng.randint(0, 200)} event {rng.choice(['a', 'b', 'c'])}{i % 97} done")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(miner) <= 50
