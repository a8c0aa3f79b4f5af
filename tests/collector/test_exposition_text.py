"""Text format 0.0.4: the reference Go parser's own cases, real dumps, the fuzz corpus and hostile input."""

from __future__ import annotations

import base64
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from collector.exposition import ExpositionParser, FamilyMeta, ParseError, parse, series_labels
from collector.exposition._textscan import ScanError, scan_series
from metrics_store.model import labels_get, metric_name

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "prometheus"
CASES = json.loads((FIXTURES / "prometheus_common_expfmt_text_parse_cases.json").read_text())
CORPUS = FIXTURES / "prometheus_common_testdata" / "fuzz_corpus"
_GO_TYPES = {"gaugehistogram": "GAUGE_HISTOGRAM"}
# Valid Go cases 5-11 use quoted names that only the UTF-8 scheme accepts; see test_utf8_cases_need_opt_in.
_UTF8_ONLY = {i for i, c in enumerate(CASES["valid"]) if '{"' in c["input"] or '# HELP "' in c["input"]}


def _fresh(utf8_names: bool = False) -> ExpositionParser:
    return ExpositionParser(utf8_names=utf8_names, registry=CollectorRegistry())


def _num(v: Any) -> float:
    return float(v) if not isinstance(v, str) else float(v.replace("+Inf", "inf").replace("-Inf", "-inf"))


def _family_of(name: str, families: dict[str, FamilyMeta]) -> FamilyMeta:
    if name in families:
        return families[name]
    for suffix in ("_sum", "_count", "_bucket"):
        base = name.removesuffix(suffix)
        if base != name and base in families:
            return families[base]
    raise AssertionError(f"sample {name} has no family")


def _go_shape(data: bytes, parser: ExpositionParser) -> dict[str, dict[str, Any]]:
    """Regroup flat samples into the Go parser's MetricFamily shape (summaries/histograms folded)."""
    exp = parser.parse(data)
    out: dict[str, dict[str, Any]] = {}
    groups: dict[str, dict[tuple[tuple[str, str], ...], dict[str, Any]]] = defaultdict(dict)
    for key, value, ts in exp.samples:
        labels = series_labels(key)
        name = metric_name(labels)
        fam = _family_of(name, exp.families)
        mf = out.setdefault(
            fam.name,
            {"Name": fam.name, "Type": _GO_TYPES.get(fam.type, fam.type.upper()), "Metric": []},
        )
        if fam.help is not None:
            mf["Help"] = fam.help
        plain = tuple((k, v) for k, v in labels if k != "__name__")
        if fam.type in ("summary", "histogram", "gaugehistogram"):
            special = "quantile" if fam.type == "summary" else "le"
            group = tuple((k, v) for k, v in plain if k != special)
            metric = groups[fam.name].get(group)
            if metric is None:
                metric = {"Label": dict(group), "Q": [], "count": None, "sum": None, "ts": None}
                groups[fam.name][group] = metric
                mf["Metric"].append(metric)
            if ts is not None:
                metric["ts"] = ts
            if name.endswith("_count") and name != fam.name:
                metric["count"] = value
            elif name.endswith("_sum") and name != fam.name:
                metric["sum"] = value
            else:
                metric["Q"].append((float(labels_get(labels, special)), value))
        else:
            mf["Metric"].append({"Label": dict(plain), "value": value, "ts": ts})
    return out


def _go_expected(families: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for fam in families:
        metrics = []
        for m in fam["Metric"]:
            labels = {lp["Name"]: lp["Value"] for lp in m.get("Label", [])}
            ts = m.get("TimestampMs")
            if "Summary" in m or "Histogram" in m:
                s = m.get("Summary") or m["Histogram"]
                count = s.get("SampleCount", s.get("SampleCountFloat"))
                points = [(_num(q["Quantile"]), _num(q["Value"])) for q in s.get("Quantile", [])]
                for b in s.get("Bucket", []):
                    points.append(
                        (_num(b["UpperBound"]), _num(b.get("CumulativeCount", b.get("CumulativeCountFloat"))))
                    )
                metrics.append(
                    {
                        "Label": labels,
                        "Q": points,
                        "count": None if count is None else _num(count),
                        "sum": None if "SampleSum" not in s else _num(s["SampleSum"]),
                        "ts": ts,
                    }
                )
            else:
                value = next(v["Value"] for k, v in m.items() if k in ("Counter", "Gauge", "Untyped"))
                metrics.append({"Label": labels, "value": _num(value), "ts": ts})
        entry: dict[str, Any] = {"Name": fam["Name"], "Type": fam["Type"], "Metric": metrics}
        if "Help" in fam:
            entry["Help"] = fam["Help"]
        out[fam["Name"]] = entry
    return out


def _nan_equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float | int):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_nan_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_nan_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _input(case: dict[str, Any]) -> bytes:
    raw = case["input"]
    return base64.b64decode(raw["$bytes_b64"]) if isinstance(raw, dict) else raw.encode()


@pytest.mark.parametrize("idx", range(len(CASES["valid"])), ids=lambda i: f"valid-{i}")
def test_go_valid_cases(idx: int) -> None:
    case = CASES["valid"][idx]
    parser = _fresh(utf8_names=idx in _UTF8_ONLY)
    expected = _go_expected(case["expected_metric_families"])
    for _ in range(2):  # cold (slow path) then warm (cached keys, bulk path): same answer
        got = _go_shape(_input(case), parser)
        assert _nan_equal(got, expected), f"\n got: {got}\nwant: {expected}"


@pytest.mark.parametrize("idx", range(len(CASES["invalid"])), ids=lambda i: f"invalid-{i}")
def test_go_invalid_cases_legacy(idx: int) -> None:
    case = CASES["invalid"][idx]
    prefix = case["error_prefix_legacy_validation"]
    parser = _fresh()
    for _ in range(2):
        with pytest.raises(ParseError) as info:
            parser.parse(_input(case))
        assert str(info.value).startswith(prefix), (str(info.value), prefix)
        assert info.value.line == int(prefix.split("line ")[1].split(":")[0])
        assert info.value.column >= 1


@pytest.mark.parametrize("idx", range(len(CASES["invalid"])), ids=lambda i: f"invalid-utf8-{i}")
def test_go_invalid_cases_utf8_scheme(idx: int) -> None:
    case = CASES["invalid"][idx]
    prefix = case["error_prefix_utf8_validation"]
    parser = _fresh(utf8_names=True)
    if not prefix:  # the two cases only the legacy rules reject
        assert parser.parse(_input(case)).samples
        return
    with pytest.raises(ParseError) as info:
        parser.parse(_input(case))
    assert str(info.value).startswith(prefix), (str(info.value), prefix)


@pytest.mark.parametrize("idx", sorted(_UTF8_ONLY), ids=lambda i: f"valid-{i}")
def test_utf8_cases_need_opt_in(idx: int) -> None:
    with pytest.raises(ParseError, match="invalid metric name"):
        _fresh().parse(_input(CASES["valid"][idx]))


def test_cached_keys_do_not_leak_context() -> None:
    """A key validated as untyped is still checked when it later belongs to a summary/histogram."""
    parser = _fresh()
    assert parser.parse(b'metric_bucket{le="1"} -3\n').samples[0][1] == -3.0
    with pytest.raises(ParseError, match="negative bucket population"):
        parser.parse(b'# TYPE metric histogram\nmetric_bucket{le="1"} -3\n')
    with pytest.raises(ParseError, match="line 2: second TYPE"):
        parser.parse(b'metric_bucket{le="1"} 3\n# TYPE metric_bucket gauge\n')


def test_real_dump_and_second_parse_identical() -> None:
    data = (FIXTURES / "prometheus_common_testdata" / "text").read_bytes()
    parser = _fresh()
    cold = parser.parse(data)
    warm = parser.parse(data)
    assert len(cold.samples) == 248
    assert len(cold.families) == 37
    assert cold == warm
    assert cold.families["http_request_duration_microseconds"].type == "summary"
    names = {metric_name(series_labels(k)) for k, _, _ in cold.samples}
    assert names >= {"http_request_duration_microseconds_count", "process_cpu_seconds_total"}


def test_gorouter_sample() -> None:
    exp = _fresh().parse((FIXTURES / "gorouter" / "prometheus_metrics_sample.txt").read_bytes())
    assert len(exp.samples) == 115
    assert len(exp.families) == 20
    assert exp.families["latency"].type == "histogram"
    buckets = [k for k, _, _ in exp.samples if k.startswith("latency_bucket")]
    # component="" is an empty label value: dropped in the canonical labels, like Prometheus does.
    assert labels_get(series_labels(buckets[0]), "component") == ""
    assert ("component", "") not in series_labels(buckets[0])


@pytest.mark.parametrize("path", sorted(CORPUS.iterdir()), ids=lambda p: p.name)
def test_fuzz_corpus(path: Path) -> None:
    data = path.read_bytes()
    if path.name.startswith("from_test_parse_error"):
        with pytest.raises(ParseError, match=r"^text format parsing error in line \d+: "):
            _fresh().parse(data)
    else:
        exp = _fresh().parse(data)
        assert len(exp.samples) == sum(
            1 for line in data.decode().splitlines() if line.strip() and not line.lstrip().startswith("#")
        )


def test_invalid_utf8_names_line_and_column() -> None:
    data = b"ok 1\n# HELP x caf\xc3\xa9 \xff\nx 2\n"
    with pytest.raises(ParseError) as info:
        parse(data)
    assert (info.value.line, info.value.column) == (2, 15)
    assert "invalid UTF-8 byte 0xff" in str(info.value)


def test_syntax_error_before_bad_byte_wins() -> None:
    with pytest.raises(ParseError, match="line 1: expected float"):
        parse(b'a x\nb{l="\xbd"} 1\n')


def test_huge_label_value_and_long_line() -> None:
    big = "v" * 2_000_000
    parser = _fresh()
    exp = parser.parse(f'm{{l="{big}"}} 1\n'.encode())
    assert labels_get(series_labels(exp.samples[0][0]), "l") == big
    with pytest.raises(ParseError, match="unexpected end of label value"):
        parser.parse(f'm{{l="{big}" x}} 1\n'.encode())
    long_name = "n" * 1_000_000
    assert parser.parse(f"{long_name} 1\n".encode()).samples[0][1] == 1.0


def test_values_python_accepts_but_go_rejects() -> None:
    parser = _fresh()
    assert parser.parse(b"m 1\n").samples[0][1] == 1.0  # warm the key
    for bad in ("1_0", "\u0661", "+nan", "1e400", "0x1p3", "1\r", "infinit"):
        with pytest.raises(ParseError, match="expected float as value"):
            parser.parse(f"m {bad}\n".encode())
    ok = parser.parse(b"m -Inf\nm +inf\nm NaN\nm .5e3\nm 7 -12\n").samples
    assert [s[1] for s in ok[:2]] == [-math.inf, math.inf]
    assert math.isnan(ok[2][1])
    assert ok[3:] == [("m", 500.0, None), ("m", 7.0, -12)]
    with pytest.raises(ParseError, match="expected integer as timestamp"):
        parser.parse(b"m 1 1_000\n")


def test_key_cache_is_bounded() -> None:
    parser = ExpositionParser(max_keys=10, registry=CollectorRegistry())
    body = "".join(f'm{{i="{i}"}} {i}\n' for i in range(50)).encode()
    for _ in range(3):
        assert [v for _, v, _ in parser.parse(body).samples] == [float(i) for i in range(50)]
    assert len(parser._text_keys) <= 10


def test_instrumentation() -> None:
    registry = CollectorRegistry()
    parser = ExpositionParser(registry=registry)
    parser.parse(b"a 1\nb 2\n")
    parser.parse(b"a 1\nb 2\n")
    with pytest.raises(ParseError):
        parser.parse(b"a\n")
    value = registry.get_sample_value
    assert value("paramedic_exposition_parses_total", {"format": "text", "outcome": "ok"}) == 2
    assert value("paramedic_exposition_parses_total", {"format": "text", "outcome": "error"}) == 1
    assert value("paramedic_exposition_samples_total", {"format": "text"}) == 4
    assert value("paramedic_exposition_slow_lines_total", {"format": "text"}) == 2


@pytest.mark.parametrize(
    "spec",
    [
        "m",
        "m{}",
        'm{a="1"}',
        'm{a="x\\\\y\\"z\\n",b=""}',
        'm{le="+Inf",quantile="0.5"}',
        'm{a="}",b="{ ,"}',
        'm{a="1",a="2"}',
        'm{__name__="x"}',
        'm{a="\\t"}',
        'm {a="1"}',
        'm{a="1",}',
        'm{ a = "1" }',
    ],
)
def test_canonical_fast_scan_matches_full_scanner(spec: str) -> None:
    def run(check_utf8: bool) -> object:
        try:
            return scan_series(spec + " 1", 0, utf8_names=False, check_utf8=check_utf8)
        except ScanError as exc:
            return ("error", exc.message, exc.column)

    assert run(check_utf8=False) == run(check_utf8=True)  # check_utf8=True always takes the state machine
