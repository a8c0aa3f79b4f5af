"""A value the plain tokeniser split (issue 17): a URL with a query string, whose ``=`` ``&`` ``:`` are the
query's own, not the message's key/value punctuation. Synthetic lines."""

from __future__ import annotations

import time

from log_pipeline.patterns import WILDCARD, TemplateMiner, tokenise

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


def test_trailing_whitespace_stays_linear_and_changes_nothing() -> None:
    # findall retried ``\s*`` from every trailing whitespace character to the end of the line: 4,000
    # trailing spaces cost ~0.5 s of CPU per line (quadratic) before the message was right-stripped
    hostile = ["a" + " " * 4095, "GET /x?y=1" + "\t" * 4000, "b" + " \u00a0" * 2000]
    t0 = time.thread_time()
    for line in hostile * 5:
        tokenise(line)
    assert time.thread_time() - t0 < 1.0
    for line in ("a b  ", "x=1 \t", "/p?q=2 \u00a0\u2003"):
        assert tokenise(line) == tokenise(line.rstrip())
