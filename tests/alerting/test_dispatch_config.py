from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from alerting.dispatch import ConfigError, load_config, parse_config, parse_matcher, parse_matchers
from alerting.dispatch._matchers import go_quote, label_set_string
from alerting.dispatch._route import build_route
from tests.conftest import FIXTURES

RECORDED = FIXTURES / "alertmanager" / "recorded_v0.25.0"


def test_recorded_alertmanager_yml_loads() -> None:
    cfg = load_config(RECORDED / "alertmanager.yml")
    assert cfg.route.group_wait == 1.0 and cfg.route.repeat_interval == 3600.0
    route = build_route(cfg.route)
    assert route.key() == "{}"
    assert route.routes[0].key() == '{}/{alertname="Gorouter5xxRateHigh"}'
    assert route.routes[0].group_by == frozenset({"alertname", "space"})  # inherited
    assert cfg.receiver("truncating-webhook").integrations() == [
        {"type": "webhook", "url": "http://127.0.0.1:19876/truncated", "send_resolved": True, "max_alerts": 1}
    ]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("route: {receiver: x}\nreceivers: [{name: y}]", "route.receiver: undefined receiver 'x'"),
        (
            "route: {receiver: y, matchers: ['a=b']}\nreceivers: [{name: y}]",
            "root route must not have matchers",
        ),
        ("route: {receiver: y, group_wait: 5 minutes}\nreceivers: [{name: y}]", "route.group_wait"),
        ("route: {receiver: y, routes: [{matchers: ['a=~\"(\"']}]}\nreceivers: [{name: y}]", "invalid regex"),
        ("route: {receiver: y, bogus: 1}\nreceivers: [{name: y}]", "route.bogus: Extra inputs"),
        ("route: {receiver: y, routes: [{mute_time_intervals: [nope]}]}\nreceivers: [{name: y}]", "nope"),
        (
            "route: {receiver: y}\nreceivers: [{name: y}]\n"
            "time_intervals: [{name: w, time_intervals: [{times: "
            "[{start_time: '18:00', end_time: '17:00'}]}]}]",
            "start_time 18:00 must be before",
        ),
        ("route: {receiver: y}\nreceivers: [{name: y, notifiers: [{url: x}]}]", "missing 'type'"),
    ],
)
def test_bad_configs_name_the_key(text: str, error: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        parse_config(text, "am.yml")
    assert error in str(info.value)
    assert str(info.value).startswith("am.yml: ")


def test_matchers_and_go_quoting() -> None:
    assert str(parse_matcher('severity=~"warn|crit"')) == 'severity=~"warn|crit"'
    assert str(parse_matcher("a != b")) == 'a!="b"'
    ms = parse_matchers('{a="x,y", b=~"c.*"}')
    assert [str(m) for m in ms] == ['a="x,y"', 'b=~"c.*"']
    assert ms[1].matches("cde") and not ms[1].matches("xcd")  # anchored
    assert go_quote('a"b\\c\n') == '"a\\"b\\\\c\\n"'
    assert label_set_string({"space": "prod", "alertname": "X"}) == '{alertname="X", space="prod"}'


def test_legacy_match_sorted_into_route_key() -> None:
    cfg = parse_config(
        "route: {receiver: r, routes: [{receiver: r, match: {service: db}, match_re: {env: 'prod|stg'},"
        " matchers: ['area=\"eu\"']}]}\nreceivers: [{name: r}]"
    )
    assert build_route(cfg.route).routes[0].key() == '{}/{area="eu",env=~"prod|stg",service="db"}'


def test_time_intervals() -> None:
    cfg = parse_config(
        """
route: {receiver: r}
receivers: [{name: r}]
time_intervals:
  - name: maint
    time_intervals:
      - weekdays: ['saturday:sunday']
        times: [{start_time: '02:00', end_time: '04:00'}]
        location: Europe/Berlin
      - days_of_month: ['-1']
        months: ['december']
"""
    )
    (a, b) = cfg.intervals()["maint"]
    berlin = ZoneInfo("Europe/Berlin")
    assert a.contains(datetime(2026, 11, 28, 2, 30, tzinfo=berlin))  # a Saturday
    assert not a.contains(datetime(2026, 11, 28, 4, 0, tzinfo=berlin))  # end exclusive
    assert not a.contains(datetime(2026, 11, 27, 2, 30, tzinfo=berlin))  # Friday
    assert b.contains(datetime(2026, 12, 31, 12, tzinfo=berlin)) and not b.contains(
        datetime(2026, 12, 30, tzinfo=berlin)
    )


def test_problems_are_capped_then_counted() -> None:
    """Aliases repeat a bad mapping (a few lines, thousands of problems): the first 50 and a count."""
    ten_b = ", ".join(["*b"] * 10)
    ten_c = ", ".join(["*c"] * 9)
    text = (
        "receivers: [{name: r}]\n"
        "x: [&b {receiver: r, bogus: 1}]\n"
        f"route: {{receiver: r, routes: [&c {{receiver: r, routes: [{ten_b}]}}, {ten_c}]}}\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, "am.yml")
    lines = str(info.value).splitlines()
    assert len(lines) == 51, lines[-3:]
    assert lines[0] == "am.yml: route.routes[0].routes[0].bogus: Extra inputs are not permitted"
    assert lines[-1] == "am.yml: ... and 51 more problems (not listed)"  # 1 + 10 x 10 in all
