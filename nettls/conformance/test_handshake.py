"""SPEC 6: sessions — handshakes, roles, modes, getSocket, failures."""

from __future__ import annotations

import time

import pytest

from nettls import TLSError, TLSHandshakeError
from nettls.interfaces import ISelectable

from ._support import SocketWrapper, reset
from .makers import BLOCKING, NONBLOCKING, Background, status_name
from .pki import same_certificate

OK, FAIL, WAIT_READ, WAIT_WRITE = 1, 0, 2, 3


@pytest.mark.clause("6.handshake")
@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_handshake(harness, pki, mode, kind):
    pair = harness.tls_pair(mode, identity=pki.identity(kind))
    assert pair.results == (OK, OK)
    assert pair.exchange(b"hello", b"world") == (b"hello", b"world")


@pytest.mark.clause("6.handshake")
def test_nonblocking_handshake_reports_waits(harness):
    pair = harness.tls_pair(NONBLOCKING)
    for side in ("client", "server"):
        history = pair.endpoint(side).history
        assert history[-1] == OK
        assert set(history[:-1]) <= {WAIT_READ, WAIT_WRITE}, f"{side}: {[status_name(r) for r in history]}"
    # The client cannot finish before the server has answered.
    assert pair.endpoint("client").history[0] in (WAIT_READ, WAIT_WRITE)


@pytest.mark.clause("6.role")
@pytest.mark.parametrize("side", ["client", "server"])
def test_wrong_role_is_tls_error(harness, pki, mode, side):
    kit = harness.kit
    client_sock, server_sock = harness.tcp_pair()
    if side == "client":  # connect() with a SERVER context
        session, sock, call = kit.TLS(kit.server_context(pki.ec)), client_sock, "connect"
    else:  # accept() with a CLIENT context
        session, sock, call = kit.TLS(kit.client_context()), server_sock, "accept"
    if mode == NONBLOCKING:
        session.setNonBlocking()
    with pytest.raises(TLSError) as info:
        getattr(session, call)(sock)
    assert "client" in str(info.value).lower() or "server" in str(info.value).lower(), (
        f"the TLSError does not say which mode is needed: {info.value}"
    )


@pytest.mark.clause("6.get-socket")
def test_get_socket(harness, mode):
    kit = harness.kit
    assert kit.TLS(kit.client_context()).getSocket() is None
    pair = harness.tls_pair(mode)
    assert pair.client.getSocket() is pair.client_socket
    assert pair.server.getSocket() is pair.server_socket


@pytest.mark.clause("6.no-verify")
@pytest.mark.parametrize("which", ["expired", "untrusted", "non_ca_issuer"])
def test_connect_does_not_verify(harness, pki, mode, which):
    identity = getattr(pki, which)
    pair = harness.tls_pair(mode, identity=identity)
    assert same_certificate(pair.client.getPeerCertificate(), identity.cert_pem)


@pytest.mark.clause("6.context-snapshot")
def test_context_changes_affect_later_sessions_only(harness, pki):
    kit = harness.kit
    ctx = kit.server_context(pki.rsa)
    before = kit.TLS(ctx)
    ctx.setCertificate(pki.ec.cert_pem, pki.ec.key_pem())
    ctx.setCertificateChain(pki.ec.chain_pems)
    after = kit.TLS(ctx)
    for session, identity in ((before, pki.rsa), (after, pki.ec)):
        client_sock, server_sock = harness.tcp_pair()
        client = kit.TLS(kit.client_context())
        bg = Background(session.accept, server_sock, name="server accept()")
        assert client.connect(client_sock) == OK
        assert bg.join() == OK
        assert same_certificate(client.getPeerCertificate(), identity.cert_pem)


@pytest.mark.clause("6.mode")
def test_set_non_blocking_after_handshake(harness):
    pair = harness.tls_pair(BLOCKING)
    assert pair.client.setNonBlocking("late") is True
    if ISelectable.providedBy(pair.client_socket):
        assert pair.client_socket.isNonBlocking()
    started = time.monotonic()
    assert pair.client.recv(100) == b""
    assert time.monotonic() - started < 1.0, "a non-blocking recv() waited"
    assert pair.client.getStatus() == WAIT_READ


@pytest.mark.clause("6.mode")
def test_non_blocking_socket_makes_session_non_blocking(harness):
    kit = harness.kit
    client_sock, server_sock = harness.tcp_pair()
    assert client_sock.setNonBlocking("socket data") is True
    server = kit.TLS(kit.server_context(harness.pki.ec))
    client = kit.TLS(kit.client_context())
    driver = harness.driver()
    ep = driver.add(client, client_sock, name="client")
    started = time.monotonic()
    first = client.connect(client_sock)  # the server has not answered: must not wait
    assert time.monotonic() - started < 1.0, "connect() over a non-blocking socket waited"
    assert first in (WAIT_READ, WAIT_WRITE), f"connect() returned {status_name(first)}"
    bg = Background(server.accept, server_sock, name="server accept()")
    ep.begin(lambda: client.connect(client_sock), "connect()", first=first)
    driver.run_until(lambda: not ep.pending, "the client handshake")
    assert ep.result == OK
    assert bg.join() == OK
    assert client.recv(10) == b"" and client.getStatus() == WAIT_READ


@pytest.mark.clause("6.socket-interface")
def test_session_runs_over_the_socket_interface(harness, mode):
    kit = harness.kit
    client_inner, server_inner = harness.tcp_pair()
    client_sock, server_sock = SocketWrapper(client_inner), SocketWrapper(server_inner)
    pair_driver = harness.driver() if mode == NONBLOCKING else None
    server = kit.TLS(kit.server_context(harness.pki.rsa))
    client = kit.TLS(kit.client_context())
    if mode == BLOCKING:
        bg = Background(server.accept, server_sock, name="server accept()")
        assert client.connect(client_sock) == OK
        assert bg.join() == OK
        server.send(b"over the wrapper")
        assert client.recv(16) == b"over the wrapper"
    else:
        assert pair_driver is not None
        sep = pair_driver.add(server, server_sock, name="server", data="server", watch=server_inner)
        cep = pair_driver.add(client, client_sock, name="client", data="client", watch=client_inner)
        assert pair_driver.handshake(sep, cep) == (OK, OK)
        assert pair_driver.transfer(sep, cep, b"over the wrapper") == b"over the wrapper"
    assert client.getSocket() is client_sock and server.getSocket() is server_sock
    for wrapper in (client_sock, server_sock):
        assert wrapper.sent > 0 and wrapper.received > 0, "the session bypassed the socket's send()/recv()"


# -- failures -------------------------------------------------------------------


def _client_handshake(harness, mode, client, client_sock):
    """Run the client side alone: the result, or the exception raised."""
    if mode == BLOCKING:
        return client.connect(client_sock)
    driver = harness.driver()
    ep = driver.add(client, client_sock, name="client", data="client")
    return driver.complete(ep, lambda: client.connect(client_sock), "connect()")


def _assert_failed(harness, mode, session, run):
    if mode == BLOCKING:
        with pytest.raises(TLSHandshakeError) as info:
            run()
        assert str(info.value).strip(), "TLSHandshakeError without the reason"
    else:
        assert run() == FAIL
    assert session.getStatus() == FAIL


@pytest.mark.clause("6.handshake-failure")
@pytest.mark.parametrize("peer", ["http-response", "reset", "close"])
def test_client_against_a_peer_that_is_not_tls(harness, mode, peer):
    kit = harness.kit
    client_sock, server_sock = harness.tcp_pair()
    if peer == "http-response":
        server_sock.send(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        server_sock.disconnect()
    elif peer == "reset":
        reset(server_sock)
    else:
        server_sock.disconnect()
    client = kit.TLS(kit.client_context())
    _assert_failed(harness, mode, client, lambda: _client_handshake(harness, mode, client, client_sock))
    assert client.close() == FAIL


@pytest.mark.clause("6.handshake-failure")
def test_server_against_a_client_that_is_not_tls(harness, pki, mode):
    kit = harness.kit
    client_sock, server_sock = harness.tcp_pair()
    client_sock.send(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
    server = kit.TLS(kit.server_context(pki.ec))

    def run():
        if mode == BLOCKING:
            return server.accept(server_sock)
        driver = harness.driver()
        ep = driver.add(server, server_sock, name="server", data="server")
        return driver.complete(ep, lambda: server.accept(server_sock), "accept()")

    _assert_failed(harness, mode, server, run)
    assert server.close() == FAIL


@pytest.mark.clause("9.errors")
def test_backend_error_is_kept_as_cause(harness):
    """A peer that answers in HTTP makes every TLS library fail; the
    component raises its own type and keeps the library's error."""
    kit = harness.kit
    client_sock, server_sock = harness.tcp_pair()
    server_sock.send(b"HTTP/1.0 400 Bad Request\r\n\r\n")
    client = kit.TLS(kit.client_context())
    with pytest.raises(TLSHandshakeError) as info:
        client.connect(client_sock)
    cause = info.value.__cause__
    assert isinstance(cause, BaseException), "the backend's exception is not kept as __cause__"
    assert not type(cause).__module__.startswith("nettls"), f"__cause__ is {type(cause).__name__}, not the backend's"
