"""Values that the plain tokeniser split (issue 17): a URL with a query string, and a value written as a
glued call (``LOCAL(10.0.0.1)``) where other lines of the event print a bare value. Synthetic lines."""

from __future__ import annotations

import time

from log_pipeline.patterns import WILDCARD, TemplateMiner, tokenise
from log_pipeline.patterns._calls import calls_as_values

_GET = '10.0.0.{} "GET /v2/ab12/servers/detail{} HTTP/1.1" status: 200 len: 1893 time: 0.24'


def test_a_query_string_is_part_of_its_url() -> None:
    plain = tokenise(_GET.format(1, ""))[0]
    assert tokenise(_GET.format(2, "?all_tenants=True&changes-since=2024-05-16T05%3A54%3A58"))[0] == plain
    assert tokenise(_GET.format(3, "?all_tenants=True&changes-since=x&host=a.b.c"))[0] == plain
    miner = TemplateMiner()
    pid = miner.mine(_GET.format(1, ""))[0]
    assert miner.mine(_GET.format(2, "?since=2024-05-16T05%3A54"))[0] == pid


def test_a_query_ends_before_the_messages_punctuation() -> None:
    assert tokenise("fetch /a/b?x=1&y=2, then stop")[0] == ("fetch", WILDCARD, ",", "then", "stop")
    assert tokenise("fetch /a/b?x=1&y=2 (cached)")[0] == ("fetch", WILDCARD, "(", "cached", ")")
    assert tokenise("Why? no idea")[0] == ("Why?", "no", "idea")  # no path: a word
    assert tokenise("user=bob?")[0] == ("user", "=", "bob?")


def test_a_query_scan_stays_linear() -> None:
    hostile = ["/" * 4000 + " ?", "/a" * 2000 + " ?", ("x/" * 1000 + "? ") * 2]
    t0 = time.thread_time()  # CPU time of this thread: the machine's load does not count
    for line in hostile * 5:
        tokenise(line)
    assert time.thread_time() - t0 < 2.0  # a quadratic backtrack over 4,000 slashes takes far longer


def test_a_glued_call_holding_a_value_joins_the_bare_value_pattern() -> None:
    miner = TemplateMiner()
    pid, template = miner.mine("synchronized to 10.0.0.1, stratum 3")
    assert miner.mine("synchronized to LOCAL(127.127.1.0), stratum 10") == (pid, template)
    assert template == "synchronized to <*>, stratum <*>"


def test_a_glued_call_with_nothing_to_join_stays_text() -> None:
    miner = TemplateMiner()
    pid, template = miner.mine("LOGIN chdir(/p/x) failed: No such file or directory")
    assert template == "LOGIN chdir(<*>) failed: No such file or directory"
    assert miner.mine("LOGIN chdir(/home/y) failed: No such file or directory") == (pid, template)
    assert miner.mine("LOGIN chdir(pwd) failed: No such file or directory")[0] == pid  # as before


def test_the_second_reading_creates_no_bucket_and_needs_a_value_inside() -> None:
    assert calls_as_values(tokenise("call run(x) now")) is None  # no value inside: a call
    assert calls_as_values(tokenise("call run (5) now")) is None  # a space: not glued
    assert calls_as_values(tokenise("to <*> LOCAL(1.2.3.4) x")) is not None
    alt = calls_as_values(tokenise("to 5 LOCAL(1.2.3.4) x"))
    assert alt is not None and alt[0] == ("to", WILDCARD, "x")  # <*> <*>: one value, as the tokeniser reads
    miner = TemplateMiner()
    miner.mine("state LOCAL(1.2.3.4) ok")  # no pattern of the other reading: its own pattern, one bucket
    assert len(miner._buckets) == 1
    assert miner.mine("state 10.0.0.9 ok")[1] == "state <*> ok"  # the other order: a pattern of its own


def test_the_second_reading_joins_only_a_pattern_it_repeats_whole() -> None:
    """The other reading is the weaker one: it never generalises a template (4 of 5 words would pass 0.8)."""
    miner = TemplateMiner()
    pid, template = miner.mine("synchronized to 10.0.0.1, stratum 3 peer ok")
    other = miner.mine("synchronized to LOCAL(127.127.1.0), stratum 10 peer lost")
    assert other[0] != pid
    assert miner.template(pid) == template == "synchronized to <*>, stratum <*> peer ok"
