"""The server gzips large responses for clients that accept it (query API matrices), never small ones or
event streams, and a client that does not ask gets plain JSON (Prometheus API clients)."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.responses import Response, StreamingResponse
from fastapi.testclient import TestClient

from paramedic.assembly import add_gzip

BIG = b'{"status":"success","data":' + b'[1.5,"2"],' * 2000 + b"0}"


def _client() -> TestClient:
    app = FastAPI()
    add_gzip(app)

    @app.get("/big")
    def big() -> Response:
        return Response(BIG, media_type="application/json")

    @app.get("/small")
    def small() -> Response:
        return Response(b'{"status":"success"}', media_type="application/json")

    @app.get("/stream")
    def stream() -> StreamingResponse:
        def events() -> Iterator[bytes]:
            yield b"data: " + b"x" * 8000 + b"\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return TestClient(app)


def test_large_json_is_gzipped_when_accepted() -> None:
    resp = _client().get("/big", headers={"Accept-Encoding": "gzip"})
    assert resp.headers["content-encoding"] == "gzip"
    assert resp.content == BIG  # decoded by the client
    assert int(resp.headers["content-length"]) < len(BIG) // 10


def test_plain_without_accept_encoding_small_bodies_and_event_streams() -> None:
    client = _client()
    assert "content-encoding" not in client.get("/big", headers={"Accept-Encoding": "identity"}).headers
    assert "content-encoding" not in client.get("/small", headers={"Accept-Encoding": "gzip"}).headers
    assert "content-encoding" not in client.get("/stream", headers={"Accept-Encoding": "gzip"}).headers
