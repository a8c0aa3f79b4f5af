"""Synthetic scrape targets for benchmarks: N exporters on N loopback ports, each exposing S series whose
counter values move every second. Run as a separate process so its CPU is charged to neither system."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_body(target: int, series: int, second: int) -> bytes:
    lines = [
        "# HELP bench_requests_total Requests handled.",
        "# TYPE bench_requests_total counter",
    ]
    per_metric = max(series // 4, 1)
    for i in range(per_metric):
        lines.append(
            f'bench_requests_total{{app="app{i % 20}",instance_id="{i}",code="{200 + (i % 3) * 100}",'
            f'route="/api/v{i % 5}/items"}} {second * (i % 7 + 1) + target}'
        )
    lines.append("# TYPE bench_latency_seconds gauge")
    for i in range(per_metric):
        lines.append(
            f'bench_latency_seconds{{app="app{i % 20}",instance_id="{i}"}} {((second + i) % 97) / 1000}'
        )
    lines.append("# TYPE bench_memory_bytes gauge")
    for i in range(per_metric):
        mem = 1_000_000 + (second * 13 + i) % 4096
        lines.append(f'bench_memory_bytes{{app="app{i % 20}",instance_id="{i}"}} {mem}')
    lines.append("# TYPE bench_queue_depth gauge")
    for i in range(series - 3 * per_metric):
        lines.append(f'bench_queue_depth{{app="app{i % 20}",instance_id="{i}"}} {(second + i) % 11}')
    return ("\n".join(lines) + "\n").encode()


def serve(ports: list[int], series: int) -> None:
    cache: dict[tuple[int, int], bytes] = {}
    lock = threading.Lock()

    def handler_for(target: int) -> type[BaseHTTPRequestHandler]:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                second = int(time.time())
                with lock:
                    body = cache.get((target, second))
                    if body is None:
                        body = make_body(target, series, second)
                        cache[(target, second)] = body
                        cache.pop((target, second - 2), None)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler

    class QuietServer(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            return  # a scraper that gave up mid-body (timeout) is normal here

    servers = [QuietServer(("127.0.0.1", p), handler_for(i)) for i, p in enumerate(ports)]
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()  # exit when the parent closes our stdin


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, required=True)
    ap.add_argument("ports", type=int, nargs="+")
    a = ap.parse_args()
    serve(a.ports, a.series)
