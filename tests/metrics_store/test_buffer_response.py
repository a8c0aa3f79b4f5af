"""Large range-query bodies are sent as bytes slices of at most 1 MiB (never one memoryview message), with the
whole body's Content-Length; small bytes bodies go out as they are."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.types import Message

from metrics_store._buffer_response import CHUNK_BYTES, BufferResponse


async def _sent(response: BufferResponse) -> list[Message]:
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/", "headers": []}
    await response(scope, receive, send)
    return messages


@pytest.mark.parametrize("size", [0, 10, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES + 17])
async def test_a_memoryview_body_goes_out_in_bytes_slices(size: int) -> None:
    buffer = bytearray((i * 7) % 251 for i in range(size))
    messages = await _sent(BufferResponse(memoryview(buffer), media_type="application/json"))
    start, bodies = messages[0], messages[1:]
    assert dict(start["headers"])[b"content-length"] == str(size).encode()
    assert all(type(m["body"]) is bytes and len(m["body"]) <= CHUNK_BYTES for m in bodies)
    assert b"".join(m["body"] for m in bodies) == bytes(buffer)
    assert [m.get("more_body", False) for m in bodies] == [True] * (len(bodies) - 1) + [False]
    assert len(bodies) == max(1, -(-size // CHUNK_BYTES))


async def test_a_small_bytes_body_is_sent_as_it_is() -> None:
    body = b'{"status":"success"}'
    messages = await _sent(BufferResponse(body, media_type="application/json"))
    assert len(messages) == 2 and messages[1]["body"] is body
