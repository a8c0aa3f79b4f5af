"""The RFC 5424 fast path agrees with the exact scanner on every input it accepts (and declines the rest)."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

from log_pipeline.syslog import _rfc5424
from log_pipeline.syslog._message import ParseError, SyslogMessage

FIXTURES = Path(__file__).parent.parent / "fixtures" / "syslog"
GUID = "6f4b1ad4-2a36-4b6c-8ad1-2ab5ce0d7b11"
SEEDS = [
    f"<14>1 2024-03-10T12:00:00.123456+00:00 org.space.app {GUID} [APP/PROC/WEB/0] - "
    f'[tags@47450 app_id="{GUID}" instance_id="0" source_type="APP/PROC/WEB"] 2024-03-10 12:00:00 INFO added',
    '<13>1 2024-03-10T12:00:00.5Z 10.0.16.4 gorouter - - [instance@47450 director="" az="z1"]'
    '[b x="a\\"b\\]c\\\\"] route registered',
    "<191>999 2024-02-29T23:59:59-05:30 h a p m - \xe2\x82\xac msg".encode("latin-1").decode("utf-8"),
    "<0>1 - - - - - -",
    "<1>1 2023-02-29T00:00:00Z h a p m -",
    "<1>1 2024-12-31T23:59:59.999999+23:59 h a p m [x] ",
    '<1>1 2024-01-01T24:00:00-00:60 h a p m [x y=""][z]msg',
    '<192>1 - h a p m [a b="\\x"]',
    '<1>1 - h a p m [e x="1" x="2 [z" y="a=b c"][f][g@1 q=""] tail',
]
FIELDS = [f for f in SyslogMessage.__slots__ if f != "error"]


def _state(msg: SyslogMessage) -> list[object]:
    return [getattr(msg, f) for f in FIELDS]


def _inputs() -> list[bytes]:
    out = [s.encode() for s in SEEDS]
    for name in ("rfc5424_cases.json", "rfc5424_noncompliant_msg_cases_WithCompliantMsg.json"):
        out += [base64.b64decode(c["input_b64"]) for c in json.loads((FIXTURES / name).read_text())]
    rnd = random.Random(5424)
    alphabet = b' -[]"\\=<>0123456789:.TZ+\xef\xbb\xbf\xff'
    mutated = []
    for data in out:
        for _ in range(60):
            b = bytearray(data)
            for _ in range(rnd.randint(1, 3)):
                i = rnd.randrange(len(b) + 1)
                op = rnd.randrange(3)
                if op == 0 and b:
                    del b[min(i, len(b) - 1)]
                elif op == 1:
                    b.insert(i, rnd.choice(alphabet))
                elif b:
                    b[min(i, len(b) - 1)] = rnd.choice(alphabet)
            mutated.append(bytes(b))
    return out + mutated


def test_fast_path_matches_scanner() -> None:
    accepted = 0
    for data in _inputs():
        for compliant in (False, True):
            fast = _rfc5424.fast_rfc5424(data)
            try:
                slow = _rfc5424.scan_rfc5424(data, True, compliant)
            except ParseError:
                assert fast is None, data
                continue
            if fast is None:
                continue
            accepted += 1
            assert slow.error is None, data
            assert _state(fast) == _state(slow), data
    assert accepted > 1000
