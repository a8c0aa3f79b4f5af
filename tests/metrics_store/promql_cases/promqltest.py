"""A small promtool-like test language for the PromQL engine (the format of Prometheus' promql/testdata).

    load 5m
        http_requests{job="api"}  0+10x10 _ stale 5 1x3
    eval instant at 50m rate(http_requests[5m])
        {job="api"} 0.0333
    eval range from 0 to 10m step 5m sum(http_requests)
        {} 0 10 20
    eval_fail instant at 1m foo[5m] + 1
        error some text of the expected message
    eval_unsupported instant at 1m topk(1, foo)
    clear

Samples of a ``load`` block sit at 0, step, 2*step, ... Values: ``a+bxN`` / ``a-bxN`` (N+1 values), ``axN``,
``_`` (no sample), ``_xN``, ``stale`` (a staleness marker), numbers incl. NaN/Inf. Results are compared like
Prometheus' test framework (relative tolerance 1e-6; NaN equals NaN); unordered unless ``eval_ordered``.
Every instant eval is also run as a one-step range query and must give the same answer. The cases are
Prometheus 2.42's: the engine runs them with 2.42 semantics (3.x's differences: tests/differential).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import promql_parser
from prometheus_client import CollectorRegistry

from metrics_store.memory import MemoryStore
from metrics_store.model import METRIC_NAME, STALE_NAN, Labels, labels_from
from metrics_store.promql import Engine, Matrix, QueryError, Scalar, UnsupportedError, Vector
from metrics_store.promql.semantics import PROMETHEUS_2

__all__ = ["CASES_DIR", "Command", "parse_file", "run_commands"]

CASES_DIR = Path(__file__).resolve().parent
_NUM = r"[-+]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|Inf|inf|NaN)"
_EXPANSION = re.compile(rf"(?P<a>{_NUM})(?:(?P<op>[-+])(?P<b>{_NUM}))?x(?P<n>\d+)")
_EVAL = re.compile(
    r"(?P<cmd>eval|eval_ordered|eval_fail|eval_unsupported)\s+"
    r"(?:instant\s+at\s+(?P<at>\S+)|range\s+from\s+(?P<start>\S+)\s+to\s+(?P<end>\S+)\s+step\s+(?P<step>\S+))"
    r"\s+(?P<expr>.+)"
)


@dataclass
class Command:
    kind: str  # load | clear | eval
    line: int
    interval_ms: int = 0
    series: list[tuple[Labels, list[float | None]]] = field(default_factory=list)
    eval_cmd: str = ""
    expr: str = ""
    start_ms: int = 0
    end_ms: int = 0
    step_ms: int = 0
    instant: bool = True
    expected: list[tuple[Labels | None, list[float | None]]] = field(default_factory=list)
    error: str = ""


def _ms(text: str) -> int:
    if re.fullmatch(r"\d+", text):
        return int(text) * 1000
    if re.fullmatch(r"0+[a-z]+", text):
        return 0
    return int(promql_parser.parse_duration(text).total_seconds() * 1000)


def _labels(text: str) -> Labels:
    text = text.strip()
    if text in ("{}", ""):
        return ()
    node = promql_parser.parse(text)
    pairs = [(m.name, m.value) for m in node.matchers.matchers]
    if node.name:
        pairs.append((METRIC_NAME, node.name))
    return labels_from(pairs)


def expand_values(tokens: list[str]) -> list[float | None]:
    out: list[float | None] = []
    for tok in tokens:
        if tok == "_":
            out.append(None)
        elif tok.startswith("_x"):
            out.extend([None] * int(tok[2:]))
        elif tok == "stale":
            out.append(STALE_NAN)
        elif m := _EXPANSION.fullmatch(tok):
            k, b = float(m["a"]), float(m["b"] or 0)
            if m["op"] == "-":
                b = -b
            for _ in range(int(m["n"]) + 1):
                out.append(k)
                k += b
        else:
            out.append(float(tok))
    return out


def _split_series(line: str) -> tuple[Labels | None, list[str]]:
    line = line.strip()
    if "}" in line:
        cut = line.rindex("}") + 1
        return _labels(line[:cut]), line[cut:].split()
    head, *rest = line.split()
    if re.fullmatch(_NUM, head) and not rest:
        return None, [head]  # a bare scalar result
    return _labels(head), rest


def parse_file(path: Path) -> list[Command]:
    cmds: list[Command] = []
    current: Command | None = None
    for no, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            current = None if not line.strip() else current
            continue
        if raw[0] in " \t":
            if current is None:
                raise ValueError(f"{path.name}:{no}: indented line outside a block")
            if current.kind == "load":
                labels, toks = _split_series(line)
                current.series.append((labels or (), expand_values(toks)))
            elif line.strip().startswith("error "):
                current.error = line.strip()[len("error ") :]
            else:
                labels, toks = _split_series(line)
                current.expected.append((labels, expand_values(toks)))
            continue
        if line == "clear":
            cmds.append(Command("clear", no))
            current = None
        elif line.startswith("load "):
            current = Command("load", no, interval_ms=_ms(line.split()[1]))
            cmds.append(current)
        elif m := _EVAL.fullmatch(line):
            current = Command("eval", no, eval_cmd=m["cmd"], expr=m["expr"])
            if m["at"] is not None:
                current.start_ms = current.end_ms = _ms(m["at"])
                current.step_ms = 1000
            else:
                current.start_ms, current.end_ms = _ms(m["start"]), _ms(m["end"])
                current.step_ms, current.instant = _ms(m["step"]), False
            cmds.append(current)
        else:
            raise ValueError(f"{path.name}:{no}: cannot parse {line!r}")
    return cmds


def almost_equal(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    diff = abs(a - b)
    if a == 0 or b == 0 or diff < 2.2250738585072014e-308:
        return diff < 1e-6 * 2.2250738585072014e-308
    return diff / (abs(a) + abs(b)) < 1e-6


def _instant_rows(value: object) -> list[tuple[Labels | None, list[float | None]]]:
    if isinstance(value, Scalar):
        return [(None, [value.value])]
    if isinstance(value, Vector):
        return [(s.labels, [s.value]) for s in value.samples]
    raise AssertionError(f"unexpected result {value!r}")


def _range_rows(cmd: Command, value: Matrix) -> list[tuple[Labels | None, list[float | None]]]:
    steps = list(range(cmd.start_ms, cmd.end_ms + 1, cmd.step_ms))
    rows: list[tuple[Labels | None, list[float | None]]] = []
    for s in value.series:
        by_ts = dict(zip(s.timestamps_ms, s.values, strict=True))
        rows.append((s.labels, [by_ts.get(t) for t in steps]))
    return rows


def _same_row(got: list[float | None], want: list[float | None]) -> bool:
    return len(got) == len(want) and all(
        (g is None and w is None) or (g is not None and w is not None and almost_equal(g, w))
        for g, w in zip(got, want, strict=True)
    )


def _compare(where: str, got: list, want: list, ordered: bool) -> None:  # type: ignore[type-arg]
    assert len(got) == len(want), f"{where}: expected {len(want)} results, got {len(got)}: {got}"
    if ordered:
        for (gl, gv), (wl, wv) in zip(got, want, strict=True):
            assert gl == wl and _same_row(gv, wv), f"{where}: expected {wl} {wv}, got {gl} {gv}"
        return
    remaining = list(got)
    for wl, wv in want:
        match = next((g for g in remaining if g[0] == wl and _same_row(g[1], wv)), None)
        assert match is not None, f"{where}: expected {wl} {wv} in {remaining}"
        remaining.remove(match)


def run_commands(cmds: list[Command], where: str) -> int:
    """Run a file's commands; returns the number of evals checked."""
    store = MemoryStore()
    engine = Engine(store, registry=CollectorRegistry(), semantics=PROMETHEUS_2)
    checked = 0
    for cmd in cmds:
        at = f"{where}:{cmd.line}"
        if cmd.kind == "clear":
            store = MemoryStore()
            engine = Engine(store, registry=CollectorRegistry(), semantics=PROMETHEUS_2)
        elif cmd.kind == "load":
            for labels, values in cmd.series:
                ref = store.series_ref(labels)
                points = [(i * cmd.interval_ms, v) for i, v in enumerate(values) if v is not None]
                store.append([ref] * len(points), [t for t, _ in points], [v for _, v in points])
        else:
            checked += 1
            _run_eval(engine, cmd, at)
    return checked


def _run_eval(engine: Engine, cmd: Command, at: str) -> None:
    if cmd.eval_cmd in ("eval_fail", "eval_unsupported"):
        kind = UnsupportedError if cmd.eval_cmd == "eval_unsupported" else QueryError
        try:
            if cmd.instant:
                engine.instant_query(cmd.expr, cmd.start_ms)
            else:
                engine.range_query(cmd.expr, cmd.start_ms, cmd.end_ms, cmd.step_ms)
        except kind as exc:
            assert cmd.error in str(exc), f"{at}: expected error containing {cmd.error!r}, got {exc}"
            return
        raise AssertionError(f"{at}: expected {kind.__name__} for {cmd.expr}")
    ordered = cmd.eval_cmd == "eval_ordered"
    if cmd.instant:
        value = engine.instant_query(cmd.expr, cmd.start_ms)
        if isinstance(value, Matrix):
            got = [(s.labels, list(s.values)) for s in value.series]
            _compare(f"{at} {cmd.expr}", got, cmd.expected, ordered)
            return
        _compare(f"{at} {cmd.expr}", _instant_rows(value), cmd.expected, ordered)
        as_range = engine.range_query(cmd.expr, cmd.start_ms, cmd.start_ms, 1000)
        got_range = _range_rows(cmd, as_range)
        if isinstance(value, Scalar):
            got_range = [(None, row) for _, row in got_range]
        _compare(f"{at} {cmd.expr} (as range query)", got_range, cmd.expected, ordered=False)
    else:
        value = engine.range_query(cmd.expr, cmd.start_ms, cmd.end_ms, cmd.step_ms)
        _compare(f"{at} {cmd.expr}", _range_rows(cmd, value), cmd.expected, ordered)
