"""SPEC 4, 5 and 7 on a TCP component (``net.TCPSocket`` and friends); its
SPEC 11 extensions are in ``test_tcp_ext``.

These run for each selected component that provides ``net.TCPSocket``.
"""

from __future__ import annotations

import socket as _socket
import threading
import time

import pytest
from zope.interface import implementer

import nettls
from nettls.interfaces import ISelectable

from ._support import ipv6_loopback, monitor_events, payload, reset
from .driver import stuff
from .makers import DEFAULT_TIMEOUT, LOOPBACK, Background, bind_server, recv_exactly, tcp_pair


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
def test_connect_tries_every_address_of_a_name(tcp, tcp_component):
    """A host name with several addresses: connect() goes on to the next when one refuses."""
    probe = _socket.getaddrinfo("localhost", 0, 0, _socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(info[4][0] for info in probe))
    if len(addresses) < 2:
        pytest.skip("localhost has a single address here")
    listener, port = bind_server(tcp_component, addresses[-1])  # only the last one answers
    client, server = tcp.TCPSocket(), tcp.TCPSocket()
    try:
        assert client.connect("localhost", port) is True
        assert server.accept(listener) is True
        assert client.getRemoteEndpoint().address == addresses[-1]
    finally:
        listener.unbind()
        client.disconnect()
        server.disconnect()


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
    assert tcp.TCPSocket().getRemoteEndpoint() is None and tcp.TCPSocket().getLocalEndpoint() is None
    remote, local = client.getRemoteEndpoint(), client.getLocalEndpoint()
    assert isinstance(remote, nettls.NetworkEndpoint) and isinstance(local, nettls.NetworkEndpoint)
    assert remote.address == LOOPBACK and local.address == LOOPBACK
    assert server.getRemoteEndpoint() == local and server.getLocalEndpoint() == remote
    client.disconnect()
    assert client.getRemoteEndpoint() is None and client.getLocalEndpoint() is None, "not connected: None"


@pytest.mark.clause("5.accept")
@pytest.mark.parametrize("wildcard,peer", [("ANY_ADDRESS", LOOPBACK), ("ANY_ADDRESS", "::1"), ("ANY_ADDRESS_v4", LOOPBACK), ("ANY_ADDRESS_v6", "::1")])
def test_accepted_on_a_wildcard_has_its_own_local_endpoint(tcp, tcp_component, wildcard, peer):
    """A socket accepted on a wildcard listener reports the address the
    connection really came to, never the wildcard (0.0.0.0, ::)."""
    if ":" in peer and not ipv6_loopback():
        pytest.skip("no IPv6 loopback here")
    listener, port = bind_server(tcp_component, getattr(tcp.TCPServerSocket, wildcard))
    try:
        client, server = tcp.TCPSocket(), tcp.TCPSocket()
        assert client.connect(peer, port) is True
        assert server.accept(listener) is True
    finally:
        listener.unbind()
    try:
        assert server.getLocalEndpoint() == nettls.NetworkEndpoint(peer, port) == client.getRemoteEndpoint()
        assert server.getRemoteEndpoint() == client.getLocalEndpoint()
    finally:
        client.disconnect()
        server.disconnect()


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
    everywhere, port = bind_server(tcp_component, tcp.TCPServerSocket.ANY_ADDRESS)  # every address of localhost
    try:
        with pytest.raises(OSError) as info:
            tcp.TCPServerSocket().bind("localhost", port)
        assert "localhost" in str(info.value), f"a host name none of whose addresses is free, unnamed: {info.value}"
    finally:
        everywhere.unbind()


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
    events = monitor_events(monitor, want=lambda e: e.recvReady)
    assert len(events) == 1 and events[0].socket is client and events[0].userData == "client data"
    assert events[0].recvReady and not events[0].sendReady and not events[0].close, f"{events[0]}: data, not a close"
    assert client.recv(1) == b"x"
    assert monitor.wait(0) == [], "wait(0) polls: nothing is ready"
    for _ in range(2):  # one send-ready event per armSendNotify() call
        monitor.armSendNotify(client)
        events = monitor_events(monitor, want=lambda e: e.sendReady)
        assert [(e.sendReady, e.recvReady, e.close) for e in events] == [(True, False, False)], f"{events}"
        assert not any(e.sendReady for e in monitor.wait(50)), "sendReady is one-shot"
    server.disconnect()
    events = monitor_events(monitor, want=lambda e: e.close)
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
        events = monitor_events(monitor, want=lambda e: e.recvReady)
        assert [(e.socket, e.userData) for e in events if e.recvReady] == [(foreign, "foreign")]
        monitor.remSocket(foreign)


@pytest.mark.clause("5.ipv6")
def test_ipv6_loopback(tcp_component):
    if not ipv6_loopback():
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

    go_on = threading.Event()

    def trickle():
        for piece in (b"a" * 10, b"b" * 20, b"c" * 30):
            server.send(piece)
            time.sleep(0.02)
        go_on.wait(DEFAULT_TIMEOUT)
        server.send(b"tail")
        server.disconnect()

    bg = Background(trickle, name="trickle")
    assert client.recv(60) == b"a" * 10 + b"b" * 20 + b"c" * 30
    assert client.connected(), "a recv() that got its n bytes in several reads is no end of stream"
    go_on.set()
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


@pytest.mark.clause("4.recv-nonblocking")
def test_non_blocking_before_connecting(tcp, tcp_component):
    """setNonBlocking() before connect()/accept(): the connected sockets are non-blocking."""
    listener, port = bind_server(tcp_component)
    client, server = tcp.TCPSocket(), tcp.TCPSocket()
    try:
        assert client.setNonBlocking() is True and server.setNonBlocking() is True
        assert client.connect(LOOPBACK, port) is True
        assert server.accept(listener) is True
        for sock in (client, server):
            started = time.monotonic()
            assert sock.recv(10) == b"" and sock.connected()
            assert time.monotonic() - started < 1.0, "a non-blocking recv() waited"
    finally:
        listener.unbind()
        client.disconnect()
        server.disconnect()


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


@pytest.mark.clause("4.broken-recv")
def test_reset_in_the_middle_of_a_recv(pair):
    """A blocking recv(n) that had some bytes when the reset came returns
    them (fewer than n: the end of the stream), never raising."""
    client, server = pair
    server.send(b"abc")

    def reset_later():
        time.sleep(0.2)
        reset(server)

    resetting = Background(reset_later, name="reset")
    assert client.recv(10) == b"abc"
    resetting.join()
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
def test_send_buffer_leaving_bytes_queued(tcp_harness, pair):
    """A sendBuffer() that cannot write the whole queue returns its count and
    fires sendWait once; once the queue is empty the socket sends as before."""
    client, server = pair
    driver = tcp_harness.driver()
    cep = driver.add(client, name="client", data="client data")
    sep = driver.add(server, name="server", data="server data")
    sep.unwatch()  # the server does not read yet
    data = stuff(cep, extra=6)
    cep.ledger.send_buffer()  # the kernel is still full: bytes stay queued (checked by the ledger)
    assert client.getBufferUnsent() > 0
    sep.watch()
    driver.run_until(lambda: len(sep.received) >= len(data) and cep.idle, "the data to arrive")
    more = payload(1000, 52)
    assert cep.ledger.send(more) == len(more), "with the queue empty, send() writes at once"
    driver.run_until(lambda: len(sep.received) >= len(data) + len(more), "the bytes sent after the queue emptied")
    assert bytes(sep.received) == data + more
    assert client.connected() and server.connected()


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
