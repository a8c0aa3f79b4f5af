"""Units of the scrape http config: validation, secret files re-read on change, TLS files named in errors
without their content, proxy credentials kept out of URLs, one client per distinct config."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from pydantic import ValidationError

from collector.config import StaticJob
from collector.errors import ScrapeAuthError, ScrapeConfigError
from collector.http_client import ScrapeHTTP, SecretFile, tls_context
from collector.http_config import HTTPClientConfig, TLSConfig


def _job(**http: object) -> StaticJob:
    return StaticJob.model_validate({"name": "j", "targets": ["h:1"], **http})


def test_secret_file_is_re_read_when_it_changes_and_errors_name_no_content(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text("first\n")
    secret = SecretFile(path, "basic_auth.password_file")
    assert secret.read() == "first"
    path.write_text("second-longer\n")
    assert secret.changed() and secret.read() == "second-longer"
    path.unlink()
    with pytest.raises(ScrapeConfigError, match=r"basic_auth.password_file .*pw: cannot read") as info:
        secret.read()
    assert "second" not in str(info.value)


def test_tls_files_that_cannot_load_are_named_by_key_without_their_content(tmp_path: Path) -> None:
    with pytest.raises(ScrapeConfigError, match=r"tls_config.ca_file missing.pem: cannot load the CA"):
        tls_context(TLSConfig(ca_file="missing.pem"), tmp_path)
    (tmp_path / "c.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nTOPSECRETBYTES\n-----END CERTIFICATE-----\n"
    )
    (tmp_path / "k.pem").write_text(
        "-----BEGIN PRIVATE KEY-----\nTOPSECRETBYTES\n-----END PRIVATE KEY-----\n"
    )
    with pytest.raises(ScrapeConfigError, match=r"tls_config.cert_file/key_file c.pem") as info:
        tls_context(TLSConfig(cert_file="c.pem", key_file="k.pem"), tmp_path)
    assert "TOPSECRETBYTES" not in str(info.value)


@pytest.mark.parametrize(
    ("http", "message"),
    [
        ({"basic_auth": {"username": "u", "password": "p"}, "oauth2": {}}, "oauth2.client_id"),
        ({"authorization": {"type": "Basic", "credentials": "x"}}, "use basic_auth instead"),
        ({"authorization": {}}, "needs credentials or credentials_file"),
        ({"oauth2": {"client_id": "c", "client_secret": "s", "token_url": "ftp://x"}}, "http(s) URL"),
        ({"tls_config": {"min_version": "TLS9"}}, "tls_config.min_version"),
        ({"proxy_url": "socks5://p:1080"}, "must be an http:// URL"),
        ({"tls_config": {"ca": "inline"}}, "tls_config.ca"),
    ],
)
def test_invalid_http_config_names_its_key(http: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        _job(**http)
    text = str(info.value).replace("\n  ", ".").replace("\n", " ")
    assert message in text, text


def test_secrets_are_never_in_repr_but_still_tell_configs_apart() -> None:
    a = _job(authorization={"credentials": "tok-A"}, proxy_url="http://u:pw-A@proxy:3128")
    b = _job(authorization={"credentials": "tok-B"}, proxy_url="http://u:pw-A@proxy:3128")
    assert "tok-A" not in repr(a) and "pw-A" not in repr(a)
    assert a.http_key() != b.http_key()
    assert (
        a.http_key()
        == _job(authorization={"credentials": "tok-A"}, proxy_url="http://u:pw-A@proxy:3128").http_key()
    )
    assert HTTPClientConfig().http_key() == _job().http_key()


async def test_proxy_credentials_go_in_a_header_never_in_the_url(tmp_path: Path) -> None:
    http = ScrapeHTTP(_job(proxy_url="http://us%40er:p%3Ass@proxy.example:3128"), tmp_path)
    plain = await http.options({"Accept": "x"}, https=False)
    assert plain.proxy == "http://proxy.example:3128"
    expected = "Basic " + base64.b64encode(b"us@er:p:ss").decode()
    assert plain.headers["Proxy-Authorization"] == expected and plain.proxy_headers is None
    tls = await http.options({"Accept": "x"}, https=True)  # CONNECT: the target never sees the header
    assert "Proxy-Authorization" not in tls.headers
    assert tls.proxy_headers == {"Proxy-Authorization": expected}


async def test_credentials_with_a_line_break_are_refused(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("abc\r\nX-Injected: 1")
    http = ScrapeHTTP(_job(authorization={"credentials_file": "token"}), tmp_path)
    with pytest.raises(ScrapeConfigError, match="line break"):
        await http.options({}, https=False)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b'{"access_token": "' + b"a" * 70_000 + b'"}', "answer larger than 65536 bytes"),
        (200, b'{"token_type": "bearer"}', "the answer has no access_token"),
        (200, b"<html>not json</html>", "the answer is not JSON"),
        (
            401,
            b'{"error": "invalid_client", "error_description": "secret hunter2 is wrong"}',
            "HTTP 401 (invalid_client)",
        ),
        (400, b'{"error": "<script>"}', "answered HTTP 400"),
    ],
)
async def test_token_endpoint_answers_are_bounded_and_never_echoed(
    tmp_path: Path, status: int, body: bytes, expected: str
) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    oauth = {"client_id": "c", "client_secret": "hunter2", "token_url": f"http://127.0.0.1:{port}/token"}
    http = ScrapeHTTP(_job(oauth2=oauth), tmp_path)
    try:
        with pytest.raises(ScrapeAuthError) as info:
            await http.options({}, https=False)
    finally:
        await http.close()
        server.close()
        await server.wait_closed()
    message = str(info.value)
    assert expected in message and message.startswith(f"oauth2: token_url http://127.0.0.1:{port}/token")
    for leaked in ("hunter2", "<script>", "aaaa", "html"):
        assert leaked not in message
