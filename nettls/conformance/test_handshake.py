"""SPEC 6: sessions — handshakes, roles, modes, getSocket, failures."""

from __future__ import annotations

import socket
import time

import pytest

from nettls import TLSError, TLSHandshakeError
from nettls.interfaces import ISelectable

from ._support import SocketWrapper, reset
from .checks import wrong_role_call
from .hello import ALERT, HANDSHAKE, SERVER_HELLO, client_hello
from .makers import BLOCKING, LOOPBACK, NONBLOCKING, Background, bind_server, set_timeout, status_name
from .pki import same_certificate
from .driver import stuff

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


def _answer(raw: socket.socket, wait: float) -> tuple[int, int] | None:
    """The first record type (and handshake type) the peer sent on ``raw``
    within ``wait`` seconds; None when nothing came."""
    raw.settimeout(wait)
    got = b""
    try:
        while len(got) < 6:
            more = raw.recv(6 - len(got))
            if not more:
                break
            got += more
    except TimeoutError:
        pass
    return (got[0], got[5] if len(got) == 6 else -1) if got else None


@pytest.mark.clause("6.handshake")
@pytest.mark.parametrize("size", [20_000, 40_000])
def test_large_client_hello_gets_an_answer(harness, pki, mode, size):
    """A legal ClientHello larger than a library's input buffer, in several
    records: the server answers it (its ServerHello, or an alert if it will
    not take one so large) or fails its accept() at once; it never waits for
    input the client did not send."""
    kit = harness.kit
    listener, port = bind_server(harness.tcp)
    raw = socket.create_connection((LOOPBACK, port), timeout=harness.timeout)
    harness.callback(raw.close)
    sock = harness.tcp_kit.TCPSocket()
    try:
        assert sock.accept(listener) is True
    finally:
        listener.unbind()
    harness.callback(sock.disconnect)
    set_timeout(sock, harness.timeout)
    server = kit.TLS(kit.server_context(pki.ec))
    raw.sendall(client_hello(size))
    wait = min(5.0, harness.timeout)
    if mode == BLOCKING:
        accepting = Background(_outcome, lambda: server.accept(sock), name="server accept()")
        deadline = time.monotonic() + wait
        answer = None
        while answer is None and time.monotonic() < deadline and not accepting.done():
            answer = _answer(raw, 0.05)
        refused = answer is None and accepting.done() and isinstance(accepting.join(), TLSError)
        raw.close()  # ends the handshake the server is waiting in
        accepting.join()
    else:
        driver = harness.driver()
        ep = driver.add(server, sock, name="server", data="server")
        ep.begin(lambda: server.accept(sock), "accept()")
        deadline = time.monotonic() + wait
        answer = None
        while answer is None and time.monotonic() < deadline and ep.pending:
            driver.step(10)
            answer = _answer(raw, 0.001)
        refused = answer is None and ep.result == FAIL
    if refused:
        return  # the library will not take a ClientHello this large, and said so at once
    assert answer is not None, f"the server neither answered a {size}-byte ClientHello nor failed within {wait} s"
    record, message = answer
    assert record in (HANDSHAKE, ALERT), f"the server answered with record type {record}"
    if record == HANDSHAKE:
        assert message == SERVER_HELLO, f"the server's first handshake message is type {message}, not ServerHello"


def _outcome(call):
    """``call()``'s result, or the TLSError it raised."""
    try:
        return call()
    except TLSError as exc:
        return exc


@pytest.mark.clause("6.role")
@pytest.mark.parametrize("side", ["client", "server"])
def test_wrong_role_is_tls_error(harness, pki, mode, side):
    with pytest.raises(TLSError) as info:
        wrong_role_call(harness, pki, mode, side)()
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


@pytest.mark.clause("6.get-socket")
def test_get_socket_at_every_moment(harness, mode):
    """The very socket given, from connect()/accept() on: during a
    non-blocking handshake, after the peer closed, after close()."""
    pair = harness.tls_pair(mode, do_handshake=False)
    assert pair.client.getSocket() is None and pair.server.getSocket() is None
    if mode == NONBLOCKING:
        pair.client.setNonBlocking()
        assert pair.client.connect(pair.client_socket) in (WAIT_READ, WAIT_WRITE)
        assert pair.client.getSocket() is pair.client_socket, "during the handshake"
        pair.driver.add(pair.client, pair.client_socket, name="client")
    pair.handshake()
    assert pair.close("server") == OK
    assert pair.server.getSocket() is pair.server_socket, "after close()"
    assert pair.read_to_end("client") == b""
    assert pair.client.getSocket() is pair.client_socket, "after the peer closed"
    assert pair.close("client") == OK
    assert pair.client.getSocket() is pair.client_socket, "after close()"


@pytest.mark.clause("6.get-socket")
def test_get_socket_after_a_failed_handshake(harness, mode):
    kit = harness.kit
    client_sock, server_sock = harness.tcp_pair()
    server_sock.disconnect()
    client = kit.TLS(kit.client_context())
    try:
        _client_handshake(harness, mode, client, client_sock)
    except TLSError:
        pass
    assert client.getSocket() is client_sock


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


@pytest.mark.clause("6.mode")
def test_socket_keeps_its_own_send_wait_data(harness):
    """A session made non-blocking by its socket leaves the socket's own
    sendWaitData alone: the socket's sendWait carries the socket's data, the
    session's carries the session's (SPEC 6, 7)."""
    kit = harness.kit
    client_sock, server_sock = harness.tcp_pair()
    assert client_sock.setNonBlocking("socket data") is True
    socket_events: list[object] = []
    client_sock.sendWait.subscribe(socket_events.append)
    server, client = kit.TLS(kit.server_context(harness.pki.ec)), kit.TLS(kit.client_context())
    driver = harness.driver()
    sep = driver.add(server, server_sock, name="server", data="server")
    cep = driver.add(client, client_sock, name="client")  # non-blocking by its socket
    assert driver.handshake(sep, cep) == (OK, OK)
    assert client.setNonBlocking("session data") is True
    cep.ledger.expected_details = "session data"
    sep.unwatch()
    data = stuff(cep)
    assert socket_events, "the socket queued ciphertext the session gave it, so its sendWait fired"
    for event in socket_events:
        assert event.source is client_sock and event.details == "socket data", f"the socket's sendWait carried {event!r}"
    sep.watch()
    driver.run_until(lambda: len(sep.received) >= len(data) and cep.idle, "the data")
    assert bytes(sep.received) == data


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
