"""go-syslog's own test tables (tests/fixtures/syslog, see SOURCE.txt) against our parsers."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from log_pipeline.syslog import ParseError, parse_rfc3164, parse_rfc5424

FIXTURES = Path(__file__).parent.parent / "fixtures" / "syslog"
_TS = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def _load(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((FIXTURES / name).read_text())
    return cases


def _instant(ts: str) -> tuple[object, int]:
    """An RFC 3339 string as (seconds, nanoseconds), so that +00:00 and Z compare equal."""
    m = _TS.match(ts)
    assert m, ts
    base, frac, off = m.groups()
    ns = int((frac or "0").ljust(9, "0"))
    if base.startswith("0000"):  # year 0: datetime cannot represent it
        return (base, ns)
    return (datetime.fromisoformat(base + ("+00:00" if off == "Z" else off)).timestamp(), ns)


def _norm(d: dict[str, Any] | None) -> dict[str, Any] | None:
    if d is None:
        return None
    out = dict(d)
    if "timestamp" in out:
        out["timestamp"] = _instant(out["timestamp"])
    return out


RFC5424 = _load("rfc5424_cases.json")
NONCOMPLIANT = _load("rfc5424_noncompliant_msg_cases_WithCompliantMsg.json")
RFC3164 = _load("rfc3164_cases.json")


def _ids(cases: list[dict[str, Any]], prefix: str) -> list[str]:
    return [f"{prefix}{c['index']}-{'valid' if c['valid'] else 'invalid'}" for c in cases]


@pytest.mark.parametrize("compliant", [False, True], ids=["default", "compliant_msg"])
@pytest.mark.parametrize("case", RFC5424, ids=_ids(RFC5424, "5424-"))
def test_rfc5424_strict(case: dict[str, Any], compliant: bool) -> None:
    data = base64.b64decode(case["input_b64"])
    if case["valid"]:
        msg = parse_rfc5424(data, compliant_msg=compliant)
        assert _norm(msg.to_dict()) == _norm(case["expected"])
    else:
        with pytest.raises(ParseError) as info:
            parse_rfc5424(data, compliant_msg=compliant)
        assert str(info.value) == case["error"]


@pytest.mark.parametrize(
    "case", [c for c in RFC5424 if not c["valid"]], ids=_ids([c for c in RFC5424 if not c["valid"]], "5424-")
)
def test_rfc5424_best_effort(case: dict[str, Any]) -> None:
    _check_best_effort(case, compliant=False)


@pytest.mark.parametrize("case", NONCOMPLIANT, ids=_ids(NONCOMPLIANT, "noncompliant-"))
def test_noncompliant_msg(case: dict[str, Any]) -> None:
    data = base64.b64decode(case["input_b64"])
    parse_rfc5424(data)  # valid without the option
    with pytest.raises(ParseError) as info:
        parse_rfc5424(data, compliant_msg=True)
    assert str(info.value) == case["error"]
    _check_best_effort(case, compliant=True)


def _check_best_effort(case: dict[str, Any], *, compliant: bool) -> None:
    data = base64.b64decode(case["input_b64"])
    expected = case["expected_best_effort"]
    if expected is None:
        with pytest.raises(ParseError) as info:
            parse_rfc5424(data, best_effort=True, compliant_msg=compliant)
        assert str(info.value) == case["error"]
        return
    msg = parse_rfc5424(data, best_effort=True, compliant_msg=compliant)
    assert _norm(msg.to_dict()) == _norm(expected)
    assert msg.error is not None
    assert str(msg.error) == case["error"]


@pytest.mark.parametrize("case", RFC3164, ids=_ids(RFC3164, "3164-"))
def test_rfc3164(case: dict[str, Any]) -> None:
    msg = parse_rfc3164(base64.b64decode(case["input_b64"]))
    assert _norm(msg.to_dict()) == _norm(case["expected"])
    assert msg.year_missing


def test_case_counts() -> None:
    assert (len(RFC5424), sum(c["valid"] for c in RFC5424)) == (637, 527)
    assert (len(NONCOMPLIANT), len(RFC3164)) == (30, 8)
