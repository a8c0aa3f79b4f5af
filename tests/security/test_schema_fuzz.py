"""The HTTP API fuzzed against a real ``paramedic serve``, as a viewer and as an anonymous reader
(``anonymous_read: true``): no answer is a 5xx, no request crashes or freezes the server, and afterwards it
still answers ``/-/healthy`` within 1 s with the ordinary query right (issue 11).

Two generators:

* **schemathesis over ``/openapi.json``**: every operation in the schema (positive and negative data, a
  fixed number of examples each, derandomized). FastAPI's schema declares no parameters for the routes that
  read ``request.query_params`` or the urlencoded form themselves (the Prometheus query API, the log API,
  ``/api/v1/metadata``), so :data:`UNDECLARED` adds the parameters those routes read (Prometheus' documented
  names) to the fetched schema before the run; a route that declares its own keeps them. The SSE live tail
  is left out of the generic run (it streams until the client hangs up); :func:`test_live_tail_fuzzed` opens
  it with generated queries and reads only the first event.
* **hand-written hypothesis strategies** for the read routes whose parameters are languages (PromQL,
  matchers, the log query language, regexes) and timestamps: random text says little there, since nearly all
  of it is refused by the first check. They also cover the dashboard's pages and ``events.json``, which are
  not in the schema.

Every 5xx (but a 503 ``timeout``, Prometheus' answer to a query that ran out of its time), timeout or dropped
connection is collected with the request, and the test fails listing them with the server log's tail (the
traceback). Requests that once failed stay in :data:`FOUND`. Everything is derandomized: a run is the same
requests every time (given the same code).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import hypothesis.strategies as st
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from tests.support.hostile import PROBE_METRIC, Target, running_target

EXAMPLES_PER_OPERATION = 12  # per operation and generation mode
HAND_EXAMPLES = 600  # per hand-written route family
READ_TIMEOUT_S = 10.0
STREAMING = {"/api/v1/logs/tail"}
FORM = "application/x-www-form-urlencoded"
POLICIES = Path(__file__).parents[1] / "remediation" / "policy" / "fixtures" / "policies.yaml"

_STR = {"type": "string"}
_NUMBER_OR_STR = {"anyOf": [{"type": "number"}, {"type": "string"}]}
_INT_OR_STR = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
_LIST = {"type": "array", "items": {"type": "string"}}
_TIME, _DURATION, _COUNT = _NUMBER_OR_STR, _NUMBER_OR_STR, _INT_OR_STR

# Parameters read by hand (``Form.read`` or ``request.query_params``) and missing from the app's schema.
# POST variants of the Prometheus routes take the same names as an urlencoded body.
UNDECLARED: dict[str, dict[str, dict[str, Any]]] = {
    "/api/v1/query": {"query": _STR, "time": _TIME, "timeout": _DURATION},
    "/api/v1/query_range": {
        "query": _STR,
        "start": _TIME,
        "end": _TIME,
        "step": _DURATION,
        "timeout": _DURATION,
    },
    "/api/v1/series": {"match[]": _LIST, "start": _TIME, "end": _TIME},
    "/api/v1/labels": {"match[]": _LIST, "start": _TIME, "end": _TIME},
    "/api/v1/label/{name}/values": {"match[]": _LIST, "start": _TIME, "end": _TIME},
    "/api/v1/format_query": {"query": _STR},
    "/api/v1/query_exemplars": {"query": _STR, "start": _TIME, "end": _TIME},
    "/api/v1/metadata": {"metric": _STR, "limit": _COUNT},
    "/api/v1/logs/search": {
        "q": _STR,
        "start": _TIME,
        "end": _TIME,
        "limit": _COUNT,
        "cursor": _STR,
        "highlight": _STR,
    },
    "/api/v1/logs/histogram": {"q": _STR, "start": _TIME, "end": _TIME, "step": _DURATION},
    "/api/v1/logs/context": {"id": _STR, "before": _COUNT, "after": _COUNT},
    "/api/v1/logs/patterns": {"app": _STR, "limit": _COUNT},
}
# The signed-link POSTs read ``token`` and a JSON (or form) ``{"reason": ...}`` body by hand.
_REASON = {"type": "object", "properties": {"reason": _STR}}
UNDECLARED_LINKS = ["/api/v1/actions/{action_id}/approve", "/api/v1/actions/{action_id}/reject"]
REMEDIATION_PATHS = ("/api/v1/actions", "/api/v1/policies", "/api/v1/deployments")

# Read routes the hand-written strategies cover: they must stay in the schema (a rename would drop them).
READ_ROUTES = {
    "/api/v1/query",
    "/api/v1/query_range",
    "/api/v1/series",
    "/api/v1/labels",
    "/api/v1/label/{name}/values",
    "/api/v1/logs/search",
    "/api/v2/alerts",
    "/api/v2/silences",
}


def declare_parameters(raw: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``raw`` with :data:`UNDECLARED` added where an operation does not declare them itself."""
    schema = copy.deepcopy(raw)
    for path, params in UNDECLARED.items():
        for method, op in schema["paths"].get(path, {}).items():
            if method == "get":
                have = {p["name"] for p in op.get("parameters", []) if p.get("in") == "query"}
                op.setdefault("parameters", []).extend(
                    {"name": name, "in": "query", "required": False, "schema": s}
                    for name, s in params.items()
                    if name not in have
                )
            elif method == "post" and "requestBody" not in op:
                body = {"type": "object", "properties": params, "additionalProperties": False}
                op["requestBody"] = {"content": {"application/x-www-form-urlencoded": {"schema": body}}}
    for path in UNDECLARED_LINKS:
        op = schema["paths"].get(path, {}).get("post")
        if op is None:
            continue
        if not any(p["name"] == "token" for p in op.get("parameters", [])):
            op.setdefault("parameters", []).append({"name": "token", "in": "query", "schema": _STR})
        op.setdefault("requestBody", {"content": {"application/json": {"schema": _REASON}}})
    return schema


def _error_type(body: str) -> object:
    try:
        return json.loads(body).get("errorType")
    except (ValueError, AttributeError):
        return None


class Problems:
    """5xx answers, timeouts and dropped connections, with what was sent. A 503 whose ``errorType`` is
    ``timeout`` is Prometheus' documented answer to a query that ran out of its time (``timeout=`` may be
    set by the caller) and is not counted."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.items: list[str] = []

    def check(self, what: str, status: int | None, body: str = "", error: str = "") -> None:
        if self.target.proc.popen.poll() is not None:
            code = self.target.proc.popen.returncode
            pytest.fail(f"paramedic serve died ({code}) at {what}:\n{self.target.proc.log_tail(60)}")
        if status is None:
            self.items.append(f"{what} -> {error}")
        elif status >= 500 and not (status == 503 and _error_type(body) == "timeout"):
            self.items.append(f"{what} -> {status}: {body[:300]}")

    def assert_none(self) -> None:
        self.target.assert_alive()
        if self.items:
            shown = "\n".join(self.items[:25])
            more = f"\n(and {len(self.items) - 25} more)" if len(self.items) > 25 else ""
            tail = self.target.proc.log_tail(80)
            pytest.fail(f"{len(self.items)} failed requests:\n{shown}{more}\n--- server log ---\n{tail}")


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: every failure is recorded as it comes
        suppress_health_check=list(HealthCheck),
    )


# ---------------------------------------------------------------------------------------------------------
# schemathesis


def _openapi(target: Target, role: str | None) -> dict[str, Any]:
    r = httpx.get(f"{target.base_url}/openapi.json", headers=target.headers(role), timeout=10)
    assert r.status_code == 200, r.text
    raw: dict[str, Any] = r.json()
    return raw


def test_openapi_schema_needs_a_reader_and_lists_the_read_routes(target: Target) -> None:
    assert httpx.get(f"{target.base_url}/openapi.json", timeout=10).status_code == 401
    raw = _openapi(target, "viewer")
    assert raw["openapi"].startswith("3.")
    paths = set(raw["paths"])
    assert paths >= READ_ROUTES | set(UNDECLARED) | STREAMING, sorted(paths)


def _run_schemathesis(target: Target, role: str | None, only: tuple[str, ...] = ()) -> Problems:
    """Every operation of the schema (those under the ``only`` prefixes when given) but the streaming ones."""
    raw = declare_parameters(_openapi(target, role))
    schema = schemathesis.openapi.from_dict(raw, config=schemathesis.Config())
    problems = Problems(target)
    operations = 0
    with requests.Session() as session:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), f"the schema has an invalid operation: {result}"
            op = result.ok()
            if op.path in STREAMING or (only and not op.path.startswith(only)):
                continue
            operations += 1
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    _send_cases(target, role, session, op, mode, problems)
                except Unsatisfiable:  # nothing to make negative: an operation without parameters
                    assert mode is GenerationMode.NEGATIVE
    assert operations >= (9 if only else 30), f"only {operations} operations in the schema"
    return problems


def _send_cases(
    target: Target,
    role: str | None,
    session: requests.Session,
    op: schemathesis.APIOperation[Any, Any, Any, Any],
    mode: GenerationMode,
    problems: Problems,
) -> None:
    headers = target.headers(role)

    @_settings(EXAMPLES_PER_OPERATION)
    @given(op.as_strategy(mode))
    def send(case: schemathesis.Case[Any]) -> None:
        curl = case.as_curl_command(headers=headers, base_url=target.base_url)
        what = f"{op.label} [{mode.value}] {curl}"
        try:
            r = case.call(base_url=target.base_url, session=session, headers=headers, timeout=READ_TIMEOUT_S)
        except requests.RequestException as exc:
            problems.check(what, None, error=f"{type(exc).__name__}: {exc}")
            return
        # bytes, not r.text: a report PDF (/api/v1/reports/render?format=pdf) is no UTF-8 text
        problems.check(what, r.status_code, r.content.decode("utf-8", errors="replace"))

    send()


def test_schemathesis_as_viewer(target: Target) -> None:
    _run_schemathesis(target, "viewer").assert_none()


def test_schemathesis_as_anonymous_reader(anonymous_target: Target) -> None:
    _run_schemathesis(anonymous_target, None).assert_none()


@pytest.fixture(scope="module")
def remediation_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """The same server with a local platform and remediation policies (its API routes join the schema),
    anonymous reads on."""
    tmp = tmp_path_factory.mktemp("serve-remediation")
    (tmp / "policies.yaml").write_text(POLICIES.read_text())
    extra = {
        "platform": {"type": "local", "state_dir": "data/platform"},
        "remediation": {"policy_files": ["policies.yaml"], "data_dir": "data/remediation"},
    }
    with running_target(tmp, anonymous_read=True, extra_config=extra) as t:
        yield t


@pytest.mark.parametrize("role", ["viewer", None], ids=["viewer", "anonymous"])
def test_schemathesis_remediation_routes(remediation_target: Target, role: str | None) -> None:
    _run_schemathesis(remediation_target, role, only=REMEDIATION_PATHS).assert_none()


# ---------------------------------------------------------------------------------------------------------
# hand-written strategies for the languages and timestamps the read routes take

METRICS = [PROBE_METRIC, "up", "scrape_duration_seconds", "no_such_metric", "ALERTS"]
LABELS = ["kind", "job", "instance", "__name__", "le", "quantile", "alertname", "x"]
FUNCTIONS_ANY = [
    "abs", "ceil", "floor", "exp", "ln", "sqrt", "sgn", "round", "clamp", "clamp_min", "clamp_max", "scalar",
    "vector", "sort", "sort_desc", "timestamp", "absent", "histogram_quantile", "label_replace", "label_join",
    "time", "pi", "day_of_week", "year", "deg", "rad", "histogram_sum", "histogram_fraction",
]  # fmt: skip
FUNCTIONS_RANGE = [
    "rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets", "avg_over_time",
    "max_over_time", "min_over_time", "sum_over_time", "count_over_time", "last_over_time",
    "stddev_over_time", "quantile_over_time", "present_over_time", "absent_over_time", "predict_linear",
    "double_exponential_smoothing",
]  # fmt: skip
AGGREGATIONS = [
    "sum", "avg", "min", "max", "count", "stddev", "stdvar", "group", "topk", "bottomk", "quantile",
    "count_values", "limitk", "limit_ratio",
]  # fmt: skip
BINARY = ["+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=", "and", "or", "unless", "atan2"]
# Ranges and subquery steps: ordinary ones, and hostile ones that must be refused before any work.
DURATIONS = ["1ms", "1s", "15s", "1m", "5m", "1h", "1d", "90m", "1h30m"]
HOSTILE_SUBQUERIES = ["[7d:1ms]", "[10000y:1ms]", "[30d:1ms]", "[1y:1ms]"]
NUMBERS = ["0", "1", "-1", "42.5", "1e308", "-1e308", "1e-320", "Inf", "-Inf", "NaN", "0x1f", "9" * 30]
REGEX_TEXT = st.text(alphabet="ab.*+?()[]{}|^$\\X0,-", max_size=16)
NASTY_REGEXES = ["(.*.*)*X", "(a|aa)*c", "(a*)*b", "[", "(?P<x>a)", "\\", "a{1,100000}", ".{0,1000}{0,1000}"]


def _quoted(text: str) -> str:
    return json.dumps(text)  # a valid PromQL/matcher string literal for any text


label_value = st.one_of(st.text(max_size=12), st.sampled_from(["probe", "", "a" * 300])).map(_quoted)
regex_value = st.one_of(REGEX_TEXT, st.sampled_from(NASTY_REGEXES)).map(_quoted)
matcher = st.one_of(
    st.builds("{}{}{}".format, st.sampled_from(LABELS), st.sampled_from(["=", "!="]), label_value),
    st.builds("{}{}{}".format, st.sampled_from(LABELS), st.sampled_from(["=~", "!~"]), regex_value),
)
selector = st.builds(
    lambda name, ms: f"{name}{{{','.join(ms)}}}" if ms or not name else name,
    st.sampled_from([*METRICS, ""]),
    st.lists(matcher, max_size=3),
)
number = st.one_of(st.sampled_from(NUMBERS), st.floats(allow_nan=False).map(repr))
duration = st.sampled_from(DURATIONS)
modifier = st.one_of(
    st.just(""),
    st.builds(" offset {}".format, st.one_of(duration, st.sampled_from(["-5m", "10000y", "292y"]))),
    st.builds(" @ {}".format, st.sampled_from(["start()", "end()", "0", "1e10", "-1e10", "1700000000.5"])),
)
range_vector = st.builds("{}[{}]{}".format, selector, duration, modifier)


def _expressions(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    by = st.lists(st.sampled_from(LABELS), max_size=2).map(",".join)
    subquery = st.one_of(
        st.builds("({})[{}:{}]".format, children, duration, st.one_of(duration, st.just(""))),
        st.builds("({}){}".format, children, st.sampled_from(HOSTILE_SUBQUERIES)),
    )
    return st.one_of(
        st.builds("({})".format, children),
        st.builds("-{}".format, children),
        st.builds(
            "{} {}{} {}".format,
            children,
            st.sampled_from(BINARY),
            st.sampled_from(["", " bool", " on(kind)", " ignoring(job) group_left"]),
            children,
        ),
        st.builds(
            "{}({})".format, st.sampled_from(FUNCTIONS_ANY), st.lists(children, max_size=3).map(", ".join)
        ),
        st.builds(
            "{}({}{})".format,
            st.sampled_from(FUNCTIONS_RANGE),
            st.one_of(range_vector, subquery),
            st.sampled_from(["", ", 0.5", ", 0.5, 0.5", ", 60"]),
        ),
        st.builds(
            "{} by ({}) ({}{})".format,
            st.sampled_from(AGGREGATIONS),
            by,
            st.sampled_from(["", "2, ", "0.5, ", '"v", ', "1e9, "]),
            children,
        ),
        st.builds(
            "label_replace({}, {}, {}, {}, {})".format,
            children,
            label_value,
            label_value,
            label_value,
            regex_value,
        ),
        subquery,
    )


promql = st.recursive(
    st.one_of(selector, number, range_vector, st.just('"text"')), _expressions, max_leaves=6
)


def mostly(usual: st.SearchStrategy[str], odd: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``usual`` three times in four, else ``odd``: enough valid requests get past the checks to run."""
    return st.integers(0, 3).flatmap(lambda i: usual if i else odd)


# Valid-looking expressions mostly; else their truncations (the parser's error paths) or arbitrary text.
query_text = mostly(
    promql,
    st.one_of(
        st.builds(lambda q, cut: q[: max(1, int(len(q) * cut))], promql, st.floats(0, 1)),
        st.text(max_size=40),
    ),
)
timestamp = st.one_of(
    st.sampled_from(["0", "-1", "1e300", "-1e300", "1e18", "9.2e15", "NaN", "Inf", "", "1.0001"]),
    st.sampled_from(["2026-12-05T16:00:00Z", "2026-12-05T16:00:00+14:00", "0001-01-01T00:00:00Z"]),
    st.floats(-1e12, 1e12).map(lambda f: f"{f:.3f}"),
    st.integers(-(2**70), 2**70).map(str),
)
step_text = st.one_of(
    st.sampled_from(["0", "-1", "0.001", "1e-9", "1e300", "NaN", "15s", "1ms", "abc"]), duration
)
log_word = st.one_of(
    st.sampled_from(["aaa", "probe", "*", "?", "a*a*a*a*a*a*a*a*b", "*a*a*a*a*a*a*a*a*a*a*b"]),
    st.text(max_size=8),
)
log_query = st.recursive(
    st.one_of(
        log_word,
        st.builds(
            "{}:{}".format,
            st.sampled_from(["message", "app", "level", "host", "labels.x", "fields.f", "id"]),
            log_word,
        ),
        st.builds('"{}"'.format, st.text(max_size=10)),
        st.builds("{}:[{} TO {}]".format, st.sampled_from(["app", "f"]), log_word, log_word),
    ),
    lambda c: st.one_of(
        st.builds("{} AND {}".format, c, c),
        st.builds("{} OR {}".format, c, c),
        st.builds("NOT {}".format, c),
        st.builds("({})".format, c),
    ),
    max_leaves=5,
)
am_matchers = st.lists(matcher, min_size=0, max_size=3).map(lambda ms: "{" + ",".join(ms) + "}")

Request = tuple[str, str, list[tuple[str, str]]]  # method, path, params (or form for POST)


def _now_window() -> tuple[str, str]:
    now = time.time()
    return f"{now - 600:.3f}", f"{now:.3f}"


@st.composite
def prometheus_request(draw: st.DrawFn) -> Request:
    """One request to the Prometheus query API with a generated query and timestamps."""
    kind = draw(
        st.sampled_from(["query", "query_range", "series", "labels", "values", "format", "exemplars"])
    )
    method = draw(st.sampled_from(["GET", "POST"])) if kind != "values" else "GET"
    start, end = _now_window()
    start = draw(mostly(st.just(start), timestamp))
    end = draw(mostly(st.just(end), timestamp))
    if kind == "query":
        params = [("query", draw(query_text)), ("time", draw(mostly(st.just(end), timestamp)))]
        path = "/api/v1/query"
    elif kind == "query_range":
        step = draw(mostly(st.sampled_from(["15", "60", "1"]), step_text))
        params = [("query", draw(query_text)), ("start", start), ("end", end), ("step", step)]
        path = "/api/v1/query_range"
    elif kind in ("series", "labels", "values"):
        matches = draw(st.lists(mostly(selector, query_text), max_size=3))
        params = [("match[]", m) for m in matches] + [("start", start), ("end", end)]
        name = draw(mostly(st.sampled_from(LABELS), st.text(max_size=10)))
        values = f"/api/v1/label/{quote(name, safe='')}/values"
        path = {"series": "/api/v1/series", "labels": "/api/v1/labels"}.get(kind, values)
    elif kind == "format":
        params, path = [("query", draw(query_text))], "/api/v1/format_query"
    else:
        params, path = (
            [("query", draw(query_text)), ("start", start), ("end", end)],
            "/api/v1/query_exemplars",
        )
    if draw(st.booleans()):
        params.append(("timeout", draw(step_text)))
    return method, path, params


@st.composite
def other_read_request(draw: st.DrawFn) -> Request:
    """Log search and histogram, the Alertmanager API's filters, metadata, the dashboard's events.json and
    pages."""
    kinds = ["search", "histogram", "alerts", "groups", "silences", "events", "metadata", "page"]
    kind = draw(st.sampled_from(kinds))
    start, end = _now_window()
    start = draw(st.one_of(st.just(start), st.just(""), timestamp))
    end = draw(st.one_of(st.just(end), st.just(""), timestamp))
    if kind == "search":
        params = [("q", draw(log_query)), ("start", start), ("end", end), ("highlight", "true")]
        params.append(("limit", draw(st.sampled_from(["1", "100", "1000", "0", "-1", "1e9", "x"]))))
        return "GET", "/api/v1/logs/search", params
    if kind == "histogram":
        params = [("q", draw(log_query)), ("start", start), ("end", end), ("step", draw(step_text))]
        return "GET", "/api/v1/logs/histogram", params
    if kind in ("alerts", "groups", "silences"):
        params = [
            ("filter", f) for f in draw(st.lists(st.one_of(am_matchers, st.text(max_size=20)), max_size=2))
        ]
        if kind != "silences" and draw(st.booleans()):
            params.append(("receiver", draw(st.one_of(REGEX_TEXT, st.sampled_from(NASTY_REGEXES)))))
        if kind != "silences":
            for flag in draw(st.lists(st.sampled_from(["active", "silenced", "inhibited"]), max_size=2)):
                params.append((flag, draw(st.sampled_from(["true", "false", "yes", "2"]))))
        path = {"alerts": "/api/v2/alerts", "groups": "/api/v2/alerts/groups"}.get(kind, "/api/v2/silences")
        return "GET", path, params
    if kind == "page":  # the dashboard's pages (not in the schema) with generated parameters
        page = draw(st.sampled_from(["/explore", "/logs", "/apps/probe", "/alerts", "/static", "/apps"]))
        if page == "/static":
            name = draw(
                st.sampled_from(["dashboard.css", "../paramedic.yaml", "%2e%2e/%2e%2e/etc/passwd", "x"])
            )
            return "GET", f"/static/{name}", []
        if page == "/apps":
            return "GET", f"/apps/{quote(draw(st.text(max_size=12)), safe='')}", [("range", draw(duration))]
        params = [("expr", draw(query_text)), ("q", draw(log_query)), ("start", start), ("end", end)]
        return "GET", page, [*params, ("range", draw(st.sampled_from(["1h", "x", ""]))), ("tab", "table")]
    if kind == "events":
        num = st.one_of(st.floats().map(repr), st.sampled_from(["0", "1e11", "-1e11", "1e300", "nan", "inf"]))
        app = draw(st.sampled_from(["probe", "x", "a" * 200, "..", "%2e%2e"]))
        return "GET", f"/apps/{app}/events.json", [("start", draw(num)), ("end", draw(num))]
    params = [("metric", draw(st.one_of(st.sampled_from(METRICS), st.text(max_size=10))))]
    params.append(("limit", draw(st.sampled_from(["-1", "0", "1", "1e400", "99999999999999999999", "x"]))))
    return "GET", "/api/v1/metadata", params


def _send(client: httpx.Client, request: Request, problems: Problems) -> None:
    method, path, params = request
    what = f"{method} {path} {params!r}"
    try:
        if method == "POST":  # urlencoded form; repeated names (match[]) kept
            form = str(httpx.QueryParams(tuple(params))).encode()
            r = client.post(path, content=form, headers={"Content-Type": FORM})
        else:
            r = client.get(path, params=tuple(params))
    except httpx.HTTPError as exc:
        problems.check(what, None, error=f"{type(exc).__name__}: {exc}")
        return
    problems.check(what, r.status_code, r.text)


def _fuzz(target: Target, role: str | None, strategy: st.SearchStrategy[Request]) -> Problems:
    problems = Problems(target)
    with target.client(role, timeout_s=READ_TIMEOUT_S) as client:

        @_settings(HAND_EXAMPLES)
        @given(strategy)
        def send(request: Request) -> None:
            _send(client, request, problems)

        send()
    return problems


# Requests that got a 5xx from these fuzzers (now fixed), kept as regression cases and sent on every run.
FOUND: list[Request] = [
    (
        "GET",
        "/api/v1/labels",
        [("start", "0.0"), ("end", "4.7335778030273914e+225")],
    ),  # DuckDB: int too large
    ("POST", "/api/v1/labels", [("end", ""), ("start", "-4.800313325619731e+51")]),
    ("GET", "/api/v1/label/job/values", [("start", "-1e300"), ("end", "0")]),
    ("GET", "/api/v1/query", [("query", "1"), ("time", "1e300")]),  # np.arange: int too large for int64
    ("GET", "/api/v1/query_range", [("query", "up"), ("start", "1e300"), ("end", "1e300"), ("step", "1")]),
    ("GET", "/apps/x/events.json", [("start", "-1.7976931348623157e+308"), ("end", "0")]),  # round(inf)
    ("GET", "/api/v1/logs/histogram", [("q", "x"), ("end", "-1733466155724966.0")]),  # year out of range
    ("GET", "/api/v1/logs/histogram", [("q", "NOT x"), ("end", "0001-01-01T00:00:00Z"), ("step", "1s")]),
    ("GET", "/api/v1/logs/search", [("start", "-99999999999999999999"), ("end", "99999999999999999999")]),
]


def test_found_requests_stay_fixed(target: Target) -> None:
    problems = Problems(target)
    with target.client("viewer", timeout_s=READ_TIMEOUT_S) as client:
        for request in FOUND:
            _send(client, request, problems)
    problems.assert_none()


@pytest.mark.parametrize("generate", [prometheus_request, other_read_request], ids=["prometheus", "other"])
def test_read_routes_fuzzed_as_viewer(
    target: Target, generate: Callable[[], st.SearchStrategy[Request]]
) -> None:
    _fuzz(target, "viewer", generate()).assert_none()


@pytest.mark.parametrize("generate", [prometheus_request, other_read_request], ids=["prometheus", "other"])
def test_read_routes_fuzzed_as_anonymous_reader(
    anonymous_target: Target, generate: Callable[[], st.SearchStrategy[Request]]
) -> None:
    _fuzz(anonymous_target, None, generate()).assert_none()


def test_live_tail_fuzzed(target: Target) -> None:
    """The SSE tail with generated queries: 400 for a bad query, else the first event and a clean hang-up."""
    problems = Problems(target)
    with target.client("viewer", timeout_s=READ_TIMEOUT_S) as client:

        @_settings(40)
        @given(log_query, st.sampled_from(["", "true"]))
        def subscribe(q: str, highlight: str) -> None:
            what = f"GET /api/v1/logs/tail q={q!r} highlight={highlight!r}"
            try:
                with client.stream("GET", "/api/v1/logs/tail", params={"q": q, "highlight": highlight}) as r:
                    first = next(r.iter_bytes(), b"") if r.status_code == 200 else r.read()
            except httpx.HTTPError as exc:
                problems.check(what, None, error=f"{type(exc).__name__}: {exc}")
                return
            problems.check(what, r.status_code, first.decode(errors="replace"))
            assert r.status_code != 200 or first.startswith(b": connected"), first

        subscribe()
    problems.assert_none()
