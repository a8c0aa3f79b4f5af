"""The demo's notification sinks: an SMTP server (aiosmtpd) that stores every mail as ``.eml`` and an HTTP
server that stores every POSTed body (a webhook receiver), both on loopback, in one process.

    python -m platforms.local.smtp_sink --mail-dir DIR --webhook-dir DIR --smtp-port N --http-port N

Files are named ``<UTC time>-<seq>.eml`` / ``.json`` and written atomically (temp file, then rename), so a
reader never sees half a mail. ``GET /`` on the HTTP port answers ``ok`` (readiness); any POST is stored and
answered 200. Runs until SIGTERM/SIGINT. aiosmtpd is imported here only: the demo needs it, Paramedic not.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import threading
from datetime import UTC, datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = ["SinkFiles", "list_mails", "main"]

MAX_BODY_BYTES = 10 * 1024 * 1024


class SinkFiles:
    """Writes received items to one directory, atomically, named by arrival time and sequence."""

    def __init__(self, directory: Path, suffix: str) -> None:
        self.directory, self.suffix = directory, suffix
        directory.mkdir(parents=True, exist_ok=True)
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def store(self, data: bytes) -> Path:
        with self._lock:
            n = next(self._seq)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.directory / f"{stamp}-{n:05d}{self.suffix}"
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        return path


def list_mails(directory: Path) -> list[tuple[Path, EmailMessage]]:
    """The stored mails of ``directory``, oldest first, parsed."""
    from email import policy  # noqa: PLC0415 -- only the listing needs it
    from email.parser import BytesParser  # noqa: PLC0415

    out = []
    for path in sorted(directory.glob("*.eml")):
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        if isinstance(msg, EmailMessage):
            out.append((path, msg))
    return out


class _MailHandler:
    """aiosmtpd handler: every accepted message becomes one ``.eml`` file."""

    def __init__(self, files: SinkFiles) -> None:
        self.files = files

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 -- aiosmtpd
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else str(content).encode()
        self.files.store(data)
        return "250 Message accepted for delivery"


def _http_handler(files: SinkFiles) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._reply(200, b"ok\n")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._reply(413, b"too large\n")
                return
            files.store(self.rfile.read(length))
            self._reply(200, b"stored\n")

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main(argv: list[str] | None = None) -> int:
    from aiosmtpd.controller import Controller  # noqa: PLC0415 -- a demo-only dependency

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--mail-dir", type=Path, required=True)
    parser.add_argument("--webhook-dir", type=Path, required=True)
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    args = parser.parse_args(argv)
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    smtp = Controller(
        _MailHandler(SinkFiles(args.mail_dir, ".eml")), hostname="127.0.0.1", port=args.smtp_port
    )
    smtp.start()
    http = ThreadingHTTPServer(
        ("127.0.0.1", args.http_port), _http_handler(SinkFiles(args.webhook_dir, ".json"))
    )
    worker = threading.Thread(target=http.serve_forever, name="webhook-sink", daemon=True)
    worker.start()
    print(f"smtp sink on 127.0.0.1:{args.smtp_port} -> {args.mail_dir}", flush=True)
    print(f"webhook sink on http://127.0.0.1:{args.http_port}/ -> {args.webhook_dir}", flush=True)
    try:
        stop.wait()
    finally:
        http.shutdown()
        http.server_close()
        smtp.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
