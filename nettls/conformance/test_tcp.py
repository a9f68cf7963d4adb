"""SPEC 4, 5, 7 and 11 on a TCP component (``net.TCPSocket`` and friends).

These run for each selected component that provides ``net.TCPSocket``.
"""

from __future__ import annotations

import socket as _socket
import time

import pytest
from zope.interface import implementer

import nettls
from nettls.interfaces import IHalfClose, ISelectable, IServerSocketOptions, ITimeout

from ._support import payload, require_interface, reset
from .makers import LOOPBACK, Background, TCPKit, bind_server, read_to_end, recv_exactly, tcp_pair
from .test_sendbuffer import stuff


@pytest.fixture
def tcp(tcp_component):
    return TCPKit.of(tcp_component)


@pytest.fixture
def pair(tcp_harness):
    return tcp_harness.tcp_pair()


def _events(monitor, ms=200, *, want=None, timeout=3.0):
    """wait() until an event matching ``want`` (or any) shows; returns the events."""
    deadline = time.monotonic() + timeout
    while True:
        events = monitor.wait(ms)
        if events and (want is None or any(want(e) for e in events)):
            return events
        if time.monotonic() > deadline:
            return events


# -- 5: connect, accept, bind, endpoints ---------------------------------------


@pytest.mark.clause("5.connect")
def test_connect_by_address_and_name(tcp, tcp_component):
    for address in (LOOPBACK, "localhost"):
        listener, port = bind_server(tcp_component)
        try:
            client, server = tcp.TCPSocket(), tcp.TCPSocket()
            assert client.connect(address, port) is True
            assert server.accept(listener) is True
            assert client.connected() and server.connected()
            client.disconnect()
            server.disconnect()
        finally:
            listener.unbind()


@pytest.mark.clause("5.connect")
def test_refused_connect_names_the_address(tcp, tcp_component):
    listener, port = bind_server(tcp_component)
    listener.unbind()  # nothing listens there now
    with pytest.raises(ConnectionError) as info:
        tcp.TCPSocket().connect(LOOPBACK, port)
    assert LOOPBACK in str(info.value), f"the error does not name the address: {info.value}"


@pytest.mark.clause("5.accept")
def test_endpoints(tcp, pair):
    client, server = pair
    assert tcp.TCPSocket().getRemoteEndpoint() is None
    remote, local = client.getRemoteEndpoint(), client.getLocalEndpoint()
    assert isinstance(remote, nettls.NetworkEndpoint) and isinstance(local, nettls.NetworkEndpoint)
    assert remote.address == LOOPBACK and local.address == LOOPBACK
    assert server.getRemoteEndpoint() == local and server.getLocalEndpoint() == remote


@pytest.mark.clause("5.bind")
def test_bind_port_zero_and_unbind(tcp):
    server = tcp.TCPServerSocket()
    assert server.bind(LOOPBACK, 0) is True
    server.unbind()
    server.unbind()
    any4 = tcp.TCPServerSocket()
    assert any4.bind(any4.ANY_ADDRESS_v4, 0) is True
    any4.unbind()


@pytest.mark.clause("5.bind")
def test_bind_failure_names_the_address(tcp, tcp_component):
    listener, port = bind_server(tcp_component)
    try:
        with pytest.raises(OSError) as info:
            tcp.TCPServerSocket().bind(LOOPBACK, port)
        assert LOOPBACK in str(info.value) or str(port) in str(info.value), f"unnamed: {info.value}"
    finally:
        listener.unbind()
    with pytest.raises(OSError) as info:
        tcp.TCPServerSocket().bind("256.1.2.3", 0)
    assert "256.1.2.3" in str(info.value)


@pytest.mark.clause("5.connected")
def test_connected_false_once_peer_closed(pair):
    client, server = pair
    server.disconnect()
    assert client.recv(10) == b""
    assert not client.connected()
    assert not server.connected()
    server.disconnect()  # twice is fine


@pytest.mark.clause("5.connected")
def test_nonblocking_empty_recv_means_closed_only_when_not_connected(tcp_harness, pair):
    client, server = pair
    driver = tcp_harness.driver()
    ep = driver.add(client, name="client", data="client")
    assert client.recv(10) == b"" and client.connected(), "no data yet: still connected"
    server.send(b"last words")
    server.disconnect()
    assert driver.read_to_end(ep) == b"last words"
    assert not client.connected()


@pytest.mark.clause("5.monitor")
def test_monitor_events(tcp, pair):
    client, server = pair
    monitor = tcp.TCPMonitor()
    assert monitor.addSocket(client, "client data") is True
    started = time.monotonic()
    assert monitor.wait(50) == []
    assert time.monotonic() - started < 2.0
    server.send(b"x")
    events = _events(monitor, want=lambda e: e.recvReady)
    assert len(events) == 1 and events[0].socket is client and events[0].userData == "client data"
    assert events[0].recvReady and not events[0].sendReady
    assert client.recv(1) == b"x"
    monitor.armSendNotify(client)
    events = _events(monitor, want=lambda e: e.sendReady)
    assert [e.sendReady for e in events] == [True]
    assert not any(e.sendReady for e in monitor.wait(50)), "sendReady is one-shot"
    server.disconnect()
    events = _events(monitor, want=lambda e: e.close)
    assert any(e.close for e in events), "close is reported once the peer closed"
    monitor.remSocket(client)
    assert monitor.wait(50) == []
    monitor.remSocket(client)  # unknown sockets are ignored


@implementer(ISelectable)
class _ForeignSelectable:
    """Not the component's socket: a plain socket that provides ISelectable."""

    def __init__(self, sock):
        self.sock = sock

    def fileno(self):
        return self.sock.fileno()

    def isNonBlocking(self):
        return not self.sock.getblocking()


@pytest.mark.clause("5.monitor")
def test_monitor_accepts_any_selectable(tcp):
    left, right = _socket.socketpair()
    with left, right:
        foreign = _ForeignSelectable(left)
        monitor = tcp.TCPMonitor()
        assert monitor.addSocket(foreign, "foreign") is True
        right.send(b"x")
        events = _events(monitor, want=lambda e: e.recvReady)
        assert [(e.socket, e.userData) for e in events if e.recvReady] == [(foreign, "foreign")]
        monitor.remSocket(foreign)


@pytest.mark.clause("5.ipv6")
def test_ipv6_loopback(tcp_component):
    if not _socket.has_ipv6:
        pytest.skip("no IPv6 in this Python")
    try:
        with _socket.socket(_socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with tcp_pair(tcp_component, address="::1") as (client, server):
        assert client.send(b"six") == 3
        assert recv_exactly(server, 3) == b"six"
        assert client.getRemoteEndpoint().address == "::1"


# -- 4: the stream on TCP --------------------------------------------------------


@pytest.mark.clause("4.recv-args")
@pytest.mark.parametrize("bad", ["zero", "negative", "float", "str"])
def test_recv_argument_errors(pair, bad):
    value, error = {"zero": (0, ValueError), "negative": (-5, ValueError), "float": (2.0, TypeError), "str": ("1", TypeError)}[bad]
    with pytest.raises(error):
        pair[0].recv(value)


@pytest.mark.clause("4.recv-blocking")
def test_blocking_recv_waits_for_n_bytes(pair):
    client, server = pair

    def trickle():
        for piece in (b"a" * 10, b"b" * 20, b"c" * 30):
            server.send(piece)
            time.sleep(0.02)
        server.send(b"tail")
        server.disconnect()

    bg = Background(trickle, name="trickle")
    assert client.recv(60) == b"a" * 10 + b"b" * 20 + b"c" * 30
    assert client.recv(100) == b"tail"
    assert client.recv(100) == b""
    bg.join()


@pytest.mark.clause("4.recv-nonblocking")
def test_nonblocking_recv_returns_at_once(pair):
    client, _ = pair
    assert client.setNonBlocking() is True
    started = time.monotonic()
    assert client.recv(10) == b""
    assert time.monotonic() - started < 1.0


@pytest.mark.clause("4.send-types")
def test_send_types(pair):
    client, server = pair
    for value in (b"ab", bytearray(b"cd"), memoryview(b"xefx")[1:3]):
        assert client.send(value) == 2
    assert recv_exactly(server, 6) == b"abcdef"
    with pytest.raises(TypeError):
        client.send("str")


@pytest.mark.clause("4.send-blocking")
def test_blocking_send_writes_everything(pair):
    client, server = pair
    data = payload(8 << 20, 50)
    reader = Background(recv_exactly, server, len(data), name="reader")
    assert client.send(data) == len(data)
    assert reader.join() == data


@pytest.mark.clause("4.broken-send")
def test_send_after_reset_raises_connection_error(pair):
    client, server = pair
    reset(server)
    with pytest.raises(ConnectionError):
        for _ in range(200):
            client.send(b"x" * 16384)


@pytest.mark.clause("4.broken-recv")
def test_recv_after_reset_is_end_of_stream(pair):
    client, server = pair
    reset(server)
    assert client.recv(10) == b""
    assert not client.connected()


@pytest.mark.clause("4.full-duplex")
def test_recv_in_one_thread_send_in_another(pair):
    client, server = pair
    data = payload(1 << 20, 51)
    reader = Background(recv_exactly, client, len(data), name="client recv")
    echo = Background(lambda: [server.send(recv_exactly(server, 65536)) for _ in range(16)], name="echo")
    time.sleep(0.05)
    assert client.send(data) == len(data)
    assert reader.join() == data
    echo.join()


# -- 7: the send buffer on TCP ----------------------------------------------------


@pytest.mark.clause("7.send-count")
def test_send_queues_what_the_kernel_does_not_take(tcp_harness, pair):
    client, server = pair
    driver = tcp_harness.driver()
    cep = driver.add(client, name="client", data="client data")
    sep = driver.add(server, name="server", data="server data")
    data = stuff(cep)
    assert client.getBufferUnsent() > 0
    driver.run_until(lambda: len(sep.received) >= len(data) and cep.idle, "the data to arrive")
    assert bytes(sep.received) == data


@pytest.mark.clause("7.send-wait")
def test_send_wait_fires_once_per_call(tcp_harness, pair):
    client, server = pair
    driver = tcp_harness.driver()
    cep = driver.add(client, name="client", data=("any", "object"))
    sep = driver.add(server, name="server", data=None)
    data = stuff(cep, extra=4)
    assert len(cep.ledger.events) == 1 and cep.ledger.events[0].details == ("any", "object")
    driver.run_until(lambda: len(sep.received) >= len(data) and cep.idle, "the data to arrive")
    assert bytes(sep.received) == data


@pytest.mark.clause("7.blocking")
def test_blocking_mode_queues_nothing(pair):
    client, server = pair
    assert client.sendBuffer() == 0 and client.getBufferUnsent() == 0
    client.send(b"abc")
    assert client.sendBuffer() == 0 and client.getBufferUnsent() == 0
    assert recv_exactly(server, 3) == b"abc"


# -- 11: extensions ----------------------------------------------------------------


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
        events = _events(monitor, want=lambda e: e.recvReady)
        assert [e.userData for e in events if e.recvReady] == ["listener"]
        server = tcp.TCPSocket()
        assert server.accept(listener) is True
        client.disconnect()
        server.disconnect()
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
        time.sleep(0.3)
        server.send(b"late")

    later = Background(send_late, name="late sender")
    assert client.recv(4) == b"late"
    later.join()
