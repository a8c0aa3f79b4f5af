"""gorouter's Prometheus ``/metrics`` endpoint, simulated: gorouter's family names, types and label names.

The families and labels follow a real gorouter's output (routing-release, sample in
/work/shared/data/cloudfoundry/gorouter/prometheus_metrics_sample.txt): counters ``total_requests
{component,is_routed_app}``, ``responses{status_group}``, ``bad_gateways``, ``backend_exhausted_conns``,
``rejected_requests``, ``registry_message{action,component}``; the ``latency{component}`` histogram (ms, the
same buckets); gauges ``ms_since_last_registry_update`` and ``total_routes``. gorouter names its counters
without ``_total``, which prometheus-client cannot produce, so :func:`render_gorouter_metrics` writes the
text format itself. Values are :meth:`GorouterProducer.totals` (the real HAProxy's requests).

:class:`GorouterExporter` serves it on 127.0.0.1 (``/metrics``; anything else is 404) from a daemon thread.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from platforms.cf_sim.gorouter import LATENCY_BUCKETS_MS, GorouterProducer, GorouterTotals

__all__ = ["GorouterExporter", "render_gorouter_metrics"]

_HELP = {
    "backend_exhausted_conns": ("counter", "number of errors related to backend connection limit reached"),
    "bad_gateways": ("counter", "number of bad gateway errors received from backends"),
    "latency": ("histogram", "routing response latency in ms"),
    "ms_since_last_registry_update": ("gauge", "time since last registry update in ms"),
    "registry_message": ("counter", "number of route registration messages"),
    "rejected_requests": ("counter", "number of rejected requests"),
    "responses": ("counter", "number of responses"),
    "total_requests": ("counter", "number of routing requests"),
    "total_routes": ("gauge", "number of total routes"),
}


def _family(name: str, samples: list[str]) -> list[str]:
    kind, text = _HELP[name]
    return [f"# HELP {name} {text}", f"# TYPE {name} {kind}", *samples]


def render_gorouter_metrics(t: GorouterTotals) -> str:
    c = t.counters
    buckets = [
        f'latency_bucket{{component="",le="{b}"}} {n}'
        for b, n in zip(LATENCY_BUCKETS_MS, t.latency_buckets, strict=True)
    ]
    buckets += [
        f'latency_bucket{{component="",le="+Inf"}} {t.latency_count}',
        f'latency_sum{{component=""}} {t.latency_sum_ms}',
        f'latency_count{{component=""}} {t.latency_count}',
    ]
    groups = ("2xx", "3xx", "4xx", "5xx", "xxx")
    unrouted = c["total_requests"] - t.routed_requests
    lines = [
        *_family("backend_exhausted_conns", [f"backend_exhausted_conns {c['backend_exhausted_conns']}"]),
        *_family("bad_gateways", [f"bad_gateways {c['bad_gateways']}"]),
        *_family("latency", buckets),
        *_family(
            "ms_since_last_registry_update",
            [f"ms_since_last_registry_update {t.ms_since_last_registry_update:.0f}"],
        ),
        *_family(
            "registry_message",
            [f'registry_message{{action="updated",component="route-emitter"}} {t.registrations}'],
        ),
        *_family("rejected_requests", [f"rejected_requests {c['rejected_requests']}"]),
        *_family("responses", [f'responses{{status_group="{g}"}} {c["responses_" + g]}' for g in groups]),
        *_family(
            "total_requests",
            [
                f'total_requests{{component="",is_routed_app="yes"}} {t.routed_requests}',
                f'total_requests{{component="",is_routed_app="no"}} {unrouted}',
            ],
        ),
        *_family("total_routes", [f"total_routes {t.total_routes}"]),
    ]
    return "\n".join(lines) + "\n"


class GorouterExporter:
    """Serves :func:`render_gorouter_metrics` of ``producer`` on ``http://127.0.0.1:<port>/metrics``."""

    def __init__(self, producer: GorouterProducer, port: int = 0) -> None:
        self.producer = producer
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/metrics":
                    self.send_error(404)
                    return
                body = render_gorouter_metrics(exporter.producer.totals()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="cf-sim-gorouter-exporter", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/metrics"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
