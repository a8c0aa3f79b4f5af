"""Syslog over TCP (octet-counted and LF, with bsdutils' logger), UDP and TLS (self-signed, openssl CLI)."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from log_pipeline.config import TlsListenerConfig
from tests.log_pipeline.receivers_harness import Harness, port0_config, spool_at
from tests.support.servers import require_binary, wait_until


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(port0_config(), spool_at(tmp_path / "spool"))
    yield h
    h.close()


def logger(*args: str) -> None:
    subprocess.run([require_binary("logger"), *args], check=True, timeout=10)


@pytest.mark.parametrize("framing", [["--octet-count"], []], ids=["octet", "lf"])
def test_logger_tcp(harness: Harness, framing: list[str]) -> None:
    port = str(harness.receivers.ports["tcp"])
    logger("--tcp", "--rfc5424", *framing, "-n", "127.0.0.1", "-P", port, "-t", "app", "hello one")
    logger("--tcp", "--rfc5424", *framing, "-n", "127.0.0.1", "-P", port, "-t", "app", "hello two")
    wait_until(lambda: len(harness.messages()) == 2, 10, "two messages")
    one, two = harness.messages()
    assert one.startswith(b"<13>1 ") and one.endswith(b"hello one")
    assert two.endswith(b"hello two")
    # the counter moves right after the spool append that made the messages visible: poll, don't race it
    wait_until(lambda: harness.metric("paramedic_logs_received_total", transport="tcp") == 2, 10, "the count")


def test_tcp_octet_and_lf_detected_per_connection(harness: Harness) -> None:
    port = harness.receivers.ports["tcp"]
    with (
        socket.create_connection(("127.0.0.1", port)) as a,
        socket.create_connection(("127.0.0.1", port)) as b,
    ):
        a.sendall(b"11 <13>1 - x y12 <13>1 - x yz")
        b.sendall(b"<13>line one\r\n<13>line two\n<13>no newline at end")
    wait_until(lambda: len(harness.messages()) == 5, 10, "five messages")
    assert sorted(harness.messages()) == sorted(
        [b"<13>1 - x y", b"<13>1 - x yz", b"<13>line one", b"<13>line two", b"<13>no newline at end"]
    )


def test_tcp_oversize_octet_count_closes_only_that_connection(harness: Harness) -> None:
    port = harness.receivers.ports["tcp"]
    with socket.create_connection(("127.0.0.1", port)) as bad:
        bad.sendall(b"99999999 <13>x")
        bad.settimeout(5)
        assert bad.recv(100) == b""  # closed by the server
    with socket.create_connection(("127.0.0.1", port)) as good:
        good.sendall(b"5 hello")
    wait_until(lambda: harness.messages() == [b"hello"], 10, "the good message")
    assert harness.metric("paramedic_logs_errors_total", transport="tcp", reason="oversize") == 1


def test_logger_udp(harness: Harness) -> None:
    port = str(harness.receivers.ports["udp"])
    for i in range(20):
        logger("--udp", "--rfc5424", "-n", "127.0.0.1", "-P", port, "-t", "app", f"datagram {i}")
    wait_until(lambda: len(harness.messages()) == 20, 10, "20 datagrams")
    assert harness.messages()[0].endswith(b"datagram 0")
    assert harness.metric("paramedic_logs_dropped_total", transport="udp") == 0


def make_cert(d: Path) -> tuple[Path, Path]:
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [require_binary("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize("client_cert", [False, True], ids=["server-auth", "mutual"])
def test_tls_octet_counted(tmp_path: Path, client_cert: bool) -> None:
    cert, key = make_cert(tmp_path)
    tls = TlsListenerConfig(
        port=0,
        cert_file=str(cert),
        key_file=str(key),
        client_ca_file=str(cert) if client_cert else None,
        require_client_cert=client_cert,
    )
    h = Harness(port0_config(tls=tls.model_dump()), spool_at(tmp_path / "spool"))
    try:
        ctx = ssl.create_default_context(cafile=str(cert))
        if client_cert:
            ctx.load_cert_chain(str(cert), str(key))
        with (
            socket.create_connection(("127.0.0.1", h.receivers.ports["tls"])) as raw,
            ctx.wrap_socket(raw, server_hostname="localhost") as s,
        ):
            msgs = (b"<13>1 - h a - - - x", b"<13>1 - h a - - - yz")
            s.sendall(b"".join(b"%d %s" % (len(m), m) for m in msgs))
        wait_until(lambda: len(h.messages()) == 2, 10, "two TLS messages")
        assert h.messages() == [b"<13>1 - h a - - - x", b"<13>1 - h a - - - yz"]
        if client_cert:  # without a client certificate the server ends the connection (TLS 1.3: after
            # the client's handshake, as an alert or EOF on the first read)
            anon = ssl.create_default_context(cafile=str(cert))
            with socket.create_connection(("127.0.0.1", h.receivers.ports["tls"])) as raw:
                try:
                    with anon.wrap_socket(raw, server_hostname="localhost") as s:
                        s.settimeout(5)
                        s.sendall(b"5 hello")
                        assert s.recv(10) == b""
                except (ssl.SSLError, ConnectionError):
                    pass
            assert len(h.messages()) == 2
    finally:
        h.close()
