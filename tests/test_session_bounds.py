"""The shared session's own bounds (``nettls.components._common.session``):
one socket read per non-blocking call, handshakes included; a blocking
handshake that needs many reads completes; ``IDLE_INPUT_LIMIT`` on
ciphertext with nothing coming of it, in the handshake and after it, on the
descriptor fast path too; and legitimate post-handshake traffic well past
that amount, with application data between, is not refused.

What every component promises (64 KiB a call under a flood, a flood ended
with an alert, close() against a concurrent send()) is in the conformance
suite: ``nettls/conformance/test_hostile_session.py``.
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
import ssl
import termios
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from nettls.components._common.session import IDLE_INPUT_LIMIT, NONBLOCKING_READ
from nettls.conformance import Background, TCPKit, TLSKit, bind_server, make_pki
from nettls.conformance._support import SocketWrapper
from nettls.conformance.rawpeer import ALERT, RawClient, RecordWriter, records
from nettls.interfaces import TLSError, TLSHandshakeError

from _edge import COMPONENTS, WAIT, client_hello, read_to_close

pytestmark = pytest.mark.timeout(60)

OK, FAIL, WAIT_READ, WAIT_WRITE = 1, 0, 2, 3
#: Components whose client does not verify in the handshake and takes a
#: certificate message of 90 KB (mbed TLS 2.28 holds 16 KiB of one).
_BIG_FLIGHT_CLIENTS = ("stdlib", "pyopenssl")
#: Certificate bytes the big-flight server sends: more than a read of 64 KiB.
_BIG_FLIGHT = 90_000
#: Components that speak TLS 1.3 (a KeyUpdate needs it).
_TLS13 = tuple(c for c in COMPONENTS if c != "mbedtls")


def _accepted(component: str, *, version: ssl.TLSVersion | None = None) -> tuple[RawClient, Any]:
    """A ``RawClient`` connected to a nettls TCP socket (blocking), handshake not begun."""
    listener, port = bind_server()
    try:
        client = RawClient(port, version=version, timeout=WAIT)
        sock = TCPKit.of(None).TCPSocket()
        assert sock.accept(listener) is True
    finally:
        listener.unbind()
    sock.setTimeout(WAIT)
    return client, sock


def _server_session(component: str) -> Any:
    kit = TLSKit.of(component)
    return kit.TLS(kit.server_context(make_pki().ec))


# -- one read per non-blocking handshake step ------------------------------------------------------


def _big_flight_server(listener: socket.socket, chain_file: Path, key_file: Path) -> None:
    """Python's ssl as a server whose certificate message is about 90 KB."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(chain_file, key_file)
    raw, _ = listener.accept()
    raw.settimeout(WAIT)
    with raw, contextlib.suppress(ssl.SSLError, OSError), ctx.wrap_socket(raw, server_side=True) as tls:
        tls.recv(1)  # until the client goes, as soon as its handshake is done


def _queued(fd: int) -> int:
    """Bytes waiting in the kernel's receive buffer of descriptor ``fd``."""
    return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), "little")


@pytest.mark.parametrize("component", _BIG_FLIGHT_CLIENTS)
def test_each_nonblocking_handshake_step_reads_64_kib_at_most(component: str, tmp_path: Path) -> None:
    """The server's flight (a 90 KB certificate chain) is all in the kernel's
    buffer before the client's next ``connect()``: that call takes 64 KiB,
    and the socket, still readable, brings the next call the rest."""
    pki = make_pki()
    extra = pki.ec.intermediates[0]
    copies = _BIG_FLIGHT // len(extra.der)  # under OpenSSL's 100 KiB for a client's certificate list
    chain_file, key_file = tmp_path / "chain.pem", tmp_path / "key.pem"
    chain_file.write_text(pki.ec.cert_pem + extra.cert_pem * copies)
    key_file.write_text(pki.ec.key_pem())
    listener = socket.create_server(("127.0.0.1", 0))
    server = Background(_big_flight_server, listener, chain_file, key_file, name="big-flight server")
    inner = TCPKit.of(None).TCPSocket()
    try:
        inner.connect("127.0.0.1", listener.getsockname()[1])
        sock = SocketWrapper(inner)
        kit = TLSKit.of(component)
        session = kit.TLS(kit.client_context())
        session.setNonBlocking()
        assert session.connect(sock) == WAIT_READ
        deadline = time.monotonic() + WAIT
        while _queued(inner.fileno()) < _BIG_FLIGHT and time.monotonic() < deadline:
            time.sleep(0.005)
        monitor = TCPKit.of(None).TCPMonitor()
        monitor.addSocket(inner)
        taken = []
        status = WAIT_READ
        while status in (WAIT_READ, WAIT_WRITE) and time.monotonic() < deadline:
            before = sock.received
            status = session.connect(sock)
            taken.append(sock.received - before)
            if status == WAIT_READ:
                monitor.wait(100)
        assert status == OK, session.getFailureReason()
        assert max(taken) <= NONBLOCKING_READ, f"a connect() step took {taken} bytes"
        assert len([n for n in taken if n]) >= 2, taken
    finally:
        inner.disconnect()
        listener.close()
    server.join()


# -- a blocking handshake is not cut short ------------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
def test_blocking_accept_of_a_trickled_hello_completes(component: str) -> None:
    """A ClientHello trickled in 100 pieces costs the blocking ``accept()``
    one read a piece; it still returns OK (it returned WAIT_READ after 64)."""
    client, sock = _accepted(component)
    try:
        try:
            client.obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = client.outgoing.read()
        step = -(-len(hello) // 100)

        def trickle() -> None:
            for pos in range(0, len(hello), step):
                client.sock.sendall(hello[pos : pos + step])
                time.sleep(0.003)
            client.handshake()

        peer = Background(trickle, name="trickling client")
        assert _server_session(component).accept(sock) == OK
        peer.join()
    finally:
        sock.disconnect()
        client.close()


# -- IDLE_INPUT_LIMIT ---------------------------------------------------------------------------------


#: Components whose library answers a record that interrupts a fragmented
#: ClientHello with an alert: rustls reports MessageInterleavedWithHandshakeMessage
#: and sends none; mbed TLS refuses the 60 KB hello by its size first, silently.
_ALERTS_INTERRUPTED_HELLO = ("stdlib", "pyopenssl")
#: A GREASE extension type (RFC 8701): servers ignore it, whatever its length.
_IGNORED_EXTENSION = b"\x0a\x0a"


def _padded_hello_in_one_byte_records(size: int) -> bytes:
    """A real ClientHello grown to ``size`` bytes by an extension servers
    ignore, sent one byte per record: six bytes on the wire for each."""
    hello = client_hello()
    message = bytearray(hello[5:])  # the handshake message: type, length, body
    body_start = 4
    pos = body_start + 2 + 32
    pos += 1 + message[pos]  # session id
    pos += 2 + int.from_bytes(message[pos : pos + 2], "big")  # cipher suites
    pos += 1 + message[pos]  # compression methods
    pad = size - len(message) - 4
    extensions_length = int.from_bytes(message[pos : pos + 2], "big") + 4 + pad
    message[pos : pos + 2] = extensions_length.to_bytes(2, "big")
    message += _IGNORED_EXTENSION + pad.to_bytes(2, "big") + bytes(pad)
    message[1:4] = (len(message) - 4).to_bytes(3, "big")
    return b"".join(b"\x16\x03\x01\x00\x01" + message[i : i + 1] for i in range(len(message)))


@pytest.mark.parametrize("mode", ["blocking", "nonblocking"])
@pytest.mark.parametrize("component", COMPONENTS)
def test_a_handshake_past_the_idle_limit_is_refused(component: str, mode: str) -> None:
    """A 60 KB ClientHello in one-byte records is 360 KB on the wire: more
    than ``IDLE_INPUT_LIMIT`` with no handshake at the end of it. The
    session refuses it there, whatever the library would allow (mbed TLS
    refuses the hello's size first), and takes little more than the limit."""
    wire = _padded_hello_in_one_byte_records(60_000)
    assert len(wire) > IDLE_INPUT_LIMIT + NONBLOCKING_READ
    listener, port = bind_server()
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        inner = TCPKit.of(None).TCPSocket()
        assert inner.accept(listener) is True
    finally:
        listener.unbind()
    inner.setTimeout(WAIT)
    sock = SocketWrapper(inner) if mode == "nonblocking" else inner
    session = _server_session(component)
    sender = Background(_send_until_closed, raw, wire, name="padded hello")
    try:
        if mode == "blocking":
            with pytest.raises(TLSHandshakeError) as info:
                session.accept(sock)
            reason = str(info.value)
        else:
            session.setNonBlocking()
            status = WAIT_READ
            deadline = time.monotonic() + WAIT
            while status in (WAIT_READ, WAIT_WRITE) and time.monotonic() < deadline:
                before = sock.received
                status = session.accept(sock)
                assert sock.received - before <= NONBLOCKING_READ
                time.sleep(0.001)
            assert status == FAIL
            reason = session.getFailureReason()
        if component != "mbedtls":
            assert f"within {IDLE_INPUT_LIMIT // 1024} KiB" in reason, reason
        inner.disconnect()
        reply, how = read_to_close(raw)
        assert how == "eof", how
        if component in _ALERTS_INTERRUPTED_HELLO:
            assert ALERT in [kind for kind, _ in records(reply)], f"no alert: {reply[:20]!r}"
    finally:
        inner.disconnect()
        raw.close()
    sender.join()


def _send_until_closed(raw: socket.socket, data: bytes) -> None:
    try:
        raw.sendall(data)
    except OSError:  # the session's end closed: it refused the rest
        pass


def _flooded_blocking_session(component: str) -> tuple[RawClient, RecordWriter, Any, Any]:
    """A blocking nettls server over the plain TCP socket (the descriptor
    fast path) and a TLS 1.3 ``RawClient`` that writes its own records."""
    client, sock = _accepted(component)
    session = _server_session(component)
    shaker = Background(client.handshake, name="raw client handshake")
    assert session.accept(sock) == OK
    shaker.join()
    assert client.version() == "TLSv1.3"
    return client, RecordWriter(client), session, sock


@pytest.mark.parametrize("component", _TLS13)
def test_blocking_recv_on_the_fast_path_refuses_a_flood(component: str) -> None:
    """KeyUpdates for ever against a blocking ``recv()`` over a socket with a
    descriptor: it returns ``b""`` once the flood passes the limit (rustls
    refuses earlier, by its own rule), the peer gets a fatal alert."""
    client, writer, session, sock = _flooded_blocking_session(component)
    stop = threading.Event()

    def flood() -> None:
        try:
            while not stop.is_set():
                client.sock.sendall(b"".join(writer.key_update() for _ in range(256)))
        except OSError:  # refused: the session's end is closed
            pass

    sender = Background(flood, name="KeyUpdate flood")
    try:
        assert session.recv(10) == b""
        assert session.getStatus() == FAIL
        reason = session.getFailureReason() or ""
        if component != "rustls":
            assert f"sent {IDLE_INPUT_LIMIT // 1024} KiB of ciphertext with no application data" in reason, reason
            assert client.outcome(timeout=2.0).startswith("alert: "), "no fatal alert reached the peer"
        with pytest.raises(TLSError):
            session.send(b"x")
    finally:
        stop.set()
        sock.disconnect()
        client.close()
    sender.join()


@pytest.mark.parametrize("component", _TLS13)
def test_key_updates_with_application_data_between_are_not_a_flood(component: str) -> None:
    """12,000 KeyUpdates, more than ``IDLE_INPUT_LIMIT`` of them in all, with
    a byte of application data after every 30 (rustls allows 32 in a row):
    every byte arrives and the session stays open."""
    client, writer, session, sock = _flooded_blocking_session(component)
    try:
        batches = []
        for i in range(400):
            batches.append(b"".join(writer.key_update() for _ in range(30)) + writer.application_data(b"%c" % (65 + i % 26)))
        wire = b"".join(batches)
        assert len(wire) > IDLE_INPUT_LIMIT
        sender = Background(client.sock.sendall, wire, name="KeyUpdates with data")
        expected = bytes(65 + i % 26 for i in range(400))
        assert session.recv(len(expected)) == expected
        assert session.getStatus() == OK
        sender.join()
    finally:
        sock.disconnect()
        client.close()
