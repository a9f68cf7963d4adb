"""SPEC 11 on a TCP component: ``fileno()``/``isNonBlocking()``, the server
socket's options, half-close, and timeouts on every blocking call.

Extensions are tested where provided; a component without one skips these
cases with the reason.
"""

from __future__ import annotations

import time

import pytest

from nettls.interfaces import IHalfClose, ISelectable, IServerSocketOptions, ITimeout

from ._support import monitor_events, require_interface, unanswering_listener
from .driver import stuff
from .makers import LOOPBACK, Background, bind_server, read_to_end


@pytest.mark.clause("11.tcp-selectable")
def test_fileno_and_non_blocking_flag(tcp, pair):
    client, _ = pair
    require_interface(client, ISelectable, "fileno()/isNonBlocking()")
    assert isinstance(client.fileno(), int) and client.fileno() >= 0
    assert client.isNonBlocking() is False
    client.setNonBlocking()
    assert client.isNonBlocking() is True
    client.disconnect()
    assert client.fileno() == -1


@pytest.mark.clause("11.tcp-server-options")
def test_non_blocking_server_socket(tcp):
    listener = tcp.TCPServerSocket()
    require_interface(listener, IServerSocketOptions, "setNonBlocking()/getLocalEndpoint()")
    listener.bind(LOOPBACK, 0)
    try:
        port = listener.getLocalEndpoint().port
        assert port > 0
        if ISelectable.providedBy(listener):
            assert listener.fileno() >= 0 and listener.isNonBlocking() is False
        assert listener.setNonBlocking() is True
        if ISelectable.providedBy(listener):
            assert listener.isNonBlocking() is True
        started = time.monotonic()
        assert tcp.TCPSocket().accept(listener) is False
        assert time.monotonic() - started < 1.0
        monitor = tcp.TCPMonitor()
        monitor.addSocket(listener, "listener")
        client = tcp.TCPSocket()
        client.connect(LOOPBACK, port)
        events = monitor_events(monitor, want=lambda e: e.recvReady)
        assert [e.userData for e in events if e.recvReady] == ["listener"]
        server = tcp.TCPSocket()
        assert server.accept(listener) is True
        client.disconnect()
        server.disconnect()
    finally:
        listener.unbind()
    if ISelectable.providedBy(listener):
        assert listener.fileno() == -1, "an unbound server socket's fileno() is -1"


@pytest.mark.clause("11.tcp-server-options")
def test_server_set_non_blocking_before_bind(tcp):
    listener = tcp.TCPServerSocket()
    require_interface(listener, IServerSocketOptions, "setNonBlocking()/getLocalEndpoint()")
    assert listener.getLocalEndpoint() is None, "not bound: None"
    assert listener.setNonBlocking() is True
    listener.bind(LOOPBACK, 0)
    try:
        started = time.monotonic()
        assert tcp.TCPSocket().accept(listener) is False
        assert time.monotonic() - started < 1.0, "accept() on a server made non-blocking before bind() waited"
    finally:
        listener.unbind()


@pytest.mark.clause("11.tcp-half-close")
def test_shutdown_output(pair):
    client, server = pair
    require_interface(client, IHalfClose, "shutdownOutput()")
    client.send(b"request")
    client.shutdownOutput()
    assert read_to_end(server) == b"request"
    server.send(b"response")
    server.disconnect()
    assert read_to_end(client) == b"response"


@pytest.mark.clause("11.timeout")
def test_blocking_recv_times_out(pair):
    client, _ = pair
    require_interface(client, ITimeout, "setTimeout()")
    client.setTimeout(0.2)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        client.recv(10)
    assert time.monotonic() - started < 5.0


@pytest.mark.clause("11.timeout")
def test_no_timeout_waits(pair):
    client, server = pair
    require_interface(client, ITimeout, "setTimeout()")
    client.setTimeout(None)

    def send_late():
        for piece in (b"la", b"te"):  # recv(4) has to wait for a second read
            time.sleep(0.15)
            server.send(piece)

    later = Background(send_late, name="late sender")
    assert client.recv(4) == b"late"
    later.join()


@pytest.mark.clause("11.tcp-half-close")
def test_shutdown_output_with_bytes_queued(tcp_harness, pair):
    """In non-blocking mode the FIN follows the bytes still queued, which
    sendBuffer() writes on; the socket keeps reading after it."""
    client, server = pair
    require_interface(client, IHalfClose, "shutdownOutput()")
    driver = tcp_harness.driver()
    cep = driver.add(client, name="client", data="client")
    sep = driver.add(server, name="server", data="server")
    sep.unwatch()  # the server reads only once the client's queue is full
    data = stuff(cep)
    client.shutdownOutput()
    assert client.getBufferUnsent() > 0, "shutdownOutput() dropped the bytes queued"
    sep.watch()
    assert driver.read_to_end(sep) == data, "the FIN overtook the bytes still queued, or they were lost"
    assert cep.idle and client.getBufferUnsent() == 0
    assert sep.ledger.send(b"still reading") == 13  # the server's end is still open for writing
    driver.run_until(lambda: len(cep.received) >= 13, "the server's reply after the half-close")
    assert bytes(cep.received) == b"still reading"
    assert client.connected(), "a half-closed socket is still connected until its peer closes"


@pytest.mark.clause("11.timeout")
def test_blocking_connect_times_out(tcp):
    sock = tcp.TCPSocket()
    require_interface(sock, ITimeout, "setTimeout()")
    sock.setTimeout(0.3)
    with unanswering_listener() as port:
        attempt = Background(sock.connect, LOOPBACK, port, name="connect()")
        try:
            attempt.join(5.0)
        except TimeoutError as exc:
            if "still running" in str(exc):
                raise AssertionError("connect() to a listener that never answers ignored setTimeout(0.3)") from None
        else:
            raise AssertionError("connect() to a listener that never answers returned")
    sock.disconnect()


@pytest.mark.clause("11.timeout")
def test_blocking_send_times_out(pair):
    client, server = pair
    require_interface(client, ITimeout, "setTimeout()")
    client.setTimeout(0.3)
    data = bytes(32 << 20)  # more than loopback buffers hold: the server never reads
    sending = Background(client.send, data, name="send()")
    with pytest.raises(TimeoutError):
        try:
            sending.join(5.0)
        except TimeoutError as exc:
            if "still running" in str(exc):
                raise AssertionError("send() to a peer that does not read ignored setTimeout(0.3)") from None
            raise


@pytest.mark.clause("11.timeout")
def test_blocking_accept_times_out(tcp, tcp_component):
    listener, _port = bind_server(tcp_component)
    sock = tcp.TCPSocket()
    require_interface(sock, ITimeout, "setTimeout()")
    sock.setTimeout(0.3)
    accepting = Background(sock.accept, listener, name="accept()")
    try:
        with pytest.raises(TimeoutError):
            try:
                accepting.join(5.0)
            except TimeoutError as exc:
                if "still running" in str(exc):
                    raise AssertionError("accept() with no connection coming ignored setTimeout(0.3)") from None
                raise
    finally:
        listener.unbind()  # wakes an accept() that did not time out


@pytest.mark.clause("11.timeout")
def test_timed_out_recv_loses_nothing(pair):
    """Bytes a blocking recv(n) had read when it timed out come first from
    the next recv(), blocking or not, at most n at a time."""
    client, server = pair
    require_interface(client, ITimeout, "setTimeout()")
    client.setTimeout(0.3)
    server.send(b"abc")
    with pytest.raises(TimeoutError):
        client.recv(10)
    server.send(b"defgh")
    assert client.recv(2) == b"ab"
    client.setNonBlocking()
    got = b""
    for _ in range(100):
        piece = client.recv(2)
        assert len(piece) <= 2, f"recv(2) returned {len(piece)} bytes"
        got += piece
        if len(got) >= 6:
            break
        time.sleep(0.01)
    assert got == b"cdefgh", "bytes were lost or reordered across the timeout"


@pytest.mark.clause("11.timeout")
def test_accept_with_a_timeout_takes_a_waiting_connection(tcp, tcp_component):
    listener, port = bind_server(tcp_component)
    client, server = tcp.TCPSocket(), tcp.TCPSocket()
    try:
        require_interface(server, ITimeout, "setTimeout()")
        server.setTimeout(2.0)
        assert client.connect(LOOPBACK, port) is True
        assert server.accept(listener) is True
        assert server.getRemoteEndpoint() == client.getLocalEndpoint()
    finally:
        listener.unbind()
        client.disconnect()
        server.disconnect()

