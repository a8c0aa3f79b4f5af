"""Peak RSS of one range query on a fresh ``paramedic serve``, over data kept by ``bench/query.py --keep``.

    .venv/bin/python bench/query_peak.py --data DIR [--hours 1] [--code DIR] QUERY

``bench/query.py`` reports one peak for a whole run (every query, every repetition); a single query's own
peak needs a server that has answered nothing else. This copies the kept Paramedic store (so that runs of
two code versions can alternate on identical data), starts ``paramedic serve`` on it (PromQL semantics
"2", as the benchmark), reads VmRSS once ``/-/ready`` answers, sends one ``query_range`` at 15 s step
ending at the data's end (``Accept-Encoding: gzip``, as a browser or Grafana), then prints VmHWM, the
VmRSS after the answer, the HTTP status and the md5 of the body (equal bodies: equal answers).
``--code DIR`` runs another checkout of Paramedic (``git archive`` of a commit) with this interpreter.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.servers import ManagedProcess, free_port, wait_http

HOUR_S = 3600


def _status_mb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) // 1024
    raise KeyError(key)


def measure(code: Path, data: Path, query: str, hours: float) -> str:
    """One fresh server on a copy of ``data``'s store, one query; the line to print."""
    with tempfile.TemporaryDirectory(prefix="query-peak-") as tmp_name:
        tmp = Path(tmp_name)
        shutil.copytree(data / "para", tmp / "para")
        port = free_port()
        (tmp / "paramedic.yaml").write_text(
            f"server: {{listen_port: {port}, auth: {{anonymous_read: true}}}}\n"
            f"metrics_store: {{type: embedded, path: {tmp / 'para'}, downsample_after_s: null}}\n"
            'promql: {semantics: "2"}\n'
        )
        server = ManagedProcess(
            "paramedic",
            [sys.executable, "-m", "paramedic.cli", "serve", "--config", str(tmp / "paramedic.yaml")],
            tmp / "paramedic.log",
            cwd=code,
            env={"PYTHONPATH": str(code)},
        )
        try:
            wait_http(f"http://127.0.0.1:{port}/-/ready", 120, server)
            ready = _status_mb(server.pid, "VmRSS")
            end = int((data / "end_s").read_text())
            resp = httpx.post(
                f"http://127.0.0.1:{port}/api/v1/query_range",
                data={"query": query, "start": str(end - int(hours * HOUR_S)), "end": str(end), "step": "15"},
                headers={"Accept-Encoding": "gzip"},
                timeout=600,
            )
            peak, after = _status_mb(server.pid, "VmHWM"), _status_mb(server.pid, "VmRSS")
        finally:
            server.stop()
    md5 = hashlib.md5(resp.content, usedforsecurity=False).hexdigest()[:12]
    return f"ready {ready} MB -> peak {peak} MB (after {after} MB), HTTP {resp.status_code}, body md5 {md5}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("query", help="PromQL")
    ap.add_argument("--data", required=True, type=Path, help="a directory kept by bench/query.py --keep")
    ap.add_argument("--hours", type=float, default=1.0, help="range, ending at the data's end")
    ap.add_argument(
        "--code", type=Path, default=Path(__file__).resolve().parents[1], help="Paramedic checkout"
    )
    args = ap.parse_args()
    print(
        f"{measure(args.code.resolve(), args.data, args.query, args.hours)}  [{args.query}, {args.hours:g} h]"
    )


if __name__ == "__main__":
    main()
