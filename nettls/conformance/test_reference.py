"""SPEC 8 against the reference library without its command line: Python's
``ssl`` (OpenSSL) as the peer, pinned to a protocol version or a cipher
suite, so these clauses hold on a machine without the ``openssl`` binary.

- the secure defaults: a server refuses a TLS 1.1 client, a client refuses
  a TLS 1.1 server;
- ``CIPHER_ALL``: a server takes, and a client offers, a TLS 1.2 suite with
  a SHA-1 MAC (``ECDHE-RSA-AES128-SHA``).
"""

from __future__ import annotations

from typing import Any

import pytest

import nettls

from . import pyssl
from .kits import DEFAULT_TIMEOUT, LOOPBACK, Background, bind_server, recv_exactly, set_timeout

OK = 1


def _accept_one(harness: Any, context: Any, work: Any) -> tuple[int, Background]:
    """A session of the component under test accepting one connection in a
    thread, then ``work(session, socket)``; returns the port and the thread."""
    listener, port = bind_server(harness.tcp)

    def run() -> Any:
        sock = harness.tcp_kit.TCPSocket()
        try:
            sock.accept(listener)
        finally:
            listener.unbind()
        harness.callback(sock.disconnect)
        set_timeout(sock, DEFAULT_TIMEOUT)
        return work(harness.kit.TLS(context), sock)

    return port, Background(run, name="session server")


def _connect(harness: Any, port: int, context: Any) -> Any:
    """A session of the component under test connecting to ``port``; the
    session, or the TLSError its connect() raised."""
    sock = harness.tcp_kit.TCPSocket()
    harness.callback(sock.disconnect)
    set_timeout(sock, DEFAULT_TIMEOUT)
    sock.connect(LOOPBACK, port)
    session = harness.kit.TLS(context)
    try:
        assert session.connect(sock) == OK
    except nettls.TLSError as exc:
        return exc
    return session


def _echo(tls: Any) -> bytes:
    tls.sendall(b"ping")
    return bytes(tls.recv(4))


def _refuse(session: Any, sock: Any) -> Any:
    with pytest.raises(nettls.TLSHandshakeError):
        session.accept(sock)


@pytest.mark.clause("8.secure-defaults")
def test_server_refuses_tls11(harness, pki):
    port, server = _accept_one(harness, harness.kit.server_context(pki.rsa), _refuse)
    outcome = pyssl.client(port, lambda tls: "handshake succeeded", versions=pyssl.TLS11)
    server.join()
    assert outcome != "handshake succeeded", "a TLS 1.1 client was accepted (SPEC 8: TLS 1.2 minimum)"


@pytest.mark.clause("8.secure-defaults")
def test_client_refuses_tls11(harness, pki, tmp_path):
    served = pyssl.server(pki.rsa, tmp_path, lambda tls: "handshake succeeded", versions=pyssl.TLS11)
    outcome = _connect(harness, served.port, harness.kit.client_context())
    served.join()
    assert isinstance(outcome, nettls.TLSHandshakeError), "a TLS 1.1 server was accepted (SPEC 8: TLS 1.2 minimum)"


@pytest.mark.clause("8.cipher-set")
def test_cipher_all_server_accepts_a_sha1_suite(harness, pki):
    kit = harness.kit

    def echo(session: Any, sock: Any) -> bytes:
        assert session.accept(sock) == OK
        got = recv_exactly(session, 4)
        session.send(got)
        return got

    ctx = kit.server_context(pki.rsa, cipher_set=kit.TLSContext.CIPHER_ALL)
    port, server = _accept_one(harness, ctx, echo)
    outcome = pyssl.client(port, lambda tls: (tls.cipher()[0], _echo(tls)), versions=pyssl.TLS12, ciphers=pyssl.SHA1_SUITE)
    assert server.join() == b"ping"
    assert outcome == (pyssl.SHA1_SUITE, b"ping"), f"the CIPHER_ALL server refused {pyssl.SHA1_SUITE}: {outcome}"


@pytest.mark.clause("8.cipher-set")
def test_cipher_all_client_offers_a_sha1_suite(harness, pki, tmp_path):
    kit = harness.kit

    def echo(tls: Any) -> str:
        tls.sendall(tls.recv(4))
        return str(tls.cipher()[0])

    served = pyssl.server(pki.rsa, tmp_path, echo, versions=pyssl.TLS12, ciphers=pyssl.SHA1_SUITE)
    session = _connect(harness, served.port, kit.client_context(cipher_set=kit.TLSContext.CIPHER_ALL))
    assert not isinstance(session, Exception), f"the CIPHER_ALL client did not offer {pyssl.SHA1_SUITE}: {session}"
    assert session.send(b"ping") == 4
    assert recv_exactly(session, 4) == b"ping"
    assert served.join() == pyssl.SHA1_SUITE
