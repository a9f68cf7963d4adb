"""``Server(handler=factory)``: an application's own protocol on the server
(nettls.server.protocol), on every TLS component.

Each test runs a ``Server`` in a thread of this process with a handler
written here, and real clients (Python's ``ssl``) on loopback. What the
handler records is only touched from the server's thread until the server
has stopped, or read after a bounded wait. Every wait is bounded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import ssl
import time
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from nettls.server import (
    HIGH_WATER,
    MEMORY_BOUND,
    WRITE_LIMIT,
    ConnectionHandler,
    IConnectionHandler,
    IServerTransport,
    Server,
)

from _edge import COMPONENTS, connection_lines, port_of, serve_thread, wait_until
from _serving import ssl_client

pytestmark = pytest.mark.timeout(60)

#: Bytes the streaming handler sends: many times what the kernel buffers.
STREAM_BYTES = 8 << 20
#: Its writes (one TLS record each).
CHUNK = 16384


def read_exactly(sock: ssl.SSLSocket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(min(size - len(data), 1 << 20))
        assert chunk, f"end of stream after {len(data)} of {size} bytes"
        data += chunk
    return bytes(data)


def read_to_end(sock: ssl.SSLSocket) -> bytes:
    """Everything until close_notify (a bare end of stream raises SSLEOFError)."""
    data = bytearray()
    while chunk := sock.recv(65536):
        data += chunk
    return bytes(data)


def shrink_send_buffer(transport: Any, size: int = 16384) -> None:
    """Give the server's socket a small kernel send buffer: Linux grows it to
    megabytes by itself, which a client that never reads would fill first."""
    fd = os.dup(transport.session.getSocket().fileno())
    with socket.socket(fileno=fd) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


# -- the calls, in order ------------------------------------------------------------------------


class Recorder(ConnectionHandler):
    """Records its calls; echoes in upper case; ``bye`` closes with an outcome."""

    calls: list[str] = []

    def connectionMade(self, transport: IServerTransport) -> None:
        super().connectionMade(transport)
        verifyObject(IServerTransport, transport)
        assert transport.session is not None and transport.peer.startswith("127.0.0.1:")
        self.calls.append(f"made {transport.protocol is not None}")

    def dataReceived(self, data: bytes) -> None:
        self.calls.append(f"data {data.decode()}")
        if data == b"bye":
            self.transport.close("the client said bye")
            assert self.transport.write(b"ignored") is False, "a write after close() is ignored"
        else:
            assert self.transport.write(data.upper()) is True

    def connectionLost(self, reason: str) -> None:
        self.calls.append(f"lost {reason}")


@pytest.mark.parametrize("component", COMPONENTS)
def test_a_handler_gets_made_data_and_lost_in_order(component: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nettls.serve")
    Recorder.calls = []
    verifyObject(IConnectionHandler, Recorder())
    with serve_thread(component, handler=Recorder) as server, ssl_client(port_of(server)) as client:
        client.sendall(b"hello")
        assert read_exactly(client, 5) == b"HELLO"
        client.sendall(b"bye")
        assert read_to_end(client) == b"", "close_notify, and nothing after close()"
        wait_until(lambda: server.connections == 0, "the connection to be done")
    assert Recorder.calls == ["made True", "data hello", "data bye", "lost the client said bye"]
    (line,) = connection_lines(caplog.records)
    assert line.endswith("the client said bye") and " in=8 out=5 " in line, line


def test_handler_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="not both"):
        Server("127.0.0.1", 0, http=True, handler=Recorder)
    with pytest.raises(TypeError, match="handler must make a connection handler"):
        Server("127.0.0.1", 0, handler=Recorder())  # type: ignore[arg-type]


# -- flow control: a handler that writes on its own ------------------------------------------


def stream_block(index: int) -> bytes:
    """Block ``index`` of the stream: its bytes depend on where they are."""
    return hashlib.sha256(b"%d" % index).digest() * (CHUNK // 32)


class Streamer(ConnectionHandler):
    """Sends ``STREAM_BYTES`` as fast as the client takes them, following
    ``write()``'s answer and ``resumeWriting()``; then closes."""

    last: Streamer | None = None

    def __init__(self) -> None:
        self.sent = self.refused = self.resumed = self.most_held = 0
        self.lost: str | None = None
        Streamer.last = self

    def connectionMade(self, transport: IServerTransport) -> None:
        super().connectionMade(transport)
        shrink_send_buffer(transport)
        self.pump()

    def pump(self) -> None:
        while self.sent < STREAM_BYTES:
            going_on = self.transport.write(stream_block(self.sent // CHUNK))
            self.sent += CHUNK
            self.most_held = max(self.most_held, self.transport.held())  # type: ignore[attr-defined]
            if not going_on:
                self.refused += 1
                return
        self.transport.close("streamed")

    def resumeWriting(self) -> None:
        self.resumed += 1
        self.pump()

    def connectionLost(self, reason: str) -> None:
        self.lost = reason


@pytest.mark.parametrize("component", COMPONENTS)
def test_a_streaming_handler_waits_for_a_slow_client(component: str) -> None:
    """The client reads nothing for a while: write() says stop above the
    high-water mark, the server holds less than MEMORY_BOUND, and once the
    client reads, resumeWriting() lets the handler finish; every byte
    arrives, in order."""
    Streamer.last = None
    with serve_thread(component, handler=Streamer) as server, ssl_client(port_of(server)) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        wait_until(lambda: Streamer.last is not None and Streamer.last.refused > 0, "write() to refuse")
        time.sleep(0.3)  # the client still does not read: nothing more is queued meanwhile
        handler = Streamer.last
        assert handler is not None
        stalled_at = handler.sent
        expected = b"".join(stream_block(i) for i in range(STREAM_BYTES // CHUNK))
        assert read_to_end(client) == expected
        wait_until(lambda: handler.lost is not None, "connectionLost")
    assert handler.refused >= 1 and handler.resumed >= 1, vars(handler)
    assert stalled_at < STREAM_BYTES // 2, "the handler was not held back"
    assert HIGH_WATER < handler.most_held + CHUNK and handler.most_held < MEMORY_BOUND, handler.most_held
    assert handler.lost == "streamed"


class Firehose(ConnectionHandler):
    """Ignores write()'s answer: 100 writes of 64 KiB to a client that does not read."""

    last: Firehose | None = None

    def __init__(self) -> None:
        self.most_held = 0
        self.inside = False
        self.lost: str | None = None
        self.lost_inside: bool | None = None
        Firehose.last = self

    def connectionMade(self, transport: IServerTransport) -> None:
        super().connectionMade(transport)
        shrink_send_buffer(transport)
        self.inside = True
        for _ in range(100):
            transport.write(b"x" * 65536)
            if transport.session is not None:
                self.most_held = max(self.most_held, transport.held())  # type: ignore[attr-defined]
        self.inside = False

    def connectionLost(self, reason: str) -> None:
        self.lost, self.lost_inside = reason, self.inside


@pytest.mark.parametrize("component", COMPONENTS)
def test_a_handler_that_ignores_flow_control_is_cut_off(component: str, caplog: pytest.LogCaptureFixture) -> None:
    """6.4 MiB written at once to a client that reads nothing: the server
    ends the connection once more than WRITE_LIMIT is held instead of
    holding it all, tells the handler after its call returned, and serves
    others meanwhile."""
    caplog.set_level(logging.INFO, logger="nettls.serve")
    Firehose.last = None
    with serve_thread(component, handler=Firehose) as server:
        client = socket.create_connection(("127.0.0.1", port_of(server)), timeout=10)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
        try:
            tls = ssl._create_unverified_context().wrap_socket(client, server_hostname="localhost")
            wait_until(lambda: Firehose.last is not None and Firehose.last.lost is not None, "connectionLost")
            handler = Firehose.last
            assert handler is not None
            with ssl_client(port_of(server)):  # served meanwhile (its handshake done)
                wait_until(lambda: Firehose.last is not handler, "the second connection's handshake")
            tls.close()
        finally:
            client.close()
        wait_until(lambda: server.connections == 0, "both connections to be done")
    assert handler.lost is not None and "the client does not read" in handler.lost, handler.lost
    assert handler.lost_inside is False, "connectionLost came from inside the handler's own call"
    # A write is counted twice while both its plaintext and its ciphertext are queued.
    assert handler.most_held <= WRITE_LIMIT + 2 * 65536 + 1024, handler.most_held
    assert any("the client does not read: more than" in line for line in connection_lines(caplog.records))


# -- a handler's bug ------------------------------------------------------------------------------


class Fragile(ConnectionHandler):
    """Echoes, except that ``boom`` raises."""

    def dataReceived(self, data: bytes) -> None:
        if data == b"boom":
            raise RuntimeError("a bug in the handler")
        self.transport.write(data)


@pytest.mark.parametrize("component", COMPONENTS)
def test_a_handler_that_raises_ends_its_connection_only(component: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nettls.serve")
    with serve_thread(component, handler=Fragile) as server, ssl_client(port_of(server)) as steady:
        with ssl_client(port_of(server)) as broken:
            broken.sendall(b"boom")
            with pytest.raises((ssl.SSLError, OSError)):  # ended without close_notify: a bug is no clean close
                read_to_end(broken)
        steady.sendall(b"fine")
        assert read_exactly(steady, 4) == b"fine"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "a bug in the handler" in errors[0].getMessage() and errors[0].exc_info
    assert any("internal error: RuntimeError: a bug in the handler" in line for line in connection_lines(caplog.records))
