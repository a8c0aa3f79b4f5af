"""A deterministic exporter for the differential test: every client walks the same sample sequence.

Each scrape of ``/<client>/<job>`` by host ``<host>`` returns the *next* sample set of a fixed sequence, every
sample carrying an explicit timestamp (``base_ms + k * STEP_MS``). Prometheus and Paramedic scrape through
their own client path, so both store exactly the same ``(t, v)`` pairs whatever their scrape timing; after
``NUM_SAMPLES`` the last set is repeated (a duplicate of an existing sample, which both stores ignore).

The series cover counters with resets, gauges (negative, NaN, ±Inf), classic histograms (one with a
non-monotonic bucket), a summary, an info metric for joins, series that appear and vanish, and label values
with a newline. With ``utf8`` (served to Prometheus 3 and Paramedic with 3.x semantics only: 2.42 refuses
the whole scrape) also series with UTF-8 metric and label names, written in the quoted syntax. Last come
typed ``norm_*`` families (``# TYPE`` lines) whose ``le``/``quantile`` values Prometheus 3 normalises.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["NORM_LE", "NORM_QUANTILES", "NUM_SAMPLES", "STEP_MS", "Exporter", "render"]

STEP_MS = 15_000
NUM_SAMPLES = 100
BUCKETS = ("0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf")


def _num(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


_LEGACY = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _name(text: str) -> str:
    return text if _LEGACY.fullmatch(text) else _quoted(text)


def _series(name: str, pairs: dict[str, str]) -> str:
    """``name{a="v"}`` or, for a UTF-8 metric name, ``{"my.name",a="v"}`` (names quoted where needed)."""
    labels = [f"{_name(k)}={_quoted(v)}" for k, v in pairs.items()]
    if _LEGACY.fullmatch(name):
        return name + ("{" + ",".join(labels) + "}" if labels else "")
    return "{" + ",".join([_quoted(name), *labels]) + "}"


def _counter(k: int, seed: int, reset_at: int | None) -> float:
    """Cumulative sum of deterministic increments; restarts from 0 at ``reset_at``."""
    start = reset_at if reset_at is not None and k >= reset_at else 0
    total = 0.0
    for i in range(start, k + 1):
        total += ((i * 7 + seed * 13) % 11) * 0.5 + (seed % 3)
    return total


# Distinct per target, so that no two targets tie on a value (topk/sort order among ties is Prometheus'
# storage order, which depends on which target happened to be scraped first).
_TARGET_SEEDS = {("api", "127.0.0.1"): 1, ("api", "localhost"): 2, ("db", "127.0.0.1"): 3}


def _samples(job: str, host: str, k: int, utf8: bool) -> Iterator[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of sample set ``k`` for one target."""
    tseed = _TARGET_SEEDS[(job, host.rsplit(":", 1)[0])]
    for m, method in enumerate(("get", "post")):
        for c, code in enumerate(("200", "500")):
            seed = tseed * 4 + m * 2 + c
            reset = 40 if method == "post" else 75 if code == "500" else None
            yield "diff_requests_total", {"method": method, "code": code}, _counter(k, seed, reset)
    for m, method in enumerate(("get", "post")):
        yield "diff_requests_limit", {"method": method}, 100.0 * (m + 1) + tseed
    for i, sensor in enumerate(("a", "b", "c")):
        yield (
            "diff_temperature_celsius",
            {"sensor": sensor},
            20 + 10 * math.sin(k / 7 + i * 0.37 + tseed * 1.13),
        )
    yield "diff_queue_length", {}, float(((k // 3) * tseed) % 9)
    yield "diff_balance", {}, round(50 * math.cos(k / 5 + tseed), 3) - 10.5 + (k % 4) * 0.25
    special = (math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -2.5)
    shifted = k + tseed
    yield "diff_special", {}, special[shifted % len(special)] if shifted % 3 == 0 else float(k * tseed)
    if (k // 25) % 2 == 0:
        yield "diff_flappy", {"phase": "even"}, float(k % 10)
    if k >= 60:
        yield "diff_late", {"kind": "new"}, k * 1.5
    yield "diff_info", {"version": f"1.{tseed}.0", "build": "b" + str(tseed % 2)}, 1.0
    yield "diff_boot_time_seconds", {}, 1_600_000_000.0 + tseed * 86400 * 40 + k * 3600 * 7.3
    yield from _histogram("diff_request_duration_seconds", {}, k, tseed, broken=False)
    yield from _histogram("diff_upstream_seconds", {"upstream": "x"}, k, tseed + 3, broken=True)
    for q, factor in (("0.5", 1.0), ("0.9", 1.8), ("0.99", 3.1)):
        yield "diff_rpc_latency_seconds", {"quantile": q}, factor * (0.2 + 0.1 * math.sin(k / 4 + tseed))
    yield "diff_rpc_latency_seconds_sum", {}, _counter(k, tseed + 5, None) * 0.01
    yield "diff_rpc_latency_seconds_count", {}, float(k * 3 + tseed)
    for line, offset in (("a\nb", 0), ("ab", 1), ("a\n", 2)):
        yield "diff_text", {"line": line}, float((k + offset + tseed) % 5)
    if utf8:
        yield "diff.utf8_total", {"label.dotted": "x", "plain": "y"}, _counter(k, tseed + 7, None)
        yield "diff_plain", {"région": "é"}, float(k % 6) + tseed


def _histogram(
    name: str, labels: dict[str, str], k: int, seed: int, broken: bool
) -> Iterator[tuple[str, dict[str, str], float]]:
    counts = [0.0] * len(BUCKETS)
    for i in range(k + 1):
        idx = (i * 5 + seed) % len(BUCKETS)
        for b in range(idx, len(BUCKETS)):
            counts[b] += 1 + (i % 2)
    for b, le in enumerate(BUCKETS):
        value = counts[b]
        if broken and b == 3 and k % 4 == 1:
            value = counts[b] - 3  # below the lower bucket: Prometheus' monotonicity fix applies
        yield f"{name}_bucket", {**labels, "le": le}, value
    yield f"{name}_sum", labels, counts[-1] * 0.37 + k * 0.01
    yield f"{name}_count", labels, counts[-1]


# Typed families, after every untyped line above: bucket bounds and quantiles as a Go exporter writes them
# (le="1"), which Prometheus 3 stores normalised (le="1.0", "1e+06") and 2.42 as written.
NORM_LE = ("1e-05", "0.5", "1", "100000", "1000000", "+Inf")
NORM_QUANTILES = ("0.99", "1")


def _typed(k: int, seed: int) -> list[tuple[str, str, dict[str, str], float]]:
    """(TYPE line or "", name, labels, value) of the typed families of sample set ``k``."""
    out: list[tuple[str, str, dict[str, str], float]] = []
    hist = "# TYPE norm_latency_seconds histogram"
    for b, le in enumerate(NORM_LE):
        out.append(
            (hist if b == 0 else "", "norm_latency_seconds_bucket", {"le": le}, float(k * (b + 1) + seed))
        )
    count = float(k * len(NORM_LE) + seed)
    out.append(("", "norm_latency_seconds_count", {}, count))
    out.append(("", "norm_latency_seconds_sum", {}, count * 0.25))
    # no TYPE line of its own: Prometheus' parsers keep the last TYPE line's type (histogram) for it
    out.append(("", "norm_after_histogram_bucket", {"le": "1"}, float(k)))
    for i, q in enumerate(NORM_QUANTILES):
        out.append(
            ("# TYPE norm_rpc_seconds summary" if i == 0 else "", "norm_rpc_seconds", {"quantile": q}, k + i)
        )
    out.append(("", "norm_rpc_seconds_count", {}, float(k + seed)))
    out.append(("# TYPE norm_plain untyped", "norm_plain_bucket", {"le": "1"}, float(k % 5)))
    out.append(("", "norm_plain", {"quantile": "1"}, float(k % 3)))
    return out


def render(job: str, host: str, k: int, base_ms: int, utf8: bool = False) -> bytes:
    ts = base_ms + k * STEP_MS
    lines = [f"{_series(name, labels)} {_num(v)} {ts}" for name, labels, v in _samples(job, host, k, utf8)]
    for type_line, name, labels, v in _typed(k, _TARGET_SEEDS[(job, host.rsplit(":", 1)[0])]):
        if type_line:
            lines.append(type_line)
        lines.append(f"{_series(name, labels)} {_num(v)} {ts}")
    return ("\n".join(lines) + "\n").encode()


class Exporter:
    """Serves ``/<client>/<job>``; one cursor per (client, job, Host header)."""

    def __init__(self, base_ms: int, *, utf8: bool = False) -> None:
        self.base_ms = base_ms
        self.utf8 = utf8
        self._cursors: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                if len(parts) != 2:
                    self.send_error(404)
                    return
                body = exporter.next_body(parts[0], parts[1], self.headers.get("Host", ""))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])

    def next_body(self, client: str, job: str, host: str) -> bytes:
        with self._lock:
            key = (client, job, host)
            k = self._cursors.get(key, 0)
            self._cursors[key] = min(k + 1, NUM_SAMPLES - 1)
        return render(job, host, k, self.base_ms, self.utf8)

    def done(self, client: str, targets: int) -> bool:
        """Every one of ``client``'s ``targets`` has been served the last sample set."""
        with self._lock:
            ours = [k for (c, _, _), k in self._cursors.items() if c == client]
        return len(ours) == targets and all(k == NUM_SAMPLES - 1 for k in ours)

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
