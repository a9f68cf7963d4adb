"""Helpers shared by the robustness tests: ``test_hostile_peers``,
``test_bad_input``, ``test_resources``, ``test_threads`` and
``test_secure_defaults`` (see ``docs/security.md`` for what they prove).

Everything here is a peer or a measuring tool, never a component: nettls
classes come from ``nettls.resolve`` only, and every hostile peer is built
from Python's ``ssl`` (an ``SSLObject`` over memory buffers, so the test
decides which bytes go on the wire and when) or from raw sockets. Traffic
goes to 127.0.0.1 only; every wait is bounded.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from zope.interface import implementer

import nettls
from nettls.conformance.rawpeer import memory_handshake
from nettls.conformance._openssl import OpenSSL
from nettls.interfaces import ITCPSocket
from nettls.server import Server

#: Every available TLS component: each robustness test runs on all of them.
COMPONENTS = tuple(nettls.registry.providers("net.TLS"))
LOOPBACK = "127.0.0.1"
#: The bound of any single wait in these tests (a hang fails, it does not stall the suite).
WAIT = 15.0
#: SO_LINGER on, zero seconds: close() sends a reset instead of a FIN.
LINGER_RESET = struct.pack("ii", 1, 0)
#: The largest record body TLS allows (RFC 8446 section 5.2: 2^14 + 256 for
#: TLS 1.3; RFC 5246 section 6.2.3: 2^14 + 2048 for TLS 1.2); one more is too long.
MAX_RECORD_BODY = 2**14 + 2048


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT, interval: float = 0.005) -> None:
    """Poll ``condition`` until it holds; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout} s for {what}")
        time.sleep(interval)


# -- the server under test --------------------------------------------------------------


#: The throwaway root of each server ``serve_thread`` started, by port: what a
#: client whose component verifies the chain in the handshake must trust.
SERVER_ROOTS: dict[int, str] = {}


@contextmanager
def serve_thread(component: str | None = None, **options: Any) -> Iterator[Server]:
    """A ``nettls.server.Server`` on a free loopback port, serving in a thread
    of this process; stopped (and its thread joined) on exit. An exception
    that escapes the server loop fails the test."""
    server = Server(LOOPBACK, 0, component=component, **options)
    server.start()
    if server.ca_certificate is not None:
        SERVER_ROOTS[port_of(server)] = server.ca_certificate
    errors: list[BaseException] = []

    def run() -> None:
        try:
            server.serve()
        except BaseException as exc:  # handed to the test below, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=run, name="nettls-serve", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop()
        thread.join(WAIT)
        assert not thread.is_alive(), "the server thread did not stop"
        assert not errors, f"the server loop raised: {errors!r}"


def port_of(server: Server) -> int:
    endpoint = server.endpoint
    assert endpoint is not None
    return endpoint.port


def connection_lines(records: list[Any]) -> list[str]:
    """The server's one-line-per-connection log messages among ``records``."""
    return [r.getMessage() for r in records if r.name == "nettls.serve" and " in=" in r.getMessage()]


# -- well-behaved nettls clients -----------------------------------------------------------


def client_context(port: int, component: str | None = None) -> Any:
    """A CLIENT context of ``component`` for the test server on ``port``: as
    Dana makes it, except that a client which verifies the chain in the
    handshake (SPEC 6; the rustls plugin) trusts that server's root."""
    TLSContext: Any = nettls.resolve("net.TLSContext", component=component)
    ctx = TLSContext(TLSContext.CLIENT)
    name = component or nettls.registry.linked("net.TLS")
    root = SERVER_ROOTS.get(port)
    if name and root and nettls.registry.component(name).client_verifies_chain:
        store = nettls.resolve("net.TLSCertStore", component=component)()
        store.addCertificate(root)
        ctx.setVerifyOnConnect(store, checkHostName=False)
    return ctx


def nettls_client(port: int, component: str | None = None, *, timeout: float = WAIT) -> Any:
    """A blocking nettls session to 127.0.0.1:``port``, handshake done."""
    TLS: Any = nettls.resolve("net.TLS", component=component)
    TCPSocket: Any = nettls.resolve("net.TCPSocket")
    sock = TCPSocket()
    sock.setTimeout(timeout)
    sock.connect(LOOPBACK, port)
    session = TLS(client_context(port, component))
    try:
        assert session.connect(sock) == session.OK
    except BaseException:
        sock.disconnect()
        raise
    return session


def echo_once(port: int, component: str | None = None, message: bytes = b"still served") -> None:
    """A whole well-behaved echo exchange: connect, send, read it back, close."""
    session = nettls_client(port, component)
    try:
        assert session.send(message) == len(message)
        got = session.recv(len(message))
        assert got == message, f"echo returned {got!r}"
        assert session.close() == session.OK
    finally:
        session.getSocket().disconnect()


# -- hostile peers made of Python's ssl and raw sockets ---------------------------------------


def client_hello(*, maximum_version: ssl.TLSVersion | None = None) -> bytes:
    """A real ClientHello: the first flight of a Python ``ssl`` client."""
    ctx = ssl._create_unverified_context()
    if maximum_version is not None:
        ctx.maximum_version = maximum_version
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    assert hello[:1] == b"\x16" and hello[5:6] == b"\x01", "not a ClientHello record"
    return hello


class RawTLSClient:
    """A TLS client whose wire bytes the test controls: Python's
    ``ssl.SSLObject`` over memory buffers, on a plain socket.

    ``handshake()`` completes it; ``record(data)`` returns the ciphertext of
    one application record without sending it, so a test can send half of
    it, garbage after it, or nothing at all.
    """

    def __init__(self, port: int, *, maximum_version: ssl.TLSVersion | None = None, timeout: float = WAIT) -> None:
        ctx = ssl._create_unverified_context()
        if maximum_version is not None:
            ctx.maximum_version = maximum_version
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        self.sock = socket.create_connection((LOOPBACK, port), timeout=timeout)

    def handshake(self) -> None:
        memory_handshake(self.obj, self.incoming, self.outgoing, self.sock)

    def record(self, data: bytes) -> bytes:
        """The ciphertext of ``data`` (one record up to 16 KiB), not sent."""
        self.obj.write(data)
        return self.outgoing.read()

    def read_plaintext(self, limit: int = 1 << 20) -> bytes:
        """Plaintext until the server ends the stream (or a failure)."""
        out = bytearray()
        while len(out) < limit:
            try:
                chunk = self.obj.read(65536)
                if not chunk:
                    break
                out += chunk
                continue
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:
                break
            try:
                data = self.sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            self.incoming.write(data)
        return bytes(out)

    def close(self) -> None:
        self.sock.close()


def reset_close(sock: socket.socket) -> None:
    """Close ``sock`` with a TCP reset instead of a FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
    except OSError:
        pass
    sock.close()


def read_to_close(sock: socket.socket, *, timeout: float = WAIT, limit: int = 1 << 22) -> tuple[bytes, str]:
    """Read until the peer closes: ``(bytes, how)``, ``how`` one of "eof"
    (an orderly FIN), "reset" or "timeout"."""
    sock.settimeout(timeout)
    data = bytearray()
    try:
        while len(data) < limit:
            chunk = sock.recv(65536)
            if not chunk:
                return bytes(data), "eof"
            data += chunk
    except ConnectionResetError:
        return bytes(data), "reset"
    except (TimeoutError, socket.timeout):
        return bytes(data), "timeout"
    return bytes(data), "limit"


def records(data: bytes) -> list[tuple[int, bytes]]:
    """The TLS records in ``data`` as ``(content type, body)``; a partial last one is left out."""
    out = []
    pos = 0
    while pos + 5 <= len(data):
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        if pos + 5 + length > len(data):
            break
        out.append((data[pos], data[pos + 5 : pos + 5 + length]))
        pos += 5 + length
    return out


@implementer(ITCPSocket)
class InterfaceOnlySocket:
    """An ``ITCPSocket`` that only delegates and offers no extension (no
    ``fileno()``): what a session sees over a third-party TCP component
    (SPEC 6: a session does its I/O through the socket's interface)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @property
    def sendWait(self) -> Any:
        return self.inner.sendWait

    def send(self, data: Any) -> int:
        return int(self.inner.send(data))

    def recv(self, n: int) -> bytes:
        return bytes(self.inner.recv(n))

    def connect(self, address: str, port: int) -> bool:
        return bool(self.inner.connect(address, port))

    def accept(self, server: Any) -> bool:
        return bool(self.inner.accept(server))

    def disconnect(self) -> None:
        self.inner.disconnect()

    def getRemoteEndpoint(self) -> Any:
        return self.inner.getRemoteEndpoint()

    def getLocalEndpoint(self) -> Any:
        return self.inner.getLocalEndpoint()

    def setNonBlocking(self, sendWaitData: Any = None) -> bool:
        return bool(self.inner.setNonBlocking(sendWaitData))

    def sendBuffer(self) -> int:
        return int(self.inner.sendBuffer())

    def getBufferUnsent(self) -> int:
        return int(self.inner.getBufferUnsent())

    def connected(self) -> bool:
        return bool(self.inner.connected())


# -- measuring the process ------------------------------------------------------------------


def open_fds() -> int:
    """How many file descriptors this process has open (Linux: /proc/self/fd)."""
    return len(os.listdir("/proc/self/fd"))


def open_sockets() -> int:
    """How many of them are sockets."""
    count = 0
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                count += 1
        except OSError:  # closed meanwhile (the listing's own descriptor)
            continue
    return count


def rss_bytes() -> int:
    """This process's resident set size (Linux: /proc/self/statm)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# -- the openssl command line as a reference peer ----------------------------------------------------


class OpenSSLProcess(OpenSSL):
    """One interactive ``openssl`` process (s_client, s_server): the
    conformance suite's, with this file's longer default waits."""

    def wait_for(self, pattern: str, timeout: float = WAIT) -> Any:
        return super().wait_for(pattern, timeout)

    def wait(self, timeout: float = WAIT) -> int:
        return super().wait(timeout)
