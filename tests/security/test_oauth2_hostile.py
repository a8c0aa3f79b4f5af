"""A hostile OAuth2 token endpoint (a real loopback HTTP server) against ``collector.oauth2.TokenSource``:
whatever it answers, the error a scrape shows (targets page, logs) never carries a credential written in the
``token_url`` itself, and a token answer that arrives in several pieces is still read whole. Credentials in
the URL's user info are refused when the config loads (aiohttp raised a ValueError per scrape before)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import ValidationError

from collector.errors import ScrapeAuthError
from collector.http_config import OAuth2
from collector.oauth2 import TokenSource

USERINFO_SECRET = "pw-in-the-url-4711"
QUERY_SECRET = "secret-in-the-query-0815"


class _Endpoint(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path.startswith("/fail"):
            body = json.dumps({"error": "invalid_client", "echo": self.path}).encode()
            self.send_response(500)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        # close-delimited, in two writes: a reader that takes the first piece only sees no JSON
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b'{"access_token": "tok-')
        self.wfile.flush()
        self.wfile.write(b'abc", "expires_in": 60}')
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture(scope="module")
def endpoint() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _source(url: str) -> TokenSource:
    cfg = OAuth2(client_id="id", client_secret="client-s3cret", token_url=url)
    return TokenSource(cfg, None, tls=None, proxy=(None, None))


def test_user_info_in_the_token_url_is_refused_at_load() -> None:
    with pytest.raises(ValidationError) as info:
        OAuth2(client_id="id", token_url=f"https://user:{USERINFO_SECRET}@idp.example/token")
    assert "token_url" in str(info.value) and "credentials" in str(info.value)


@pytest.mark.parametrize("path", ["/fail", "/unreachable"])
async def test_a_secret_in_the_token_url_query_is_not_in_the_error(path: str, endpoint: int) -> None:
    port = endpoint if path == "/fail" else 9
    src = _source(f"http://127.0.0.1:{port}{path}?client_secret={QUERY_SECRET}")
    try:
        with pytest.raises(ScrapeAuthError) as info:
            await src.token()
    finally:
        await src.close()
    text = str(info.value)
    assert f"127.0.0.1:{port}{path}" in text
    assert QUERY_SECRET not in text and "client-s3cret" not in text
    if path == "/fail":
        assert "HTTP 500 (invalid_client)" in text


async def test_a_token_answer_in_pieces_is_read_whole(endpoint: int) -> None:
    src = _source(f"http://127.0.0.1:{endpoint}/token")
    try:
        assert await src.token() == "tok-abc"
    finally:
        await src.close()
