"""Tests specific to the ``pyopenssl`` component.

The contract itself is the conformance suite's; these cover what is about
pyOpenSSL: its engine's mapping of OpenSSL's behaviour (end of stream,
``recv_into``, the server's peer chain without the leaf), the native
context's security defaults, OpenSSL's verification reasons, and real
loopback sessions with the stdlib component in both directions.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import ssl
import socket
import subprocess
import threading
import time
from typing import Any, Callable

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from OpenSSL import SSL

import nettls
from nettls import TLSHandshakeError, VerifyStatus
from nettls.components import pyopenssl
from nettls.components._common.config import ContextConfig
from nettls.components._common.pem import key_pem, parse_certificate, parse_private_key
from nettls.components._common.engine import EngineEOF, EngineError

pytestmark = pytest.mark.timeout(30)

TCPSocket = nettls.resolve("net.TCPSocket")
TCPServerSocket = nettls.resolve("net.TCPServerSocket")
TCPMonitor = nettls.resolve("net.TCPMonitor")


def component(name: str) -> tuple[Any, Any, Any]:
    return tuple(nettls.resolve(i, component=name) for i in ("net.TLS", "net.TLSContext", "net.TLSCertStore"))  # type: ignore[return-value]


# -- certificates ------------------------------------------------------------------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def intermediate(ca: trustme.CA) -> trustme.CA:
    return ca.create_child_ca()


@pytest.fixture(scope="module")
def server_cert(intermediate: trustme.CA) -> trustme.LeafCert:
    return intermediate.issue_cert("localhost")


def pems(leaf: trustme.LeafCert) -> list[str]:
    return [b.bytes().decode() for b in leaf.cert_chain_pems]


def der(pem: str) -> bytes:
    return parse_certificate(pem).public_bytes(Encoding.DER)


def server_context(name: str, leaf: trustme.LeafCert, cipher_all: bool = False) -> Any:
    _, ctx_cls, _ = component(name)
    ctx = ctx_cls(ctx_cls.SERVER)
    chain = pems(leaf)
    ctx.setCertificate(chain[0], leaf.private_key_pem.bytes())
    ctx.setCertificateChain(chain[1:])
    if cipher_all:
        ctx.setCipherSet(ctx.CIPHER_ALL)
    return ctx


def native_config(leaf: trustme.LeafCert | None, server: bool, cipher_set: int = 1) -> ContextConfig:
    mode = 2 if server else 1
    if leaf is None:
        return ContextConfig(mode, None, None, (), cipher_set)
    chain = pems(leaf)
    key = key_pem(parse_private_key(leaf.private_key_pem.bytes()))
    return ContextConfig(mode, chain[0], key, tuple(chain[1:]), cipher_set)


# -- loopback plumbing --------------------------------------------------------------


class Listener:
    """A bound server socket on 127.0.0.1 with a thread serving one connection."""

    def __init__(self) -> None:
        self.server = TCPServerSocket()
        self.server.bind("127.0.0.1", 0)
        self.port = self.server.getLocalEndpoint().port
        self.result: dict[str, Any] = {}
        self.thread: threading.Thread | None = None

    def serve(self, handler: Callable[[Any], Any]) -> None:
        def run() -> None:
            sock = TCPSocket()
            try:
                sock.accept(self.server)
                sock.setTimeout(10)
                self.result["value"] = handler(sock)
            except BaseException as exc:  # reported by join()
                self.result["error"] = exc
            finally:
                sock.disconnect()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def connect(self) -> Any:
        sock = TCPSocket()
        sock.connect("127.0.0.1", self.port)
        sock.setTimeout(10)
        return sock

    def join(self) -> Any:
        assert self.thread is not None
        self.thread.join(15)
        self.server.unbind()
        assert not self.thread.is_alive(), "server thread hung"
        return self.result


@pytest.fixture
def listener() -> Any:
    lst = Listener()
    yield lst
    lst.server.unbind()


PAIRS = [("pyopenssl", "stdlib"), ("stdlib", "pyopenssl"), ("pyopenssl", "pyopenssl")]


# -- component ----------------------------------------------------------------------


def test_component_declaration() -> None:
    comp = pyopenssl.COMPONENT
    assert comp.name == "pyopenssl"
    assert set(comp.provides) == {"net.TLS", "net.TLSContext", "net.TLSCertStore"}
    assert comp.library.startswith("pyOpenSSL ") and " on OpenSSL " in comp.library
    for name, cls in comp.provides.items():
        assert nettls.resolve(name, component="pyopenssl") is cls


# -- blocking loopback with the stdlib component ---------------------------------------


@pytest.mark.parametrize(("server_name", "client_name"), PAIRS)
def test_blocking_exchange(listener: Listener, server_cert: trustme.LeafCert, ca: trustme.CA, server_name: str, client_name: str) -> None:
    server_tls, _, _ = component(server_name)
    client_tls, client_ctx_cls, client_store_cls = component(client_name)
    sctx = server_context(server_name, server_cert)
    reply = bytes(range(256)) * 1000

    def handle(sock: Any) -> bytes:
        session = server_tls(sctx)
        assert session.accept(sock) == session.OK
        got = session.recv(5)
        session.send(reply)
        assert session.getPeerCertChain() == []  # no client certificate requested
        session.close()
        return got

    listener.serve(handle)
    sock = listener.connect()
    session = client_tls(client_ctx_cls(client_ctx_cls.CLIENT))
    assert session.connect(sock) == session.OK
    session.send(b"hello")
    assert session.recv(len(reply)) == reply
    assert session.recv(10) == b""
    assert "close_notify" in session.getFailureReason()
    chain = session.getPeerCertChain()
    assert chain == pems(server_cert)
    assert session.getProtocolVersion() == "TLSv1.3"
    store = client_store_cls()
    store.addCertificate(ca.cert_pem.bytes())
    assert session.verifyCertificate(store, chain[0], chain).status == VerifyStatus.OK
    sock.disconnect()
    result = listener.join()
    assert result.get("error") is None
    assert result["value"] == b"hello"


def test_truncation_is_reported(listener: Listener, server_cert: trustme.LeafCert) -> None:
    """A TCP close without close_notify: data first, then b"" and the reason."""
    stdlib_tls, _, _ = component("stdlib")
    sctx = server_context("stdlib", server_cert)

    def handle(sock: Any) -> None:
        session = stdlib_tls(sctx)
        session.accept(sock)
        session.send(b"partial")
        # no close(): the socket is disconnected under the session

    listener.serve(handle)
    sock = listener.connect()
    tls, ctx_cls, _ = component("pyopenssl")
    session = tls(ctx_cls(ctx_cls.CLIENT))
    session.connect(sock)
    assert session.recv(100) == b"partial"
    assert session.recv(1) == b""
    assert session.getStatus() == session.FAIL
    assert "unexpected eof while reading" in session.getFailureReason()
    sock.disconnect()
    assert listener.join().get("error") is None


def test_alert_after_handshake_is_a_failure_not_a_truncation(server_cert: trustme.LeafCert, ca: trustme.CA) -> None:
    """A TLS 1.3 server that wants a client certificate says so after the
    client's handshake: the client's read fails with OpenSSL's reason."""
    ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_cert.configure_cert(ssl_ctx)
    ca.configure_trust(ssl_ctx)
    ssl_ctx.verify_mode = ssl.CERT_REQUIRED
    raw = socket.socket()
    raw.bind(("127.0.0.1", 0))
    raw.listen(1)
    errors: list[BaseException] = []

    def serve() -> None:
        conn, _ = raw.accept()
        try:
            ssl_ctx.wrap_socket(conn, server_side=True)
        except ssl.SSLError as exc:
            errors.append(exc)
        finally:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    tls, ctx_cls, _ = component("pyopenssl")
    sock = TCPSocket()
    sock.connect("127.0.0.1", raw.getsockname()[1])
    sock.setTimeout(10)
    session = tls(ctx_cls(ctx_cls.CLIENT))
    assert session.connect(sock) == session.OK
    assert session.recv(1) == b""
    assert session.getStatus() == session.FAIL
    assert "certificate required" in session.getFailureReason()
    sock.disconnect()
    thread.join(10)
    raw.close()
    assert errors  # the server refused us for want of a certificate


def test_handshake_failure_carries_openssl_alert(listener: Listener, server_cert: trustme.LeafCert) -> None:
    """A client that does not trust us sends "unknown ca"; accept() says so."""
    sctx = server_context("pyopenssl", server_cert)
    tls, _, _ = component("pyopenssl")

    def handle(sock: Any) -> str:
        with pytest.raises(TLSHandshakeError) as info:
            tls(sctx).accept(sock)
        assert isinstance(info.value.__cause__, SSL.Error)
        return str(info.value)

    listener.serve(handle)
    client = ssl.create_default_context(cadata=trustme.CA().cert_pem.bytes().decode())
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            client.wrap_socket(raw, server_hostname="localhost")
    result = listener.join()
    assert result.get("error") is None
    assert "tlsv1 alert unknown ca" in result["value"]


def test_peer_that_is_not_tls(listener: Listener, server_cert: trustme.LeafCert) -> None:
    tls, ctx_cls, _ = component("pyopenssl")
    sctx = server_context("pyopenssl", server_cert)

    def handle(sock: Any) -> str:
        with pytest.raises(TLSHandshakeError) as info:
            tls(sctx).accept(sock)
        return str(info.value)

    listener.serve(handle)
    sock = listener.connect()
    sock.send(b"GET / HTTP/1.0\r\n\r\n")
    result = listener.join()
    sock.disconnect()
    assert result.get("error") is None
    assert "http request" in result["value"]


def test_server_that_is_not_tls(listener: Listener) -> None:
    def handle(sock: Any) -> None:
        sock.recv(5)
        sock.send(b"HTTP/1.0 400 Bad Request\r\n\r\n")

    listener.serve(handle)
    tls, ctx_cls, _ = component("pyopenssl")
    sock = listener.connect()
    with pytest.raises(TLSHandshakeError, match="wrong version number"):
        tls(ctx_cls(ctx_cls.CLIENT)).connect(sock)
    sock.disconnect()
    assert listener.join().get("error") is None


# -- non-blocking loopback with a TCPMonitor ------------------------------------------


def drive(monitor: Any, step: Callable[[Any], bool], deadline: float = 15.0) -> None:
    """Call ``step(event)`` for every monitor event until it returns True."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        for event in monitor.wait(100):
            if step(event):
                return
    raise AssertionError("the event loop did not finish in time")


PAYLOAD = bytes(range(251)) * 8000  # ~2 MB


def shrink_send_buffer(sock: Any) -> None:
    """A small kernel send buffer, so the session's send queue is used."""
    raw = socket.socket(fileno=os.dup(sock.fileno()))
    try:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    finally:
        raw.close()


def test_nonblocking_server(listener: Listener, server_cert: trustme.LeafCert) -> None:
    """A pyopenssl server on a monitor echoes a stdlib blocking client."""
    stdlib_tls, stdlib_ctx, _ = component("stdlib")
    tls, _, _ = component("pyopenssl")
    sctx = server_context("pyopenssl", server_cert)
    client_result: dict[str, Any] = {}

    def client() -> None:
        sock = TCPSocket()
        try:
            sock.connect("127.0.0.1", listener.port)
            sock.setTimeout(10)
            session = stdlib_tls(stdlib_ctx(stdlib_ctx.CLIENT))
            session.connect(sock)
            session.send(PAYLOAD)
            client_result["echo"] = session.recv(len(PAYLOAD))
            session.close()
        except BaseException as exc:
            client_result["error"] = exc
        finally:
            sock.disconnect()

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    monitor = TCPMonitor()
    server = listener.server
    server.setNonBlocking()
    monitor.addSocket(server)
    state: dict[str, Any] = {"session": None, "sock": None, "open": False, "echoed": 0, "sent": 0}
    waits: list[Any] = []

    def on_send_wait(data: Any) -> None:
        monitor.armSendNotify(data.source.getSocket())
        waits.append(data)

    def step(event: Any) -> bool:
        if event.socket is server:
            sock = TCPSocket()
            if not sock.accept(server):
                return False
            sock.setNonBlocking()
            shrink_send_buffer(sock)
            session = tls(sctx)
            session.sendWait.subscribe(on_send_wait)
            state.update(session=session, sock=sock)
            monitor.addSocket(sock)
            status = session.accept(sock)
            state["open"] = status == session.OK
            return False
        session = state["session"]
        if not state["open"]:
            status = session.accept(state["sock"])
            assert status != session.FAIL, session.getFailureReason()
            state["open"] = status == session.OK
            if not state["open"]:
                return False
        if event.sendReady:
            state["sent"] += session.sendBuffer()
        while True:
            data = session.recv(65536)
            if not data:
                break
            state["echoed"] += len(data)
            state["sent"] += session.send(data)
        if state["echoed"] == len(PAYLOAD) and session.getBufferUnsent() == 0:
            return True
        assert session.getStatus() != session.FAIL, session.getFailureReason()
        return False

    drive(monitor, step)
    session = state["session"]
    assert session.getProtocolVersion() == "TLSv1.3"
    assert state["sent"] == len(PAYLOAD)
    assert waits, "the send queue was never used"
    # let the client finish reading, then close ours
    thread.join(10)
    assert client_result.get("error") is None
    assert client_result["echo"] == PAYLOAD
    session.close()
    monitor.remSocket(state["sock"])
    state["sock"].disconnect()


def test_nonblocking_client(listener: Listener, server_cert: trustme.LeafCert) -> None:
    """A non-blocking pyopenssl client on a monitor against a stdlib server."""
    stdlib_tls, _, _ = component("stdlib")
    sctx = server_context("stdlib", server_cert)

    def handle(sock: Any) -> int:
        session = stdlib_tls(sctx)
        session.accept(sock)
        time.sleep(0.2)  # let the client's send queue fill
        data = session.recv(len(PAYLOAD))
        session.send(data[::-1])
        session.close()
        return len(data)

    listener.serve(handle)
    tls, ctx_cls, _ = component("pyopenssl")
    sock = listener.connect()
    shrink_send_buffer(sock)
    session = tls(ctx_cls(ctx_cls.CLIENT))
    monitor = TCPMonitor()
    session.setNonBlocking()
    waits: list[Any] = []

    def on_send_wait(data: Any) -> None:
        monitor.armSendNotify(sock)
        waits.append(data)

    session.sendWait.subscribe(on_send_wait)
    monitor.addSocket(sock)
    received = bytearray()
    state = {"open": session.connect(sock) == session.OK, "sent": 0, "started": False}

    def step(event: Any) -> bool:
        if not state["open"]:
            status = session.connect(sock)
            assert status != session.FAIL, session.getFailureReason()
            state["open"] = status == session.OK
        if state["open"] and not state["started"]:
            state["started"] = True
            state["sent"] += session.send(PAYLOAD)
        elif state["open"] and event.sendReady:
            state["sent"] += session.sendBuffer()
        while state["open"]:
            data = session.recv(65536)
            if not data:
                break
            received.extend(data)
        return len(received) == len(PAYLOAD) and session.getStatus() == session.FAIL

    if state["open"]:  # unlikely: the handshake needs the server's flight
        state["started"] = True
        state["sent"] += session.send(PAYLOAD)
    monitor.armSendNotify(sock)
    drive(monitor, step)
    assert waits, "the send queue was never used"
    assert bytes(received) == PAYLOAD[::-1]
    assert state["sent"] + session.getBufferUnsent() == len(PAYLOAD)
    assert "close_notify" in session.getFailureReason()
    monitor.remSocket(sock)
    sock.disconnect()
    result = listener.join()
    assert result.get("error") is None
    assert result["value"] == len(PAYLOAD)


# -- the engine -------------------------------------------------------------------------


@pytest.fixture(params=["PyOpenSSLEngine", "DirectEngine"])
def engine_cls(request: pytest.FixtureRequest) -> type[pyopenssl.PyOpenSSLEngine]:
    """Both engines: the one on pyOpenSSL's public API, and the one whose data
    path calls pyOpenSSL's binding directly (what sessions use when they can)."""
    if request.param == "DirectEngine" and not pyopenssl.DIRECT_DATA_PATH:
        pytest.skip("this pyOpenSSL's binding lacks what DirectEngine calls")
    return getattr(pyopenssl, request.param)  # type: ignore[no-any-return]


def test_sessions_use_the_direct_engine_when_they_can() -> None:
    assert pyopenssl.ENGINE is (pyopenssl.DirectEngine if pyopenssl.DIRECT_DATA_PATH else pyopenssl.PyOpenSSLEngine)


def pump(client: pyopenssl.PyOpenSSLEngine, server: pyopenssl.PyOpenSSLEngine) -> None:
    """Run both handshakes to completion in memory."""
    done = [False, False]
    for _ in range(10):
        done[0] = client.handshake()
        server.feed(client.output())
        done[1] = server.handshake()
        client.feed(server.output())
        if all(done):
            return
    raise AssertionError("handshake did not complete")


def engine_pair(
    server_cert: trustme.LeafCert, engine_cls: type[pyopenssl.PyOpenSSLEngine] = pyopenssl.PyOpenSSLEngine
) -> tuple[pyopenssl.PyOpenSSLEngine, pyopenssl.PyOpenSSLEngine]:
    server = engine_cls(pyopenssl.native_context(native_config(server_cert, True)), True)
    client = engine_cls(pyopenssl.native_context(native_config(None, False)), False)
    pump(client, server)
    return client, server


def test_server_side_peer_chain_is_normalised(intermediate: trustme.CA, server_cert: trustme.LeafCert) -> None:
    """OpenSSL leaves the client's leaf out of the server's chain; the engine puts it back."""
    client_cert = intermediate.issue_cert("client@example.org")
    client_pems = pems(client_cert)
    server_ctx = SSL.Context(SSL.TLS_METHOD)
    server_ctx.use_certificate(parse_certificate(pems(server_cert)[0]))
    server_ctx.use_privatekey(parse_private_key(server_cert.private_key_pem.bytes()))  # type: ignore[arg-type]
    server_ctx.set_verify(SSL.VERIFY_PEER, lambda *args: True)  # ask for a certificate, accept any
    client_ctx = SSL.Context(SSL.TLS_METHOD)
    client_ctx.use_certificate(parse_certificate(client_pems[0]))
    client_ctx.use_privatekey(parse_private_key(client_cert.private_key_pem.bytes()))  # type: ignore[arg-type]
    client_ctx.add_extra_chain_cert(parse_certificate(client_pems[1]))
    server = pyopenssl.PyOpenSSLEngine(server_ctx, True)
    client = pyopenssl.PyOpenSSLEngine(client_ctx, False)
    pump(client, server)
    raw = server._conn.get_peer_cert_chain()
    assert raw is not None and len(raw) == 1  # what OpenSSL gives: the intermediate only
    assert server.peer_chain() == [der(p) for p in client_pems]
    assert client.peer_chain() == [der(p) for p in pems(server_cert)[:1]]


def test_client_side_peer_chain_as_sent(server_cert: trustme.LeafCert) -> None:
    client, server = engine_pair(server_cert)
    assert client.peer_chain() == [der(p) for p in pems(server_cert)]
    assert server.peer_chain() == []
    assert client.version() == server.version() == "TLSv1.3"
    assert client.cipher() == server.cipher()


def test_engine_truncation_after_feed_eof(server_cert: trustme.LeafCert, engine_cls: type[pyopenssl.PyOpenSSLEngine]) -> None:
    client, server = engine_pair(server_cert, engine_cls)
    client.read(1)  # take the session tickets
    server.write(memoryview(b"hello"))
    server.write(memoryview(b"world"))
    ciphertext = server.output()
    client.feed(ciphertext[:-3])  # the second record cut short
    client.feed_eof()
    assert client.read(100) == b"hello"
    for _ in range(2):  # OpenSSL reports a failed connection with an empty queue: still EOF
        with pytest.raises(EngineEOF, match="unexpected eof while reading"):
            client.read(100)
        with pytest.raises(EngineEOF, match="unexpected eof while reading"):
            client.read_into(memoryview(bytearray(10)))


def test_engine_clean_close(server_cert: trustme.LeafCert, engine_cls: type[pyopenssl.PyOpenSSLEngine]) -> None:
    client, server = engine_pair(server_cert, engine_cls)
    server.write(memoryview(b"last"))
    server.shutdown()
    client.feed(server.output())
    client.feed_eof()  # close_notify came first: the end of stream is not a truncation
    assert client.read(100) == b"last"
    assert client.read(100) == b""
    assert client.read(100) == b""
    assert client.read_into(memoryview(bytearray(10))) == 0
    client.shutdown()  # the peer closed first: ours still goes out
    assert client.output()


def test_engine_needs_input(server_cert: trustme.LeafCert, engine_cls: type[pyopenssl.PyOpenSSLEngine]) -> None:
    client, server = engine_pair(server_cert, engine_cls)
    while client.read(100) is not None:  # session tickets are not data
        pass
    assert client.read_into(memoryview(bytearray(10))) is None
    assert client.output() == b""
    client.feed(b"")  # nothing to feed is not an error


def test_engine_read_into_fills_the_view_in_place(server_cert: trustme.LeafCert, engine_cls: type[pyopenssl.PyOpenSSLEngine]) -> None:
    client, server = engine_pair(server_cert, engine_cls)
    data = bytes(range(256)) * 160  # 40960 bytes: three records
    server.write(memoryview(data))
    client.feed(server.output())
    buf = bytearray(b"\xee" * 70000)
    view = memoryview(buf)
    got = 7
    while got < 7 + len(data):
        count = client.read_into(view[got:])
        assert count and count <= pyopenssl.READ_LIMIT
        got += count
    assert buf[:7] == b"\xee" * 7
    assert buf[7 : 7 + len(data)] == data
    assert buf[7 + len(data) :] == b"\xee" * (70000 - 7 - len(data))
    server.write(memoryview(b"abcdef"))
    client.feed(server.output())
    small = bytearray(4)
    assert client.read_into(memoryview(small)) == 4 and small == b"abcd"
    assert client.read(100) == b"ef"


def test_engine_bad_record_after_handshake(server_cert: trustme.LeafCert, engine_cls: type[pyopenssl.PyOpenSSLEngine]) -> None:
    """A forged application-data record fails the read with OpenSSL's reason, every time."""
    client, server = engine_pair(server_cert, engine_cls)
    server.write(memoryview(b"good"))
    client.feed(server.output() + b"\x17\x03\x03\x00\x20" + bytes(range(32)))
    assert client.read(100) == b"good"
    for _ in range(2):
        with pytest.raises(EngineError, match="decrypt|bad record mac") as info:
            client.read(100)
        assert not isinstance(info.value, EngineEOF)
        assert isinstance(info.value.__cause__, SSL.Error)
    with pytest.raises(EngineError, match="decrypt|bad record mac"):
        client.write(memoryview(b"after the failure"))


def test_engine_error_reasons(server_cert: trustme.LeafCert, engine_cls: type[pyopenssl.PyOpenSSLEngine]) -> None:
    server = engine_cls(pyopenssl.native_context(native_config(server_cert, True)), True)
    server.feed(b"\x16\x03\x01\x00\x05hello")
    with pytest.raises(EngineError) as info:
        server.handshake()
    assert not isinstance(info.value, EngineEOF)
    assert "SSL routines" in str(info.value)
    assert isinstance(info.value.__cause__, SSL.Error)
    # and again, from OpenSSL's empty queue: the same reason
    with pytest.raises(EngineError, match=re.escape(str(info.value))):
        server.read(10)

    client = engine_cls(pyopenssl.native_context(native_config(None, False)), False)
    client.handshake()
    client.feed(b"\x16\x03")
    client.feed_eof()
    with pytest.raises(EngineError, match="closed the connection during the handshake") as info:
        client.handshake()
    assert not isinstance(info.value, EngineEOF)
    assert isinstance(info.value.__cause__, SSL.SysCallError)


# -- the native context ---------------------------------------------------------------------


def test_native_context_is_cached_and_secure(server_cert: trustme.LeafCert) -> None:
    config = native_config(server_cert, True)
    ctx = pyopenssl.native_context(config)
    assert pyopenssl.native_context(native_config(server_cert, True)) is ctx
    assert ctx.get_verify_mode() == SSL.VERIFY_NONE
    options = SSL.Connection(ctx, None).set_options(0)  # adds nothing, returns the mask
    for flag in (SSL.OP_NO_COMPRESSION, pyopenssl.OP_NO_RENEGOTIATION, SSL.OP_CIPHER_SERVER_PREFERENCE):
        assert options & flag
    assert not options & SSL.OP_NO_TICKET  # session tickets on, as Python's ssl


def test_default_ciphers_are_pythons() -> None:
    expected = getattr(ssl, "_DEFAULT_CIPHERS", None)
    if expected is None:
        pytest.skip("this Python does not expose its default cipher string")
    assert pyopenssl.CIPHERS_DEFAULT == expected


def cipher_names(cipher_set: int) -> list[str]:
    ctx = pyopenssl.native_context(native_config(None, False, cipher_set))
    return SSL.Connection(ctx, None).get_cipher_list()


def test_cipher_all_excludes_unauthenticated_and_null() -> None:
    default = cipher_names(1)
    every = cipher_names(2)
    assert set(default) < set(every)
    for name in every:
        assert "NULL" not in name  # eNULL
        assert not name.startswith(("ADH-", "AECDH-"))  # aNULL
        assert "PSK" not in name and "SRP" not in name
    tls13 = [n for n in default if n.startswith("TLS_")]
    assert tls13 and tls13 == [n for n in every if n.startswith("TLS_")]  # TLS 1.3 suites unchanged
    assert "ECDHE-RSA-AES128-SHA" in every and "ECDHE-RSA-AES128-SHA" not in default


def test_openssl_refusal_of_a_weak_key_is_a_certificate_error(ca: trustme.CA) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "weak")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    _, ctx_cls, _ = component("pyopenssl")
    ctx = ctx_cls(ctx_cls.SERVER)
    with pytest.raises(nettls.CertificateError, match="refused by OpenSSL: .*too small"):
        ctx.setCertificate(cert.public_bytes(Encoding.PEM), key_pem(key))


OPENSSL = shutil.which("openssl")


def s_client(port: int, *args: str) -> subprocess.CompletedProcess[bytes]:
    assert OPENSSL is not None
    return subprocess.run(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=10,
    )


@pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command")
@pytest.mark.parametrize(("version", "accepted"), [("-tls1_1", False), ("-tls1_2", True)])
def test_protocol_floor_with_openssl_s_client(listener: Listener, server_cert: trustme.LeafCert, version: str, accepted: bool) -> None:
    """TLS 1.1 is refused even from a client at security level 0; TLS 1.2 (the control) works."""
    tls, _, _ = component("pyopenssl")
    sctx = server_context("pyopenssl", server_cert)

    def handle(sock: Any) -> str:
        session = tls(sctx)
        try:
            session.accept(sock)
        except TLSHandshakeError as exc:
            return str(exc)
        return session.getProtocolVersion()

    listener.serve(handle)
    s_client(listener.port, version, "-cipher", "DEFAULT@SECLEVEL=0")
    result = listener.join()
    assert result.get("error") is None
    if accepted:
        assert result["value"] == "TLSv1.2"
    else:
        assert "unsupported protocol" in result["value"]


# -- verification ------------------------------------------------------------------------------


def verify(store_pems: list[str], cert: Any, chain: Any = None) -> VerifyStatus:
    tls, ctx_cls, store_cls = component("pyopenssl")
    store = store_cls()
    for pem in store_pems:
        store.addCertificate(pem)
    return tls(ctx_cls(ctx_cls.CLIENT)).verifyCertificate(store, cert, chain)


def test_verify_ok_with_leaf_and_root_in_chain(ca: trustme.CA, server_cert: trustme.LeafCert) -> None:
    root = ca.cert_pem.bytes().decode()
    chain = pems(server_cert)
    assert verify([root], chain[0], chain + [root]).status == VerifyStatus.OK
    assert verify([root], chain[0].encode(), [p.encode() for p in chain[1:]]).status == VerifyStatus.OK


def test_verify_expired_leaf(ca: trustme.CA) -> None:
    old = ca.issue_cert("old.example", not_before=datetime.datetime(2000, 1, 1), not_after=datetime.datetime(2001, 1, 1))
    leaf = pems(old)[0]
    result = verify([ca.cert_pem.bytes().decode()], leaf)
    assert result.status == VerifyStatus.FAIL
    assert str(result.failedReason).startswith("certificate has expired")
    assert result.failedCertificate == leaf


def test_verify_unknown_issuer_names_the_certificate_without_one(ca: trustme.CA, server_cert: trustme.LeafCert) -> None:
    chain = pems(server_cert)
    result = verify([ca.cert_pem.bytes().decode()], chain[0])  # the intermediate is missing
    assert result.status == VerifyStatus.FAIL
    assert str(result.failedReason).startswith("unable to get local issuer certificate")
    assert result.failedCertificate == chain[0]
    result = verify([trustme.CA().cert_pem.bytes().decode()], chain[0], chain[1:])
    assert str(result.failedReason).startswith("unable to get local issuer certificate")
    assert result.failedCertificate == chain[1]


def test_verify_untrusted_self_signed(ca: trustme.CA) -> None:
    root = ca.cert_pem.bytes().decode()
    result = verify([trustme.CA().cert_pem.bytes().decode()], root)
    assert result.status == VerifyStatus.FAIL
    # The strict profile (SPEC 6) names it for what it is before asking who signed it.
    assert "CA certificate used as an end entity" in str(result.failedReason)
    assert result.failedCertificate == root


def test_verify_is_purpose_free(ca: trustme.CA) -> None:
    """No serverAuth EKU and no SAN are asked of the leaf (the purpose-free
    profile); the profile asks an end entity for an AKI, which it has."""
    issuer_key = parse_private_key(ca.private_key_pem.bytes())
    issuer = parse_certificate(ca.cert_pem.bytes())
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "bare")]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key()), critical=False)  # type: ignore[arg-type]
        .sign(issuer_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    result = verify([ca.cert_pem.bytes().decode()], cert.public_bytes(Encoding.PEM))
    assert result.status == VerifyStatus.OK, result.failedReason


@pytest.mark.parametrize(
    ("cert", "chain"),
    [("garbage", None), (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", None), (None, None), ("leaf", ["garbage"])],
)
def test_verify_garbage_fails_without_raising(ca: trustme.CA, server_cert: trustme.LeafCert, cert: Any, chain: Any) -> None:
    if cert == "leaf":
        cert = pems(server_cert)[0]
    result = verify([ca.cert_pem.bytes().decode()], cert, chain)
    assert result.status == VerifyStatus.FAIL
    assert result.failedReason


def test_trust_store_is_cached(ca: trustme.CA) -> None:
    roots = (ca.cert_pem.bytes().decode(),)
    assert pyopenssl.trust_store(roots) is pyopenssl.trust_store(tuple(roots))


# -- verification from PEM: nettls's one parse, DER to OpenSSL ------------------------------
# (the PEM fast path that handed OpenSSL the caller's text is gone: issue 19,
# finding 2; the crafted-PEM differential is tests/test_verify_differential.py)
