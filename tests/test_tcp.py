"""Tests of the ``tcp`` component over real loopback sockets.

Peers are either this component's own sockets or plain ``socket`` objects
(when a test needs something the interfaces cannot do, such as a reset via
``SO_LINGER`` 0, or a peer that does not read).
"""

from __future__ import annotations

import array
import errno
import random
import selectors
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from zope.interface import implementedBy
from zope.interface.verify import verifyClass, verifyObject

from nettls.components.tcp import _monitor
from nettls.components.tcp import COMPONENT, ConnectTimeoutError, TCPMonitor, TCPServerSocket, TCPSocket
from nettls.interfaces import (
    DANA_NAME,
    EventData,
    IHalfClose,
    ISelectable,
    IServerSocketOptions,
    ITCPMonitor,
    ITCPServerSocket,
    ITCPSocket,
    ITimeout,
    MonitorEvent,
    NetworkEndpoint,
)

pytestmark = pytest.mark.timeout(20)

LOCAL_V4 = "127.0.0.1"
LOCAL_V6 = "::1"


def _has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind((LOCAL_V6, 0))
    except OSError:
        return False
    return True


HAS_IPV6 = _has_ipv6_loopback()
needs_ipv6 = pytest.mark.skipif(not HAS_IPV6, reason="this machine has no ::1")
LOOPBACKS = [LOCAL_V4, pytest.param(LOCAL_V6, marks=needs_ipv6)]

# What each class claims; every pair is checked with verifyClass and verifyObject.
CLAIMS = [
    (TCPSocket, ITCPSocket),
    (TCPSocket, ISelectable),
    (TCPSocket, IHalfClose),
    (TCPSocket, ITimeout),
    (TCPServerSocket, ITCPServerSocket),
    (TCPServerSocket, ISelectable),
    (TCPServerSocket, IServerSocketOptions),
    (TCPMonitor, ITCPMonitor),
]


# --- helpers and fixtures ----------------------------------------------------


def wait_until(predicate: Callable[[], object], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return bool(predicate())


def recv_until(sock: TCPSocket, size: int, timeout: float = 5.0) -> bytes:
    """Gather ``size`` bytes from a non-blocking ``sock`` (or fewer at end of stream)."""
    got = bytearray()
    deadline = time.monotonic() + timeout
    while len(got) < size and time.monotonic() < deadline:
        chunk = sock.recv(size - len(got))
        if chunk:
            got += chunk
        elif not sock.connected():
            break
        else:
            time.sleep(0.002)
    return bytes(got)


def reset(raw: socket.socket) -> None:
    """Close ``raw`` with a reset (RST) instead of a FIN."""
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()


def free_port_in_use() -> tuple[socket.socket, int]:
    """A plain listening socket on 127.0.0.1 and its port."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind((LOCAL_V4, 0))
    holder.listen(1)
    return holder, holder.getsockname()[1]


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOCAL_V4, 0))
        return probe.getsockname()[1]


@pytest.fixture
def cleanup() -> Iterator[list[object]]:
    """Objects appended here are disconnected, unbound or closed at teardown."""
    things: list[object] = []
    yield things
    for thing in things:
        for name in ("disconnect", "unbind", "close"):
            method = getattr(thing, name, None)
            if method is not None:
                method()
                break


@pytest.fixture
def server(cleanup: list[object]) -> TCPServerSocket:
    """A blocking server socket listening on 127.0.0.1, a free port."""
    srv = TCPServerSocket()
    cleanup.append(srv)
    assert srv.bind(LOCAL_V4, 0) is True
    return srv


PairMaker = Callable[..., tuple[TCPSocket, TCPSocket]]
RawPairMaker = Callable[..., tuple[TCPSocket, socket.socket]]


@pytest.fixture
def make_pair(cleanup: list[object]) -> PairMaker:
    """``make_pair(host)`` -> (client, accepted peer), both this component's sockets."""

    def make(host: str = LOCAL_V4) -> tuple[TCPSocket, TCPSocket]:
        srv = TCPServerSocket()
        cleanup.append(srv)
        srv.bind(host, 0)
        endpoint = srv.getLocalEndpoint()
        assert endpoint is not None
        client, peer = TCPSocket(), TCPSocket()
        cleanup.extend([client, peer])
        assert client.connect(host, endpoint.port) is True
        assert peer.accept(srv) is True
        srv.unbind()
        return client, peer

    return make


@pytest.fixture
def make_raw_pair(cleanup: list[object]) -> RawPairMaker:
    """``make_raw_pair(host)`` -> (client TCPSocket, plain ``socket`` peer)."""

    def make(host: str = LOCAL_V4) -> tuple[TCPSocket, socket.socket]:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.create_server((host, 0), family=family) as listener:
            client = TCPSocket()
            cleanup.append(client)
            client.connect(host, listener.getsockname()[1])
            raw, _ = listener.accept()
        raw.settimeout(10)
        cleanup.append(raw)
        return client, raw

    return make


def _selector_monitor(selector: type[selectors.BaseSelector]) -> type[TCPMonitor]:
    class SelectorMonitor(TCPMonitor):
        __slots__ = ()
        _poller_factory = staticmethod(lambda: _monitor._SelectorPoller(selector))

    return SelectorMonitor


MONITOR_KINDS = {
    "default": TCPMonitor,
    "poll": _selector_monitor(selectors.PollSelector) if hasattr(selectors, "PollSelector") else None,
    "select": _selector_monitor(selectors.SelectSelector),
}


@pytest.fixture(params=[kind for kind, cls in MONITOR_KINDS.items() if cls is not None])
def monitor(request: pytest.FixtureRequest, cleanup: list[object]) -> TCPMonitor:
    """A ``TCPMonitor`` on each OS backend: epoll (Linux default), poll and select fallbacks."""
    cls = MONITOR_KINDS[request.param]
    assert cls is not None
    mon = cls()
    cleanup.append(mon)
    return mon


def events_for(monitor: TCPMonitor, sock: object, timeout: float = 5.0) -> MonitorEvent:
    """Wait until ``monitor`` reports ``sock``, and return that event."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in monitor.wait(50):
            if event.socket is sock:
                return event
    raise AssertionError(f"no event for {sock!r} within {timeout} s")


# --- interfaces and component --------------------------------------------------


@pytest.mark.parametrize(("cls", "iface"), CLAIMS, ids=lambda x: x.__name__)
def test_class_verifies_against_interface(cls: type, iface: object) -> None:
    assert verifyClass(iface, cls)
    assert iface.implementedBy(cls)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("cls", "iface"), CLAIMS, ids=lambda x: x.__name__)
def test_object_verifies_against_interface(cls: type, iface: object) -> None:
    obj = cls()
    assert verifyObject(iface, obj)
    assert iface.providedBy(obj)  # type: ignore[attr-defined]


def test_connected_socket_verifies_against_its_interfaces(make_pair: PairMaker) -> None:
    client, peer = make_pair()
    for sock in (client, peer):
        for iface in (ITCPSocket, ISelectable, IHalfClose, ITimeout):
            assert verifyObject(iface, sock)


def test_claims_list_every_declared_interface() -> None:
    for cls in (TCPSocket, TCPServerSocket, TCPMonitor):
        assert set(implementedBy(cls)) == {iface for claimed, iface in CLAIMS if claimed is cls}


def test_component_declares_the_three_classes() -> None:
    assert COMPONENT.name == "tcp"
    assert dict(COMPONENT.provides) == {
        "net.TCPSocket": TCPSocket,
        "net.TCPServerSocket": TCPServerSocket,
        "net.TCPMonitor": TCPMonitor,
    }
    assert COMPONENT.requires == ()
    assert COMPONENT.description and "socket" in COMPONENT.library
    for iface in (ITCPSocket, ITCPServerSocket, ITCPMonitor):
        assert iface.implementedBy(COMPONENT.provides[iface.getTaggedValue(DANA_NAME)])


def test_server_socket_carries_its_constants() -> None:
    assert (TCPServerSocket.ANY_ADDRESS, TCPServerSocket.ANY_ADDRESS_v4, TCPServerSocket.ANY_ADDRESS_v6) == (
        "ANY",
        "ANY_v4",
        "ANY_v6",
    )
    assert TCPServerSocket().ANY_ADDRESS == "ANY"


# --- connect, accept, endpoints --------------------------------------------------


@pytest.mark.parametrize("host", LOOPBACKS)
def test_connect_and_accept_see_each_other(make_pair: PairMaker, host: str) -> None:
    client, peer = make_pair(host)
    assert client.connected() and peer.connected()
    assert client.getRemoteEndpoint() == peer.getLocalEndpoint()
    assert client.getLocalEndpoint() == peer.getRemoteEndpoint()
    local = client.getLocalEndpoint()
    assert isinstance(local, NetworkEndpoint) and local.address == host and local.port > 0
    assert client.fileno() >= 0 and peer.fileno() >= 0
    assert not client.isNonBlocking() and not peer.isNonBlocking()


def test_connect_by_host_name(server: TCPServerSocket, cleanup: list[object]) -> None:
    endpoint = server.getLocalEndpoint()
    assert endpoint is not None
    client, peer = TCPSocket(), TCPSocket()
    cleanup.extend([client, peer])
    assert client.connect("localhost", endpoint.port) is True
    assert peer.accept(server) is True
    assert client.getRemoteEndpoint() == NetworkEndpoint(LOCAL_V4, endpoint.port)
    assert client.send(b"by name") == 7
    assert peer.recv(7) == b"by name"


def test_endpoints_are_none_before_connect_and_after_disconnect(make_pair: PairMaker) -> None:
    fresh = TCPSocket()
    assert fresh.getRemoteEndpoint() is None and fresh.getLocalEndpoint() is None
    assert not fresh.connected() and fresh.fileno() == -1
    client, _ = make_pair()
    client.disconnect()
    assert client.getRemoteEndpoint() is None and client.getLocalEndpoint() is None


def test_connect_to_closed_port_raises_connection_error_naming_address() -> None:
    port = closed_port()
    sock = TCPSocket()
    with pytest.raises(ConnectionError) as caught:
        sock.connect(LOCAL_V4, port)
    assert LOCAL_V4 in str(caught.value) and str(port) in str(caught.value)
    assert caught.value.errno == errno.ECONNREFUSED
    assert isinstance(caught.value.__cause__, OSError)
    assert not sock.connected() and sock.fileno() == -1


@pytest.mark.timeout(30)
def test_connect_to_unknown_host_raises_connection_error_naming_it() -> None:
    with pytest.raises(ConnectionError, match="no-such-host.invalid"):
        TCPSocket().connect("no-such-host.invalid", 80)


def test_connect_timeout_raises_timeout_error_that_is_a_connection_error() -> None:
    # A listener with a full accept queue that never accepts: Linux drops
    # further SYNs, so a connect waits for ever without a timeout.
    with socket.socket() as listener:
        listener.bind((LOCAL_V4, 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                filler = socket.socket()
                fillers.append(filler)
                filler.setblocking(False)
                try:
                    filler.connect((LOCAL_V4, port))
                except BlockingIOError:
                    pass
            time.sleep(0.05)
            sock = TCPSocket()
            sock.setTimeout(0.3)
            start = time.monotonic()
            try:
                sock.connect(LOCAL_V4, port)
            except ConnectTimeoutError as exc:
                elapsed = time.monotonic() - start
                assert isinstance(exc, TimeoutError) and isinstance(exc, ConnectionError)
                assert LOCAL_V4 in str(exc)
                assert 0.2 < elapsed < 3
                assert not sock.connected()
            else:
                sock.disconnect()
                pytest.skip("this kernel accepted past the backlog; no way to stall a connect")
        finally:
            for filler in fillers:
                filler.close()


def test_connect_rejects_bad_arguments() -> None:
    sock = TCPSocket()
    with pytest.raises(TypeError):
        sock.connect(b"127.0.0.1", 80)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sock.connect(LOCAL_V4, "80")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        sock.connect(LOCAL_V4, 70000)
    with pytest.raises(ValueError):
        sock.connect("", 80)


def test_connect_or_accept_while_connected_raises(make_pair: PairMaker, server: TCPServerSocket) -> None:
    client, _ = make_pair()
    endpoint = server.getLocalEndpoint()
    assert endpoint is not None
    with pytest.raises(ConnectionError, match="already connected"):
        client.connect(LOCAL_V4, endpoint.port)
    with pytest.raises(ConnectionError, match="already connected"):
        client.accept(server)
    assert client.connected()


def test_socket_connects_again_after_disconnect(server: TCPServerSocket, cleanup: list[object]) -> None:
    endpoint = server.getLocalEndpoint()
    assert endpoint is not None
    client = TCPSocket()
    cleanup.append(client)
    for round_ in range(2):
        assert client.connect(LOCAL_V4, endpoint.port)
        peer = TCPSocket()
        cleanup.append(peer)
        assert peer.accept(server)
        assert client.send(bytes([round_])) == 1
        assert peer.recv(1) == bytes([round_])
        client.disconnect()
        assert not client.connected()


def test_accept_takes_only_a_server_socket(make_pair: PairMaker) -> None:
    client, _ = make_pair()
    with pytest.raises(TypeError, match="TCPServerSocket"):
        TCPSocket().accept(client)  # type: ignore[arg-type]


def test_nonblocking_server_accept_returns_false_until_a_connection_waits(
    server: TCPServerSocket, cleanup: list[object]
) -> None:
    assert server.setNonBlocking() is True and server.isNonBlocking()
    sock = TCPSocket()
    cleanup.append(sock)
    start = time.monotonic()
    assert sock.accept(server) is False
    assert time.monotonic() - start < 0.5
    assert not sock.connected()
    endpoint = server.getLocalEndpoint()
    assert endpoint is not None
    client = TCPSocket()
    cleanup.append(client)
    client.connect(LOCAL_V4, endpoint.port)
    assert wait_until(lambda: sock.accept(server))
    assert sock.connected() and not sock.isNonBlocking()  # accepted sockets start blocking
    assert sock.getRemoteEndpoint() == client.getLocalEndpoint()


def test_accept_on_unbound_server_returns_false() -> None:
    sock = TCPSocket()
    assert sock.accept(TCPServerSocket()) is False
    assert not sock.connected()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="shutdown() wakes accept() on Linux")
def test_unbind_wakes_a_blocked_accept(server: TCPServerSocket) -> None:
    results: list[bool] = []
    waiter = threading.Thread(target=lambda: results.append(TCPSocket().accept(server)))
    waiter.start()
    time.sleep(0.1)
    server.unbind()
    waiter.join(5)
    assert not waiter.is_alive()
    assert results == [False]


# --- disconnect -------------------------------------------------------------------


def test_disconnect_is_idempotent_and_ends_everything(make_pair: PairMaker) -> None:
    client, peer = make_pair()
    client.disconnect()
    client.disconnect()
    assert not client.connected() and client.fileno() == -1
    assert client.recv(10) == b""
    with pytest.raises(ConnectionError):
        client.send(b"x")
    assert client.sendBuffer() == 0 and client.getBufferUnsent() == 0
    assert peer.recv(10) == b""  # the peer sees end of stream
    assert not peer.connected()
    TCPSocket().disconnect()  # never connected: nothing to do


def test_disconnect_with_unread_input_loses_nothing_sent(make_raw_pair: RawPairMaker) -> None:
    # Unread input at close makes the kernel send a reset, which throws away
    # what is still queued for the peer (TLS 1.3 tickets a client never read
    # are enough). The peer reads slowly so that some is queued at the close.
    client, raw = make_raw_pair()
    raw.sendall(b"never read by the client")
    time.sleep(0.05)
    data = random.Random(5).randbytes(1 << 20)
    received = bytearray()
    errors: list[OSError] = []

    def read_slowly() -> None:
        time.sleep(0.1)
        try:
            while chunk := raw.recv(1 << 12):
                received.extend(chunk)
                time.sleep(0.001)
        except OSError as exc:  # a reset
            errors.append(exc)

    reader = threading.Thread(target=read_slowly)
    reader.start()
    try:
        assert client.send(data) == len(data)
        client.disconnect()
    finally:
        reader.join(10)
    assert errors == []
    assert len(received) == len(data) and bytes(received) == data


def test_disconnect_wakes_a_thread_blocked_in_recv(make_pair: PairMaker) -> None:
    client, _ = make_pair()
    results: list[bytes] = []
    reader = threading.Thread(target=lambda: results.append(client.recv(10)))
    reader.start()
    time.sleep(0.1)
    client.disconnect()
    reader.join(5)
    assert not reader.is_alive()
    assert results == [b""]


def test_socket_context_manager_disconnects(server: TCPServerSocket, cleanup: list[object]) -> None:
    endpoint = server.getLocalEndpoint()
    assert endpoint is not None
    with TCPSocket() as client:
        client.connect(LOCAL_V4, endpoint.port)
        assert client.connected()
    assert not client.connected() and client.fileno() == -1


# --- blocking I/O -----------------------------------------------------------------


def test_blocking_send_writes_every_bytes_type(make_pair: PairMaker) -> None:
    client, peer = make_pair()
    wide = array.array("H", [1, 2, 3])  # a memoryview of format "H" counts bytes
    pieces: list[bytes | bytearray | memoryview] = [
        b"bytes",
        bytearray(b"bytearray"),
        memoryview(b"memoryview"),
        memoryview(wide),
    ]
    expected = b"".join(bytes(p) for p in pieces)
    for piece in pieces:
        assert client.send(piece) == memoryview(piece).nbytes
    assert client.send(b"") == 0
    assert peer.recv(len(expected)) == expected
    assert client.sendBuffer() == 0 and client.getBufferUnsent() == 0


@pytest.mark.parametrize("nonblocking", [False, True], ids=["blocking", "non-blocking"])
@pytest.mark.parametrize("data", ["text", 42, None, [1, 2]], ids=["str", "int", "None", "list"])
def test_send_rejects_what_is_not_bytes(make_pair: PairMaker, nonblocking: bool, data: object) -> None:
    client, peer = make_pair()
    if nonblocking:
        client.setNonBlocking()
    with pytest.raises(TypeError, match="bytes"):
        client.send(data)  # type: ignore[arg-type]
    assert client.getBufferUnsent() == 0
    assert client.send(b"ok") == 2  # still usable
    assert peer.recv(2) == b"ok"


@pytest.mark.parametrize(
    ("size", "error"),
    [(0, ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError), ("3", TypeError), (None, TypeError)],
)
@pytest.mark.parametrize("nonblocking", [False, True], ids=["blocking", "non-blocking"])
def test_recv_rejects_bad_sizes(make_pair: PairMaker, size: object, error: type, nonblocking: bool) -> None:
    client, peer = make_pair()
    if nonblocking:
        client.setNonBlocking()
    peer.send(b"data")
    with pytest.raises(error):
        client.recv(size)  # type: ignore[arg-type]
    if nonblocking:
        assert recv_until(client, 4) == b"data"  # nothing was consumed
    else:
        assert client.recv(4) == b"data"


def test_blocking_recv_waits_for_exactly_n_across_peer_writes(make_raw_pair: RawPairMaker) -> None:
    client, raw = make_raw_pair()
    pieces = [b"a" * 3, b"b" * 1000, b"c", b"d" * 70000, b"e" * 5]
    expected = b"".join(pieces)

    def write() -> None:
        for piece in pieces:
            raw.sendall(piece)
            time.sleep(0.02)
        raw.sendall(b"after")

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert client.recv(len(expected)) == expected
        assert client.recv(5) == b"after"
    finally:
        writer.join(5)
    assert client.connected()


def test_blocking_recv_returns_fewer_only_at_end_of_stream(make_raw_pair: RawPairMaker) -> None:
    client, raw = make_raw_pair()
    raw.sendall(b"0123456789")
    raw.close()
    assert client.recv(100) == b"0123456789"
    assert not client.connected()
    assert client.recv(100) == b""


def test_blocking_recv_after_reset_returns_empty_without_raising(make_raw_pair: RawPairMaker) -> None:
    client, raw = make_raw_pair()
    reset(raw)
    assert client.recv(100) == b""
    assert not client.connected()
    assert client.getRemoteEndpoint() is not None  # kept until disconnect()


def test_blocking_send_to_reset_peer_raises_connection_error(make_raw_pair: RawPairMaker) -> None:
    client, raw = make_raw_pair()
    peer_port = raw.getsockname()[1]
    reset(raw)
    with pytest.raises(ConnectionError) as caught:
        for _ in range(200):
            client.send(b"x" * 1024)
            time.sleep(0.005)
    assert str(peer_port) in str(caught.value)
    assert isinstance(caught.value.__cause__, OSError)
    assert not client.connected()


def test_full_duplex_send_and_recv_in_two_threads(make_raw_pair: RawPairMaker) -> None:
    client, raw = make_raw_pair()
    client.setTimeout(10)  # a serialising implementation fails instead of hanging
    payload = random.Random(1).randbytes(32 << 20)  # more than the kernel buffers both ways

    def echo() -> None:
        while chunk := raw.recv(1 << 16):
            raw.sendall(chunk)
        raw.shutdown(socket.SHUT_WR)

    def send_all() -> None:
        assert client.send(payload) == len(payload)
        client.shutdownOutput()

    echoer = threading.Thread(target=echo)
    sender = threading.Thread(target=send_all)
    echoer.start()
    sender.start()
    try:
        received = client.recv(len(payload))
    finally:
        sender.join(10)
        echoer.join(10)
    assert not sender.is_alive() and not echoer.is_alive()
    assert received == payload
    assert client.recv(1) == b""


# --- timeouts ---------------------------------------------------------------------


def test_timeout_bounds_a_blocking_recv(make_pair: PairMaker) -> None:
    client, _ = make_pair()
    client.setTimeout(0.2)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        client.recv(10)
    assert 0.15 < time.monotonic() - start < 2
    assert client.connected()  # a timeout is not an end of stream


def test_timeout_bounds_the_whole_recv_not_each_piece(make_raw_pair: RawPairMaker) -> None:
    client, raw = make_raw_pair()
    client.setTimeout(0.3)
    stop = threading.Event()

    def trickle() -> None:  # a byte every 0.1 s would defeat a per-system-call timeout
        while not stop.wait(0.1):
            try:
                raw.sendall(b".")
            except OSError:
                return

    writer = threading.Thread(target=trickle)
    writer.start()
    start = time.monotonic()
    try:
        with pytest.raises(TimeoutError):
            client.recv(1000)
        assert time.monotonic() - start < 1.5
    finally:
        stop.set()
        writer.join(5)


def test_timed_out_recv_loses_no_bytes(make_raw_pair: RawPairMaker) -> None:
    client, raw = make_raw_pair()
    client.setTimeout(0.2)
    raw.sendall(b"abc")
    with pytest.raises(TimeoutError):
        client.recv(6)
    raw.sendall(b"def")
    assert client.recv(6) == b"abcdef"


def test_timeout_bounds_a_blocking_send(make_raw_pair: RawPairMaker) -> None:
    client, _ = make_raw_pair()  # the peer never reads
    client.setTimeout(0.3)
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        client.send(bytes(64 << 20))
    assert time.monotonic() - start < 3


def test_set_timeout_validates_and_none_waits_for_ever(make_raw_pair: RawPairMaker) -> None:
    client, raw = make_raw_pair()
    with pytest.raises(ValueError):
        client.setTimeout(0)
    with pytest.raises(ValueError):
        client.setTimeout(-1)
    with pytest.raises(TypeError):
        client.setTimeout("1")  # type: ignore[arg-type]
    client.setTimeout(0.05)
    client.setTimeout(None)
    timer = threading.Timer(0.3, raw.sendall, args=(b"late",))
    timer.start()
    try:
        assert client.recv(4) == b"late"  # waited past the old 0.05 s
    finally:
        timer.join()


def test_non_blocking_mode_wins_over_a_timeout(make_pair: PairMaker) -> None:
    client, _ = make_pair()
    client.setTimeout(5)
    client.setNonBlocking()
    start = time.monotonic()
    assert client.recv(10) == b""
    assert time.monotonic() - start < 0.5
    assert client.connected()


# --- non-blocking mode ---------------------------------------------------------------


def test_set_non_blocking_before_connect_applies_on_connect(server: TCPServerSocket, cleanup: list[object]) -> None:
    endpoint = server.getLocalEndpoint()
    assert endpoint is not None
    client = TCPSocket()
    cleanup.append(client)
    assert client.setNonBlocking("data") is True
    assert client.isNonBlocking()
    client.connect(LOCAL_V4, endpoint.port)
    assert client.isNonBlocking()
    start = time.monotonic()
    assert client.recv(10) == b""
    assert time.monotonic() - start < 0.5


def test_non_blocking_recv_returns_what_is_there(make_pair: PairMaker) -> None:
    client, peer = make_pair()
    client.setNonBlocking()
    assert client.recv(100) == b""
    assert client.connected()  # empty and connected: no data yet
    peer.send(b"hello world")
    assert wait_until(lambda: client.recv(5) == b"hello")
    assert recv_until(client, 100, timeout=0.3) == b" world"
    assert client.connected()


@pytest.mark.parametrize("how", ["close", "reset"])
def test_non_blocking_connected_turns_false_when_peer_goes(make_raw_pair: RawPairMaker, how: str) -> None:
    client, raw = make_raw_pair()
    client.setNonBlocking()
    assert client.recv(10) == b"" and client.connected()
    if how == "close":
        raw.sendall(b"last")
        raw.close()
        assert recv_until(client, 100) == b"last"
    else:
        reset(raw)
        assert recv_until(client, 100) == b""
    assert not client.connected()
    assert client.recv(10) == b""


def test_non_blocking_send_that_fits_returns_all_and_fires_nothing(make_pair: PairMaker) -> None:
    client, peer = make_pair()
    fired: list[EventData] = []
    client.sendWait.subscribe(fired.append)
    client.setNonBlocking()
    assert client.send(b"small") == 5
    assert client.send(b"") == 0
    assert client.getBufferUnsent() == 0
    assert client.sendBuffer() == 0
    assert fired == []
    assert peer.recv(5) == b"small"


def test_non_blocking_send_keeps_the_queue_invariant(make_raw_pair: RawPairMaker, cleanup: list[object]) -> None:
    """SPEC section 7 against a peer that does not read, then does."""
    client, raw = make_raw_pair()
    monitor = TCPMonitor()
    cleanup.append(monitor)
    monitor.addSocket(client, "client")
    fired: list[EventData] = []
    client.sendWait.subscribe(fired.append)
    client.sendWait.subscribe(lambda event: monitor.armSendNotify(event.source))
    assert client.setNonBlocking(sendWaitData="token") is True

    payload = random.Random(7).randbytes(20 << 20)
    view = memoryview(payload)
    given = returned = 0

    def account(result: int, size: int = 0) -> None:
        nonlocal given, returned
        given += size
        returned += result
        assert returned + client.getBufferUnsent() == given

    # 1. The queue is empty and the kernel cannot take 16 MiB: part is
    #    written, the rest queued, sendWait fires once with the token.
    first = client.send(view[: 16 << 20])
    account(first, 16 << 20)
    assert 0 <= first < 16 << 20
    assert fired == [EventData(client, "sendWait", "token")]

    # 2. Sends that only add to a non-empty queue return 0 and fire nothing.
    pieces: list[bytes | bytearray] = [bytes(view[16 << 20 : 17 << 20]), bytearray(view[17 << 20 : 18 << 20])]
    for i, piece in enumerate(pieces):
        assert client.send(piece) == 0
        account(0, len(piece))
        assert len(fired) == 1, i
    assert client.send(view[18 << 20 :]) == 0
    account(0, len(view) - (18 << 20))
    assert len(fired) == 1

    # 3. sendBuffer() that leaves bytes queued fires once per call.
    for call in range(2):
        account(client.sendBuffer())
        assert len(fired) == 2 + call
        assert client.getBufferUnsent() > 0

    # 4. The peer reads; sendBuffer() on each sendReady until all is out.
    received = bytearray()

    def read() -> None:
        while len(received) < len(payload):
            chunk = raw.recv(1 << 18)
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        deadline = time.monotonic() + 15
        while client.getBufferUnsent() and time.monotonic() < deadline:
            for event in monitor.wait(1000):
                assert event.socket is client and event.userData == "client"
                if event.sendReady:
                    before = len(fired)
                    account(client.sendBuffer())
                    assert len(fired) == before + (1 if client.getBufferUnsent() else 0)
    finally:
        reader.join(15)
    assert client.getBufferUnsent() == 0
    assert returned == given == len(payload)
    assert bytes(received) == payload
    assert all(event == EventData(client, "sendWait", "token") for event in fired)
    assert client.sendBuffer() == 0


def test_send_wait_listener_may_call_the_socket(make_raw_pair: RawPairMaker) -> None:
    client, _ = make_raw_pair()
    seen: list[int] = []
    client.sendWait.subscribe(lambda event: seen.append(event.source.getBufferUnsent()))
    client.setNonBlocking()
    written = client.send(bytes(16 << 20))
    assert seen == [(16 << 20) - written]


def test_send_buffer_on_a_reset_connection_raises(make_raw_pair: RawPairMaker) -> None:
    client, raw = make_raw_pair()
    client.setNonBlocking()
    client.send(bytes(16 << 20))
    unsent = client.getBufferUnsent()
    assert unsent > 0
    reset(raw)
    with pytest.raises(ConnectionError):
        for _ in range(400):
            client.sendBuffer()
            time.sleep(0.005)
    assert not client.connected()


def test_disconnect_drops_queued_bytes(make_raw_pair: RawPairMaker) -> None:
    client, _ = make_raw_pair()
    client.setNonBlocking()
    client.send(bytes(16 << 20))
    assert client.getBufferUnsent() > 0
    assert "unsent=" in repr(client)
    client.disconnect()
    assert client.getBufferUnsent() == 0 and client.sendBuffer() == 0


# --- half-close -------------------------------------------------------------------------


def test_shutdown_output_sends_fin_and_keeps_reading(make_pair: PairMaker) -> None:
    client, peer = make_pair()
    client.send(b"request")
    client.shutdownOutput()
    assert peer.recv(100) == b"request"  # fewer than 100: end of stream
    assert not peer.connected()
    assert peer.send(b"response") == 8  # the other direction still works
    assert client.recv(8) == b"response"
    assert client.connected()
    with pytest.raises(ConnectionError, match="shut down"):
        client.send(b"more")
    client.shutdownOutput()  # again: nothing to do
    TCPSocket().shutdownOutput()  # not connected: nothing to do


def test_shutdown_output_lets_queued_bytes_go_first(make_raw_pair: RawPairMaker) -> None:
    client, raw = make_raw_pair()
    client.setNonBlocking()
    payload = random.Random(3).randbytes(16 << 20)
    client.send(payload)
    assert client.getBufferUnsent() > 0
    client.shutdownOutput()
    received = bytearray()

    def read() -> None:
        while chunk := raw.recv(1 << 18):
            received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert wait_until(lambda: client.sendBuffer() >= 0 and client.getBufferUnsent() == 0, timeout=10)
    finally:
        reader.join(10)
    assert not reader.is_alive()  # the FIN came, after the data
    assert bytes(received) == payload


# --- server socket ------------------------------------------------------------------------


def test_bind_port_in_use_raises_os_error_naming_address() -> None:
    holder, port = free_port_in_use()
    try:
        srv = TCPServerSocket()
        with pytest.raises(OSError) as caught:
            srv.bind(LOCAL_V4, port)
        assert caught.value.errno == errno.EADDRINUSE
        assert LOCAL_V4 in str(caught.value) and str(port) in str(caught.value)
        assert srv.fileno() == -1 and srv.getLocalEndpoint() is None
    finally:
        holder.close()


@pytest.mark.timeout(30)
def test_bind_unknown_host_raises_os_error_naming_it() -> None:
    with pytest.raises(OSError, match="no-such-host.invalid"):
        TCPServerSocket().bind("no-such-host.invalid", 0)


@pytest.mark.parametrize(
    ("address", "bound", "clients"),
    [
        ("ANY", "::" if HAS_IPV6 else "0.0.0.0", [LOCAL_V4, LOCAL_V6] if HAS_IPV6 else [LOCAL_V4]),
        ("ANY_v4", "0.0.0.0", [LOCAL_V4]),
        pytest.param("ANY_v6", "::", [LOCAL_V6], marks=needs_ipv6),
    ],
)
def test_bind_any_addresses(cleanup: list[object], address: str, bound: str, clients: list[str]) -> None:
    srv = TCPServerSocket()
    cleanup.append(srv)
    assert srv.bind(address, 0) is True
    endpoint = srv.getLocalEndpoint()
    assert endpoint is not None and endpoint.address == bound and endpoint.port > 0
    for host in clients:
        client, peer = TCPSocket(), TCPSocket()
        cleanup.extend([client, peer])
        client.connect(host, endpoint.port)
        assert peer.accept(srv)
        remote = peer.getRemoteEndpoint()
        assert remote is not None and remote.address == host  # IPv4-mapped addresses are unmapped


@needs_ipv6
def test_any_v4_and_any_v6_share_a_port(cleanup: list[object]) -> None:
    v6 = TCPServerSocket()
    cleanup.append(v6)
    v6.bind(TCPServerSocket.ANY_ADDRESS_v6, 0)
    endpoint = v6.getLocalEndpoint()
    assert endpoint is not None
    v4 = TCPServerSocket()
    cleanup.append(v4)
    assert v4.bind(TCPServerSocket.ANY_ADDRESS_v4, endpoint.port) is True
    assert v4.getLocalEndpoint() == NetworkEndpoint("0.0.0.0", endpoint.port)


def test_bind_host_name(cleanup: list[object]) -> None:
    srv = TCPServerSocket()
    cleanup.append(srv)
    assert srv.bind("localhost", 0)
    endpoint = srv.getLocalEndpoint()
    assert endpoint is not None and endpoint.address in (LOCAL_V4, LOCAL_V6)
    client = TCPSocket()
    cleanup.append(client)
    assert client.connect("localhost", endpoint.port)


def test_bind_twice_and_bad_arguments_raise(server: TCPServerSocket) -> None:
    with pytest.raises(OSError, match="already bound"):
        server.bind(LOCAL_V4, 0)
    with pytest.raises(TypeError):
        TCPServerSocket().bind(None, 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TCPServerSocket().bind(LOCAL_V4, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        TCPServerSocket().bind(LOCAL_V4, -1)


def test_reuse_address_rebinds_a_port_in_time_wait(cleanup: list[object]) -> None:
    srv = TCPServerSocket()
    srv.bind(LOCAL_V4, 0, reuseAddress=True)
    endpoint = srv.getLocalEndpoint()
    assert endpoint is not None
    client, peer = TCPSocket(), TCPSocket()
    cleanup.append(client)
    client.connect(LOCAL_V4, endpoint.port)
    assert peer.accept(srv)
    peer.disconnect()  # the server side closes first: its port enters TIME_WAIT
    assert client.recv(1) == b""
    client.disconnect()
    srv.unbind()
    again = TCPServerSocket()
    cleanup.append(again)
    assert again.bind(LOCAL_V4, endpoint.port, reuseAddress=True) is True
    assert again.getLocalEndpoint() == endpoint


def test_unbind_is_idempotent(server: TCPServerSocket) -> None:
    assert server.fileno() >= 0
    server.unbind()
    server.unbind()
    assert server.fileno() == -1 and server.getLocalEndpoint() is None
    assert "unbound" in repr(server)
    assert server.bind(LOCAL_V4, 0)  # and it can listen again
    assert server.getLocalEndpoint() is not None


def test_server_context_manager_and_repr() -> None:
    with TCPServerSocket() as srv:
        srv.bind(LOCAL_V4, 0)
        endpoint = srv.getLocalEndpoint()
        assert endpoint is not None
        assert repr(srv) == f"<TCPServerSocket listening on 127.0.0.1:{endpoint.port} blocking>"
        srv.setNonBlocking()
        assert "non-blocking" in repr(srv)
    assert srv.fileno() == -1


def test_socket_reprs_say_state_endpoints_and_mode(make_pair: PairMaker) -> None:
    assert repr(TCPSocket()) == "<TCPSocket idle blocking>"
    client, peer = make_pair()
    local, remote = client.getLocalEndpoint(), client.getRemoteEndpoint()
    assert local is not None and remote is not None
    assert repr(client) == f"<TCPSocket connected 127.0.0.1:{local.port} -> 127.0.0.1:{remote.port} blocking>"
    peer.disconnect()
    client.setNonBlocking()
    recv_until(client, 1)
    assert repr(client).startswith("<TCPSocket peer closed 127.0.0.1:")
    client.disconnect()
    assert repr(client) == "<TCPSocket closed non-blocking>"


@needs_ipv6
def test_ipv6_endpoints_are_bracketed_in_repr(make_pair: PairMaker) -> None:
    client, _ = make_pair(LOCAL_V6)
    assert "[::1]:" in repr(client)


# --- monitor -------------------------------------------------------------------------


def test_monitor_rejects_what_is_not_selectable(monitor: TCPMonitor) -> None:
    with pytest.raises(TypeError, match="ISelectable"):
        monitor.addSocket(socket.socket())
    with pytest.raises(TypeError, match="ISelectable"):
        monitor.addSocket(42)
    assert len(monitor) == 0


def test_monitor_reports_recv_ready_with_user_data(monitor: TCPMonitor, make_pair: PairMaker) -> None:
    client, peer = make_pair()
    client.setNonBlocking()
    assert monitor.addSocket(client, {"id": 1}) is True
    assert monitor.wait(0) == []
    peer.send(b"ping")
    event = events_for(monitor, client)
    assert event == MonitorEvent(client, {"id": 1}, recvReady=True, sendReady=False, close=False)
    assert client.recv(4) == b"ping"
    assert monitor.wait(50) == []  # level-triggered: nothing left to read


def test_monitor_add_socket_again_replaces_user_data(monitor: TCPMonitor, make_pair: PairMaker) -> None:
    client, peer = make_pair()
    monitor.addSocket(client, "old")
    assert monitor.addSocket(client, "new") is True
    assert len(monitor) == 1
    peer.send(b"x")
    assert events_for(monitor, client).userData == "new"


def test_monitor_add_closed_socket_returns_false(monitor: TCPMonitor) -> None:
    assert monitor.addSocket(TCPSocket()) is False
    assert monitor.addSocket(TCPServerSocket()) is False
    assert len(monitor) == 0


def test_monitor_server_socket_recv_ready_means_a_connection_waits(
    monitor: TCPMonitor, server: TCPServerSocket, cleanup: list[object]
) -> None:
    server.setNonBlocking()
    monitor.addSocket(server, "listener")
    assert monitor.wait(0) == []
    endpoint = server.getLocalEndpoint()
    assert endpoint is not None
    client = TCPSocket()
    cleanup.append(client)
    client.connect(LOCAL_V4, endpoint.port)
    event = events_for(monitor, server)
    assert (event.userData, event.recvReady, event.sendReady, event.close) == ("listener", True, False, False)
    accepted = TCPSocket()
    cleanup.append(accepted)
    assert accepted.accept(server)
    assert monitor.wait(50) == []


def test_arm_send_notify_is_one_shot(monitor: TCPMonitor, make_pair: PairMaker) -> None:
    client, _ = make_pair()
    client.setNonBlocking()
    monitor.addSocket(client)
    assert monitor.wait(0) == []  # no write interest until armed
    assert monitor.armSendNotify(client) is True
    assert monitor.wait(1000) == [MonitorEvent(client, None, recvReady=False, sendReady=True, close=False)]
    assert monitor.wait(50) == []  # dropped after one event
    monitor.armSendNotify(client)
    monitor.armSendNotify(client)  # arming twice before the event is arming once
    assert [e.sendReady for e in monitor.wait(1000)] == [True]
    assert monitor.wait(50) == []


def test_arm_send_notify_on_unwatched_socket_returns_false(monitor: TCPMonitor, make_pair: PairMaker) -> None:
    client, _ = make_pair()
    assert monitor.armSendNotify(client) is False
    assert monitor.armSendNotify(TCPSocket()) is False
    assert monitor.wait(0) == []


@pytest.mark.parametrize("how", ["disconnect", "reset", "half-close"])
def test_monitor_reports_close_when_peer_goes(monitor: TCPMonitor, make_raw_pair: RawPairMaker, how: str) -> None:
    client, raw = make_raw_pair()
    client.setNonBlocking()
    monitor.addSocket(client)
    if how == "disconnect":
        raw.close()
    elif how == "reset":
        reset(raw)
    else:
        raw.shutdown(socket.SHUT_WR)
    event = events_for(monitor, client)
    assert event.close is True
    assert client.recv(10) == b""
    assert not client.connected()


def test_monitor_rem_socket_stops_events_and_ignores_unknown(monitor: TCPMonitor, make_pair: PairMaker) -> None:
    client, peer = make_pair()
    monitor.addSocket(client)
    monitor.armSendNotify(client)
    monitor.remSocket(client)
    monitor.remSocket(client)
    monitor.remSocket(TCPSocket())
    monitor.remSocket("not even a socket")
    peer.send(b"x")
    time.sleep(0.05)
    assert monitor.wait(50) == []
    assert len(monitor) == 0


def test_monitor_wait_times_out_and_polls(monitor: TCPMonitor, make_pair: PairMaker) -> None:
    client, _ = make_pair()
    monitor.addSocket(client)
    start = time.monotonic()
    assert monitor.wait(0) == []
    assert time.monotonic() - start < 0.5
    start = time.monotonic()
    assert monitor.wait(100) == []
    assert 0.08 < time.monotonic() - start < 2
    with pytest.raises(ValueError):
        monitor.wait(-1)
    with pytest.raises(TypeError):
        monitor.wait("10")  # type: ignore[arg-type]


def test_monitor_wait_without_timeout_waits_for_an_event(monitor: TCPMonitor, make_pair: PairMaker) -> None:
    client, peer = make_pair()
    monitor.addSocket(client, "c")
    timer = threading.Timer(0.1, peer.send, args=(b"x",))
    timer.start()
    try:
        events = monitor.wait()
    finally:
        timer.join()
    assert [(e.socket, e.recvReady) for e in events] == [(client, True)]


def test_monitor_survives_a_socket_disconnected_while_watched(monitor: TCPMonitor, make_pair: PairMaker) -> None:
    client, peer = make_pair()
    monitor.addSocket(client, "old")
    peer.send(b"unread")
    time.sleep(0.05)
    old_fd = client.fileno()
    client.disconnect()
    assert monitor.wait(0) == []  # no crash, nothing reported for the dead descriptor
    assert monitor.armSendNotify(client) is False
    # A new socket may get the same descriptor number; it must be watched afresh.
    other, other_peer = make_pair()
    assert monitor.addSocket(other, "new")
    monitor.remSocket(client)  # the stale entry must not take the new registration with it
    other_peer.send(b"y")
    event = events_for(monitor, other)
    assert (event.userData, event.recvReady) == ("new", True)
    assert all(e.socket is not client for e in monitor.wait(0))
    assert old_fd >= 0


@pytest.mark.parametrize("number", ["same", "new"])
def test_monitor_watches_a_reconnected_socket(
    monitor: TCPMonitor, server: TCPServerSocket, cleanup: list[object], number: str
) -> None:
    endpoint = server.getLocalEndpoint()
    assert endpoint is not None
    client = TCPSocket()
    cleanup.append(client)
    client.connect(LOCAL_V4, endpoint.port)
    first = TCPSocket()
    cleanup.append(first)
    first.accept(server)
    monitor.addSocket(client, 1)
    old_fd = client.fileno()
    client.disconnect()
    spare = socket.socket() if number == "new" else None  # takes the old number
    try:
        client.connect(LOCAL_V4, endpoint.port)
        assert (client.fileno() == old_fd) == (number == "same")
        second = TCPSocket()
        cleanup.append(second)
        second.accept(server)
        assert monitor.addSocket(client, 2)
        assert len(monitor) == 1
        second.send(b"z")
        assert events_for(monitor, client).userData == 2
    finally:
        if spare is not None:
            spare.close()


def test_monitor_many_sockets(monitor: TCPMonitor, server: TCPServerSocket, cleanup: list[object]) -> None:
    endpoint = server.getLocalEndpoint()
    assert endpoint is not None
    count = 150
    peers = []
    for i in range(count):
        client, peer = TCPSocket(), TCPSocket()
        cleanup.extend([client, peer])
        client.connect(LOCAL_V4, endpoint.port)
        assert peer.accept(server)
        peer.setNonBlocking()
        monitor.addSocket(peer, i)
        peers.append(peer)
        client.send(b"x")
    assert len(monitor) == count
    seen: set[int] = set()
    deadline = time.monotonic() + 5
    while len(seen) < count and time.monotonic() < deadline:
        for event in monitor.wait(100):
            assert event.recvReady and event.socket is peers[event.userData]
            assert event.socket.recv(10) == b"x"
            seen.add(event.userData)
    assert seen == set(range(count))


def test_monitor_close_and_context_manager(make_pair: PairMaker) -> None:
    client, _ = make_pair()
    with TCPMonitor() as monitor:
        monitor.addSocket(client)
        assert "watching 1" in repr(monitor)
    assert repr(monitor) == "<TCPMonitor closed>"
    with pytest.raises(ValueError, match="closed"):
        monitor.wait(0)
    with pytest.raises(ValueError, match="closed"):
        monitor.addSocket(client)
    monitor.remSocket(client)  # ignored
    monitor.close()  # again: nothing to do
    assert len(monitor) == 0
