"""bench/scale.py's arithmetic and accounting helpers (the benchmark itself is not run in CI)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench._scale_math import CLK_TCK, Measurement, group_cpu_seconds, parse_rsp, relp_frame, stat_fields


def test_stat_fields_survive_a_comm_with_spaces_and_parens() -> None:
    line = "4242 (web (worker) 1) S 1 4242 4242 0 -1 4194560 10 0 0 0 300 40 7 3 20 0 1 0 99 1000 50"
    f = stat_fields(line)
    assert f[0] == "S" and f[2] == "4242"
    assert (int(f[11]), int(f[12]), int(f[13]), int(f[14])) == (300, 40, 7, 3)


def _fake_proc(tmp: Path, rows: dict[int, tuple[int, int, int, int, int]]) -> Path:
    """/proc lookalike: pid -> (pgrp, utime, stime, cutime, cstime)."""
    for pid, (pgrp, ut, st, cut, cst) in rows.items():
        (tmp / str(pid)).mkdir()
        (tmp / str(pid) / "stat").write_text(
            f"{pid} (x y) S 1 {pgrp} {pgrp} 0 -1 0 0 0 0 0 {ut} {st} {cut} {cst} 20 0 1 0 1 1 1\n"
        )
    (tmp / "self").mkdir()
    return tmp


def test_group_cpu_counts_members_and_the_leaders_reaped_children(tmp_path: Path) -> None:
    proc = _fake_proc(
        tmp_path,
        {
            100: (100, 10, 5, 7, 1),  # leader: its own 15 + reaped children 8
            101: (100, 20, 2, 50, 50),  # member: children's ticks are not the group's leader's
            200: (200, 1000, 0, 0, 0),  # another group
        },
    )
    assert group_cpu_seconds([100], proc) == pytest.approx((15 + 8 + 22) / CLK_TCK)
    assert group_cpu_seconds([100, 200], proc) == pytest.approx((15 + 8 + 22 + 1000) / CLK_TCK)
    assert group_cpu_seconds([], proc) == 0


def test_group_cpu_of_a_real_busy_process_grows() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", "import time\nt=time.process_time()\nwhile time.process_time()-t<0.3: pass\n"
         "import sys; sys.stdin.read()"],
        start_new_session=True,
        stdin=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while group_cpu_seconds([parent.pid]) < 0.25 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert group_cpu_seconds([parent.pid]) >= 0.25
        assert os.getpgid(parent.pid) == parent.pid
    finally:
        assert parent.stdin is not None
        parent.stdin.close()
        parent.wait(10)


def test_relp_frames_and_responses_round_trip() -> None:
    assert relp_frame(2, b"syslog", b"<13>1 - a") == b"2 syslog 9 <13>1 - a\n"
    assert relp_frame(9, b"close") == b"9 close 0\n"
    offer = b"200 OK\nrelp_version=0\ncommands=syslog"
    stream = b"1 rsp %d %s\n2 rsp 6 200 OK\n3 rsp 0\n" % (len(offer), offer)
    for cut in range(len(stream) + 1):
        a, rest = parse_rsp(stream[:cut])
        b, tail = parse_rsp(rest + stream[cut:])
        assert a + b == [(1, offer), (2, b"200 OK"), (3, b"")]
        assert tail == b""


def test_parse_rsp_rejects_what_is_not_a_response() -> None:
    with pytest.raises(ValueError, match="not an rsp"):
        parse_rsp(b"2 syslog 1 a\n")
    with pytest.raises(ValueError, match="LF trailer"):
        parse_rsp(b"2 rsp 2 okX")


def test_measurement_rates_and_per_unit_cpu() -> None:
    m = Measurement(
        "ingest", "victoria-metrics", 2, units=600_000, seconds=20, paramedic_cpu_s=24, store_cpu_s=6
    )
    assert m.rate == 30_000
    assert m.cpu_s == 30
    assert m.per_cpu_second == 20_000
    assert m.paramedic_us_per_unit == pytest.approx(40.0)
    assert m.store_us_per_unit == pytest.approx(10.0)
    assert m.cores_busy == 1.5
    empty = Measurement("log intake", "x", 1, 0, 0, 0, 0)
    assert (empty.rate, empty.per_cpu_second, empty.paramedic_us_per_unit) == (0, 0, 0)
