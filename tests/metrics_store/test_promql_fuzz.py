"""The PromQL parse path and the instant query under hypothesis fuzzing, in a child process: a SIGSEGV in the
native parser must fail this test, not kill pytest (see ``promql_fuzz``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from metrics_store.promql import QueryParseError, UnsupportedError, parse
from metrics_store.promql._ast import at_spec
from tests.metrics_store.promql_fuzz import REGRESSIONS, check

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = 1500  # ~5 s alone, well under 30 s on a loaded 2-core machine


def test_fuzzed_queries_parse_or_refuse_cleanly_in_a_child_process() -> None:
    env = {**os.environ, "RUST_BACKTRACE": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "tests.metrics_store.promql_fuzz", str(EXAMPLES)],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    crashed = proc.returncode < 0 and f"killed by {signal.Signals(-proc.returncode).name}"
    assert proc.returncode == 0, crashed or proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "fuzzed ok" in proc.stdout


@pytest.mark.parametrize("query", REGRESSIONS, ids=[f"{q[:24]!r}" for q in REGRESSIONS])
def test_every_crasher_found_is_refused_cleanly(query: str) -> None:
    """Each case killed or broke the process before the guards; now parse and query refuse it cleanly.
    (In-process on purpose: the guard must hold here, where a crash would take pytest down with it.)"""
    check(query)
    if query.count("(") > 64 or query.count("-") > 200 or len(query) > 65_536:
        with pytest.raises(QueryParseError, match=r"^parse error: "):
            parse(query)


def test_out_of_range_at_times_are_query_errors() -> None:
    """Reading the ``@`` time of these raised ValueError or pyo3's PanicException (a BaseException that
    escaped every handler) from the parser's AST."""
    with pytest.raises(QueryParseError, match="timestamp out of bounds for @ modifier"):
        at_spec(parse("x @ 1e308").at)
    with pytest.raises(UnsupportedError, match="before 1970"):
        at_spec(parse("x @ -1").at)
