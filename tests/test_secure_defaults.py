"""Secure defaults against real peers, on every TLS component (SPEC 8).

- TLS 1.0 and 1.1 are refused, by a server (``openssl s_client -tls1`` and
  ``-tls1_1`` against ``nettls serve``) and by a client (``openssl s_server``
  speaking only those). OpenSSL 3 will not offer them at its default
  security level, so the peer lowers it (``@SECLEVEL=0``): otherwise the
  test could not fail. A TLS 1.2 peer is the control: it is served.
- No compression: a ClientHello offering DEFLATE before null gets null in
  the ServerHello, one offering only DEFLATE gets no DEFLATE (a refusal or,
  against the RFC but harmless, null), and a nettls client offers only null.
- No renegotiation: ``s_client``'s ``R`` against ``nettls serve`` and
  ``s_server``'s ``r`` against a nettls client are refused (OpenSSL reports
  "no renegotiation"), and the connection ends cleanly.
- ``CIPHER_ALL`` still has no NULL-encryption, anonymous, PSK or SRP suite:
  a server refuses a peer offering only those, picks an authenticated,
  encrypting suite when they come first, and a client never offers one
  (its ClientHello is read off the wire and checked against the suite codes
  ``openssl ciphers -V`` gives for those classes).
"""

from __future__ import annotations

import functools
import re
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

import nettls
from nettls.conformance import TCPKit, TLSKit, bind_server, make_pki
from nettls.interfaces import TLSError, TLSHandshakeError

from _edge import (
    COMPONENTS,
    WAIT,
    OpenSSLProcess,
    client_hello,
    connection_lines,
    echo_once,
    port_of,
    records,
    serve_thread,
    wait_until,
)

OPENSSL = shutil.which("openssl")
pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(OPENSSL is None, reason="the openssl command line is not installed"),
]

#: What a peer passes to reach below OpenSSL 3's default security level.
LOW_LEVEL = "DEFAULT@SECLEVEL=0"
OLD_PROTOCOLS = ("tls1", "tls1_1")


def s_client(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    """``openssl s_client`` to loopback ``port``: handshake, then end (stdin is empty)."""
    assert OPENSSL is not None
    return subprocess.run(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", *args],
        input="",
        capture_output=True,
        text=True,
        timeout=WAIT,
    )


def _negotiated(result: subprocess.CompletedProcess[str]) -> str | None:
    """The protocol s_client reports it negotiated, or None when the handshake failed."""
    match = re.search(r"Protocol\s*:\s*(\S+)", result.stdout)
    cipher = re.search(r"Cipher is (\S+)", result.stdout)
    if not match or not cipher or cipher.group(1) == "(NONE)":
        return None
    return match.group(1)


# -- protocol versions ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
def test_server_refuses_tls_1_0_and_1_1_and_serves_tls_1_2(component: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="nettls.serve")
    with serve_thread(component) as server:
        port = port_of(server)
        for protocol in OLD_PROTOCOLS:
            result = s_client(port, f"-{protocol}", "-cipher", LOW_LEVEL)
            assert result.returncode != 0 and _negotiated(result) is None, f"{protocol} was accepted:\n{result.stdout}"
            reasons = _openssl_errors(result.stdout + result.stderr)
            assert any(r in reasons for r in _version_refusals(component)), f"{protocol} refused for {reasons}, not its version"
        control = s_client(port, "-tls1_2")
        assert control.returncode == 0 and _negotiated(control) == "TLSv1.2", control.stdout + control.stderr
        wait_until(lambda: server.connections == 0, "the connections to end")
    lines = connection_lines(caplog.records)
    assert sum("handshake failed" in line for line in lines) == len(OLD_PROTOCOLS), "\n".join(lines)


def _openssl_errors(output: str) -> list[str]:
    """The reasons of OpenSSL's error lines in ``output``."""
    return re.findall(r"SSL routines:[^:]*:([^:]+):", output)


def _version_refusals(component: str) -> tuple[str, ...]:
    """How a peer may hear that its protocol version was refused: the
    protocol_version alert, or, where the component's deviation table says
    so, the handshake_failure it sends instead."""
    deviations = nettls.registry.component(component).deviations or {}
    if "11.alert-delivery:refusal_alert_reaches_the_peer" in deviations:
        return ("tlsv1 alert protocol version", "sslv3 alert handshake failure")
    return ("tlsv1 alert protocol version",)


@pytest.mark.parametrize("protocol", OLD_PROTOCOLS)
@pytest.mark.parametrize("component", COMPONENTS)
def test_client_refuses_a_tls_1_0_or_1_1_server(component: str, protocol: str, tmp_path: Path) -> None:
    """With ``CIPHER_ALL`` (so that a shared suite exists and only the
    version can be the reason), the handshake fails and the server's own
    error says the version was refused."""
    files = _identity_files(tmp_path)
    kit = TLSKit.of(component)
    with OpenSSLProcess(_s_server_args(files, f"-{protocol}", "-cipher", LOW_LEVEL)) as server:
        port = int(server.wait_for(r"ACCEPT \S+:(\d+)").group(1))
        sock = _connect(port)
        try:
            with pytest.raises(TLSHandshakeError) as info:
                kit.TLS(kit.client_context(cipher_set=kit.TLSContext.CIPHER_ALL)).connect(sock)
            assert str(info.value).strip()
        finally:
            sock.disconnect()
        server.wait_for(r"SSL routines")
        reasons = _openssl_errors(server.output)
        assert any(r in ("unsupported protocol", "tlsv1 alert protocol version") for r in reasons), reasons


# -- compression --------------------------------------------------------------------------------------------------


def _hello_fields(hello: bytes) -> tuple[bytes, int, int]:
    """(handshake body, offset of compression_methods' length byte, its value) of a ClientHello record."""
    assert hello[0] == 22 and hello[5] == 1
    body = hello[9:]
    pos = 2 + 32
    pos += 1 + body[pos]  # session id
    pos += 2 + int.from_bytes(body[pos : pos + 2], "big")  # cipher suites
    return body, pos, body[pos]


def _cipher_suites(hello: bytes) -> list[int]:
    body = hello[9:]
    pos = 2 + 32
    pos += 1 + body[pos]
    length = int.from_bytes(body[pos : pos + 2], "big")
    suites = body[pos + 2 : pos + 2 + length]
    return [int.from_bytes(suites[i : i + 2], "big") for i in range(0, len(suites), 2)]


def _compression_methods(hello: bytes) -> list[int]:
    body, pos, count = _hello_fields(hello)
    return list(body[pos + 1 : pos + 1 + count])


def _with_compression(hello: bytes, methods: list[int]) -> bytes:
    """``hello`` (one record) offering ``methods`` as its compression methods."""
    body, pos, count = _hello_fields(hello)
    body = body[:pos] + bytes([len(methods), *methods]) + body[pos + 1 + count :]
    message = b"\x01" + len(body).to_bytes(3, "big") + body
    return hello[:3] + len(message).to_bytes(2, "big") + message


def _server_hello_compression(data: bytes) -> int | None:
    """The compression method of the ServerHello in ``data``; None if there is none."""
    handshake = b"".join(body for kind, body in records(data) if kind == 22)
    if len(handshake) < 4 or handshake[0] != 2:
        return None
    hello = handshake[4:]
    pos = 2 + 32
    pos += 1 + hello[pos] + 2  # session id, cipher suite
    return hello[pos]


def _first_flight(port: int, hello: bytes) -> bytes:
    """Send ``hello``, read until the server's first handshake or alert record."""
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw:
        raw.sendall(hello)
        data = b""
        while not any(kind in (21, 22) for kind, _ in records(data)):
            chunk = raw.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


DEFLATE = 1


@pytest.mark.parametrize("component", COMPONENTS)
def test_server_never_negotiates_compression(component: str) -> None:
    hello = client_hello(maximum_version=ssl.TLSVersion.TLSv1_2)  # TLS 1.3 has no compression to offer
    assert _compression_methods(hello) == [0]
    with serve_thread(component) as server:
        port = port_of(server)
        offered_first = _first_flight(port, _with_compression(hello, [DEFLATE, 0]))
        assert _server_hello_compression(offered_first) == 0, "DEFLATE offered first: the server must pick null"
        only = _first_flight(port, _with_compression(hello, [DEFLATE]))
        assert _server_hello_compression(only) in (None, 0), "the server chose DEFLATE"
        echo_once(port, component)


@pytest.mark.parametrize("component", COMPONENTS)
def test_client_offers_only_null_compression(component: str) -> None:
    for cipher_set in ("default", "all"):
        hello = _captured_client_hello(component, cipher_set)
        assert _compression_methods(hello) == [0]


# -- renegotiation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
def test_server_refuses_renegotiation_from_s_client(component: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="nettls.serve")
    with serve_thread(component) as server:
        port = port_of(server)
        with OpenSSLProcess(["s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2"]) as client:
            client.wait_for(r"Verify return code")
            client.write(b"before\n")
            client.wait_for(r"\nbefore")  # the echo (s_client prints only what it receives)
            client.write(b"R\n")  # s_client: renegotiate
            client.wait_for(r"RENEGOTIATING")
            client.wait_for(r"no renegotiation")
            client.close_input()
            client.wait()
        wait_until(lambda: server.connections == 0, "the renegotiating connection to end")
        echo_once(port, component)
    lines = connection_lines(caplog.records)
    assert len(lines) == 2 and "in=7 out=7" in lines[0], "\n".join(lines)


@pytest.mark.parametrize("component", COMPONENTS)
def test_client_refuses_renegotiation_from_s_server(component: str, tmp_path: Path) -> None:
    files = _identity_files(tmp_path)
    kit = TLSKit.of(component)
    with OpenSSLProcess(_s_server_args(files, "-tls1_2")) as server:
        port = int(server.wait_for(r"ACCEPT \S+:(\d+)").group(1))
        sock = _connect(port)
        try:
            session = kit.TLS(kit.client_context())
            assert session.connect(sock) == session.OK
            assert session.send(b"before\n") == 7
            server.wait_for(r"\nbefore\n")
            server.write(b"r\n")  # s_server: send a HelloRequest (its output shows once the client answers)
            assert session.recv(100) == b"", "the session went on after a renegotiation request"
            assert session.getStatus() == session.FAIL
            server.wait_for(r"no renegotiation")
        finally:
            sock.disconnect()


# -- cipher suites ---------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _suite_codes(spec: str) -> frozenset[int]:
    """TLS 1.2 suite codes that ``openssl ciphers -V`` lists for ``spec``."""
    assert OPENSSL is not None
    out = subprocess.run([OPENSSL, "ciphers", "-V", spec], capture_output=True, text=True, timeout=WAIT).stdout
    codes = set()
    for match in re.finditer(r"0x([0-9A-F]{2}),0x([0-9A-F]{2}) - (\S+)\s+(\S+)", out):
        if match.group(4) != "TLSv1.3":
            codes.add(int(match.group(1) + match.group(2), 16))
    return frozenset(codes)


#: Every suite that authenticates nobody, encrypts nothing, or rests on a shared secret instead of a certificate.
FORBIDDEN = "aNULL:eNULL:PSK:SRP:@SECLEVEL=0"


def _captured_client_hello(component: str, cipher_set: str) -> bytes:
    """The ClientHello a nettls client of ``component`` sends (read off the wire)."""
    kit = TLSKit.of(component)
    ctx = kit.client_context(cipher_set=kit.TLSContext.CIPHER_ALL if cipher_set == "all" else None)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        sock = _connect(listener.getsockname()[1])
        raw, _ = listener.accept()
        with raw:
            outcome: list[Any] = []

            def connect() -> None:
                try:
                    outcome.append(kit.TLS(ctx).connect(sock))
                except TLSError as exc:
                    outcome.append(exc)

            worker = threading.Thread(target=connect, daemon=True)
            worker.start()
            raw.settimeout(WAIT)
            data = b""
            while not records(data):
                chunk = raw.recv(65536)
                assert chunk, "the client sent no ClientHello"
                data += chunk
        # Closing our end ends the client's handshake (end of stream).
        worker.join(WAIT)
        sock.disconnect()
        assert outcome and isinstance(outcome[0], TLSError), outcome
    hello = data[: 5 + int.from_bytes(data[3:5], "big")]
    assert hello[0] == 22 and hello[5] == 1, "not a ClientHello"
    return hello


@pytest.mark.parametrize("cipher_set", ["default", "all"])
@pytest.mark.parametrize("component", COMPONENTS)
def test_client_never_offers_null_anonymous_psk_or_srp_suites(component: str, cipher_set: str) -> None:
    forbidden = _suite_codes(FORBIDDEN)
    assert len(forbidden) > 20, "openssl listed too few suites to check against"
    offered = set(_cipher_suites(_captured_client_hello(component, cipher_set)))
    assert offered, "no suites offered"
    assert not offered & forbidden, f"{cipher_set}: offers {sorted(hex(c) for c in offered & forbidden)}"


def _serve_once(component: str, cipher_set: str) -> tuple[int, threading.Thread, list[Any]]:
    """One accept() on a session of ``component``'s context with ``cipher_set``, in a thread."""
    kit = TLSKit.of(component)
    ctx = kit.server_context(make_pki().rsa, cipher_set=kit.TLSContext.CIPHER_ALL if cipher_set == "all" else None)
    listener, port = bind_server()
    outcome: list[Any] = []

    def run() -> None:
        sock = TCPKit.of(None).TCPSocket()
        try:
            assert sock.accept(listener) is True
        finally:
            listener.unbind()
        sock.setTimeout(WAIT)
        session = kit.TLS(ctx)
        try:
            outcome.append(session.accept(sock))
            outcome.append(session.getCipherSuite())
            session.close()
        except TLSError as exc:
            outcome.append(exc)
        finally:
            sock.disconnect()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    return port, worker, outcome


@pytest.mark.parametrize("cipher_set", ["default", "all"])
@pytest.mark.parametrize("component", COMPONENTS)
def test_server_refuses_a_client_offering_only_null_or_anonymous_suites(component: str, cipher_set: str) -> None:
    for offer in ("aNULL:@SECLEVEL=0", "eNULL:@SECLEVEL=0"):
        port, worker, outcome = _serve_once(component, cipher_set)
        result = s_client(port, "-tls1_2", "-cipher", offer)
        worker.join(WAIT)
        assert _negotiated(result) is None, f"{offer} negotiated:\n{result.stdout}"
        assert outcome and isinstance(outcome[0], TLSError), outcome


@pytest.mark.parametrize("cipher_set", ["default", "all"])
@pytest.mark.parametrize("component", COMPONENTS)
def test_server_picks_an_authenticated_encrypting_suite_when_bad_ones_come_first(component: str, cipher_set: str) -> None:
    port, worker, outcome = _serve_once(component, cipher_set)
    result = s_client(port, "-tls1_2", "-cipher", "aNULL:eNULL:ALL:@SECLEVEL=0")
    worker.join(WAIT)
    negotiated = re.search(r"Cipher is (\S+)", result.stdout)
    assert _negotiated(result) == "TLSv1.2" and negotiated, result.stdout + result.stderr
    name = negotiated.group(1)
    assert "NULL" not in name and not name.startswith(("ADH", "AECDH")) and "PSK" not in name and "SRP" not in name, name
    assert outcome and outcome[0] == 1, outcome


# -- helpers ------------------------------------------------------------------------------------------------------


def _identity_files(directory: Path) -> dict[str, str]:
    identity = make_pki().rsa
    # s_server sends only the first certificate of -cert: the intermediates go in -cert_chain.
    files = {"cert": identity.cert_pem, "chain": "".join(identity.chain_pems), "key": identity.key_pem()}
    paths = {}
    for role, text in files.items():
        path = directory / f"{role}.pem"
        path.write_text(text)
        paths[role] = str(path)
    return paths


def _s_server_args(files: dict[str, str], *extra: str) -> list[str]:
    return ["s_server", "-accept", "127.0.0.1:0", "-naccept", "1", "-cert", files["cert"], "-cert_chain", files["chain"], "-key", files["key"], *extra]


def _connect(port: int) -> Any:
    sock = TCPKit.of(None).TCPSocket()
    sock.setTimeout(WAIT)
    sock.connect("127.0.0.1", port)
    return sock


def test_the_forbidden_list_holds_what_it_says() -> None:
    """The reference set is not vacuous: it has the anonymous and NULL suites
    (TLS_DH_anon_WITH_AES_128_GCM_SHA256, TLS_RSA_WITH_NULL_SHA256,
    TLS_ECDHE_RSA_WITH_NULL_SHA) and no normal one (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)."""
    forbidden = _suite_codes(FORBIDDEN)
    assert {0x00A6, 0x003B, 0xC010} <= forbidden
    assert 0xC02F not in forbidden
