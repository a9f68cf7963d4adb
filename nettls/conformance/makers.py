"""Connection makers: real loopback TCP pairs, TLS sessions over them, and
the drivers that move data in blocking and non-blocking mode.

Everything here reaches components through the registry
(``nettls.resolve(name, component=...)``) and the spec and extension
interfaces, never by importing a component, so it works unchanged for a
third party's component.

Theory of operation
-------------------
Blocking mode runs the two ends of a connection in two threads (the server
side in a ``Background`` thread), every socket with a timeout (``ITimeout``,
where the TCP component provides it) so that a broken component fails
instead of hanging.

Non-blocking mode runs both ends from one thread with a ``Driver``, the way
the Dana non-blocking server does: a ``TCPMonitor`` watches every socket;
each stream's ``sendWait`` listener arms a send notification; on
send-ready the driver calls ``sendBuffer()``, on recv-ready it calls
``recv()`` until it returns ``b""`` and then asks ``getStatus()`` (a TLS
session) or ``connected()`` (a TCP socket) whether the stream ended. Every
``send()`` and ``sendBuffer()`` goes through a ``SendLedger`` that checks
SPEC section 7 after the call: the count, the invariant
``sum(returns) + getBufferUnsent() == sum(len(data))``, and how many
``sendWait`` events the call fired, with what data. Every wait is bounded
in iterations and seconds; a stall raises AssertionError describing each
end.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import socket as _socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest

import nettls
from nettls.pki import Issued, issue
from nettls.interfaces import (
    IServerSocketOptions,
    ITimeout,
    ITLS,
    IVerifyOnConnect,
    TLSConstants,
)

from .pki import PKI, Credential, Identity, make_pki

__all__ = [
    "DEFAULT_TIMEOUT",
    "LOOPBACK",
    "status_name",
    "BLOCKING",
    "NONBLOCKING",
    "MODES",
    "TCPKit",
    "TLSKit",
    "Background",
    "tcp_pair",
    "set_timeout",
    "handshake",
    "recv_exactly",
    "read_to_end",
    "flush_socket",
    "SendLedger",
    "Endpoint",
    "Driver",
    "TLSPair",
    "Harness",
    "named_identity",
]

#: Seconds any single wait of the suite may take before it counts as a hang.
DEFAULT_TIMEOUT = 10.0
#: Where every connection of the suite goes: the suite makes no other traffic.
LOOPBACK = "127.0.0.1"
BLOCKING = "blocking"
NONBLOCKING = "nonblocking"
MODES = (BLOCKING, NONBLOCKING)

OK, FAIL, WAIT_READ, WAIT_WRITE = TLSConstants.OK, TLSConstants.FAIL, TLSConstants.WAIT_READ, TLSConstants.WAIT_WRITE
_STATUS_NAMES = {OK: "OK", FAIL: "FAIL", WAIT_READ: "WAIT_READ", WAIT_WRITE: "WAIT_WRITE"}
_UNSET: Any = object()
# A recv() loop that never returns b"" is a bug; this many reads prove it.
_MAX_READS_PER_DRAIN = 100_000
# Iterations of a driver loop before it counts as a busy loop.
_MAX_STEPS = 200_000


def status_name(value: object) -> str:
    """``TLS`` status value as its name, for messages."""
    return _STATUS_NAMES.get(value, repr(value))  # type: ignore[call-overload]


def _provides(component: str | None, interface: str) -> bool:
    return component is None or component in nettls.registry.providers(interface)


@dataclass(frozen=True)
class TCPKit:
    """The TCP classes of one component, resolved through the registry.

    ``TCPKit.of(None)`` takes the linked ``net.TCPSocket`` component's.
    """

    name: str | None
    TCPSocket: Any
    TCPServerSocket: Any
    TCPMonitor: Any

    @classmethod
    def of(cls, component: str | None = None) -> "TCPKit":
        return cls(
            component,
            nettls.resolve("net.TCPSocket", component=component),
            nettls.resolve("net.TCPServerSocket", component=component),
            nettls.resolve("net.TCPMonitor", component=component),
        )


@dataclass(frozen=True)
class TLSKit:
    """The TLS classes of one component, resolved through the registry.

    ``TLSKit.of("stdlib")`` takes ``net.TLS``, ``net.TLSContext`` and
    ``net.TLSCertStore`` from that component, or, for an interface it does
    not provide, from the linked component. ``TLSKit.of(None)`` takes the
    linked ones.
    """

    name: str | None
    TLS: Any
    TLSContext: Any
    TLSCertStore: Any

    @classmethod
    def of(cls, component: str | None = None) -> "TLSKit":
        def pick(interface: str) -> Any:
            own = component if _provides(component, interface) else None
            return nettls.resolve(interface, component=own)

        return cls(component, pick("net.TLS"), pick("net.TLSContext"), pick("net.TLSCertStore"))

    def client_context(
        self, *, cipher_set: int | None = None, identity: Identity | None = None, session_kit: "TLSKit | None" = None
    ) -> Any:
        """A CLIENT context; with ``identity``, presenting its leaf and
        intermediates as a client certificate (for mutual TLS). Where the
        sessions it is for (``session_kit``'s, default this kit's) verify
        the chain in the handshake, it trusts the suite's roots."""
        ctx = self.TLSContext(self.TLSContext.CLIENT)
        if (session_kit or self).client_verifies_chain:
            self.trust_suite_roots(ctx)
        if cipher_set is not None:
            ctx.setCipherSet(cipher_set)
        if identity is not None:
            ctx.setCertificate(identity.cert_pem, identity.key_pem())
            if identity.intermediates:
                ctx.setCertificateChain(identity.chain_pems)
        return ctx

    def server_context(
        self,
        identity: Identity,
        *,
        key_form: str = "pkcs8",
        send_chain: bool = True,
        cipher_set: int | None = None,
    ) -> Any:
        """A SERVER context presenting ``identity``: its leaf and key (in
        ``key_form``, see ``Credential.key_pem``) and, with ``send_chain``,
        its intermediates."""
        ctx = self.TLSContext(self.TLSContext.SERVER)
        ctx.setCertificate(identity.cert_pem, identity.key_pem(key_form))
        if send_chain and identity.intermediates:
            ctx.setCertificateChain(identity.chain_pems)
        if cipher_set is not None:
            ctx.setCipherSet(cipher_set)
        return ctx

    @property
    def client_verifies_chain(self) -> bool:
        """Whether this kit's TLS client verifies the chain in the handshake
        (``Component.client_verifies_chain``, SPEC 6)."""
        name = self.name if _provides(self.name, "net.TLS") else nettls.registry.linked("net.TLS")
        return name is not None and nettls.registry.component(name).client_verifies_chain

    def trust_suite_roots(self, ctx: Any) -> None:
        """Make a CLIENT context (of any component) verify the server's chain
        on connect against the suite's trusted roots, host name unchecked:
        what a client that verifies in the handshake needs to reach the
        suite's servers. Skips the test (n/a) when the context lacks
        ``IVerifyOnConnect``: such a session cannot use that context to reach
        a server whose roots are not the system's."""
        if not IVerifyOnConnect.providedBy(ctx):
            pytest.skip(
                f"{type(ctx).__name__} does not provide IVerifyOnConnect, which a {self.name or 'linked'} client "
                "needs: it verifies the server's chain in the handshake (SPEC 6)"
            )
        pki = make_pki()
        roots = self.store(pki.rsa.root.cert_pem, pki.ec.root.cert_pem)
        ctx.setVerifyOnConnect(roots, checkHostName=False)

    def store(self, *pems: str | bytes) -> Any:
        """A certificate store trusting ``pems`` (each must be accepted)."""
        store = self.TLSCertStore()
        for pem in pems:
            if store.addCertificate(pem) is not True:
                raise AssertionError(f"{self.name}: addCertificate() refused a valid certificate")
        return store


class Background:
    """Runs ``fn(*args)`` in a daemon thread.

    ``join()`` returns its result or raises its exception, and raises
    TimeoutError if it is still running after the timeout (a daemon thread
    left blocked is freed when the test's sockets are disconnected).
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "background") -> None:
        self.name = name
        self._result: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), name=f"nettls-{name}", daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self._result = fn(*args)
        except BaseException as exc:  # handed to join()
            self._error = exc

    def join(self, timeout: float = DEFAULT_TIMEOUT) -> Any:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"{self.name} still running after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._result

    def done(self) -> bool:
        return not self._thread.is_alive()


def set_timeout(sock: Any, seconds: float | None) -> bool:
    """``sock.setTimeout(seconds)`` where the socket provides ``ITimeout``."""
    if ITimeout.providedBy(sock):
        sock.setTimeout(seconds)
        return True
    return False


def _free_port(address: str) -> int:
    with _socket.socket(_socket.AF_INET6 if ":" in address else _socket.AF_INET) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def bind_server(tcp: str | None = None, address: str = LOOPBACK) -> tuple[Any, int]:
    """A server socket listening on ``address`` and a free port: ``(server, port)``.

    Binds port 0 and reads the port back through ``getLocalEndpoint()``
    (``IServerSocketOptions``); for a TCP component without that extension,
    asks the OS for a free port first.
    """
    server = TCPKit.of(tcp).TCPServerSocket()
    reports_port = bool(IServerSocketOptions.providedBy(server))
    port = 0 if reports_port else _free_port(address)
    server.bind(address, port)
    if reports_port:
        port = server.getLocalEndpoint().port
    return server, port


def _quietly(fn: Callable[[], Any]) -> None:
    try:
        fn()
    except Exception:
        pass


@contextlib.contextmanager
def tcp_pair(
    tcp: str | None = None, *, timeout: float | None = DEFAULT_TIMEOUT, address: str = LOOPBACK
) -> Iterator[tuple[Any, Any]]:
    """Yield a connected ``(client, server)`` pair of TCP sockets on loopback.

    Args:
        tcp: the TCP component (None: the one linked to ``net.TCPSocket``).
        timeout: given to both sockets' ``setTimeout()`` where they provide
            ``ITimeout``, so blocking calls fail instead of hanging.
        address: the loopback address to use ("127.0.0.1" or "::1").

    Both sockets are blocking; both are disconnected on exit.
    """
    kit = TCPKit.of(tcp)
    listener, port = bind_server(tcp, address)
    client = kit.TCPSocket()
    server = kit.TCPSocket()
    try:
        set_timeout(client, timeout)
        client.connect(address, port)
        server.accept(listener)
        set_timeout(server, timeout)
    finally:
        listener.unbind()
    try:
        yield client, server
    finally:
        _quietly(client.disconnect)
        _quietly(server.disconnect)


def flush_socket(sock: Any, tcp: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Write a non-blocking TCP socket's queue out: ``sendBuffer()`` on each
    send-ready event until ``getBufferUnsent()`` is 0."""
    monitor = TCPKit.of(tcp).TCPMonitor()
    monitor.addSocket(sock)
    deadline = time.monotonic() + timeout
    try:
        while sock.getBufferUnsent() > 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"{sock.getBufferUnsent()} bytes still queued on the socket after {timeout} s")
            monitor.armSendNotify(sock)
            if any(event.sendReady for event in monitor.wait(50)):
                sock.sendBuffer()
    finally:
        monitor.remSocket(sock)


def recv_exactly(stream: Any, n: int, chunk: int = 65536) -> bytes:
    """Read ``n`` bytes from a blocking stream, checking SPEC 4's exactness:
    each ``recv(k)`` returns ``k`` bytes, fewer only at end of stream.
    Returns fewer than ``n`` bytes only if the stream ended."""
    out = bytearray()
    while len(out) < n:
        want = min(chunk, n - len(out))
        data = stream.recv(want)
        if not isinstance(data, bytes):
            raise AssertionError(f"recv() returned {type(data).__name__}, not bytes")
        if len(data) > want:
            raise AssertionError(f"recv({want}) returned {len(data)} bytes")
        out += data
        if len(data) < want:
            break
    return bytes(out)


def read_to_end(stream: Any, chunk: int = 65536, limit: int = 64 << 20) -> bytes:
    """Read a blocking stream until it ends (``recv`` returns fewer bytes than asked)."""
    out = bytearray()
    while len(out) <= limit:
        data = stream.recv(chunk)
        out += data
        if len(data) < chunk:
            return bytes(out)
    raise AssertionError(f"stream did not end after {limit} bytes")


class SendLedger:
    """Accounts for one stream's ``send()``/``sendBuffer()`` and checks SPEC 7.

    After every call: the return is an int within bounds; the invariant
    ``reported + getBufferUnsent() == given`` holds; ``sendWait`` fired
    exactly when the contract says, once, as ``EventData(source=stream,
    type="sendWait", details=expected_details)``.

    A ``send()`` while bytes are queued queues all of its data: a TCP
    socket returns 0; a TLS session may report only earlier bytes (a
    record's count may be reported by the next call). For a TLS session a
    call that leaves no plaintext queued may still fire ``sendWait`` once
    for protocol bytes left on the socket.

    ``arm`` (if set) is called from the ``sendWait`` listener: the Dana
    pattern of arming a send notification there.
    """

    def __init__(self, stream: Any, *, name: str = "stream") -> None:
        self.stream = stream
        self.name = name
        self.tls = bool(ITLS.providedBy(stream))
        self.given = 0
        self.reported = 0
        self.events: list[Any] = []
        self.expected_details: Any = _UNSET
        self.arm: Callable[[], Any] | None = None
        #: set once close() was called: close() writes queued bytes without
        #: reporting them, so from then on only ``reported + unsent <= given``
        self.closing = False
        stream.sendWait.subscribe(self._on_send_wait)

    def _on_send_wait(self, event: Any) -> None:
        self.events.append(event)
        if self.arm is not None:
            self.arm()

    @property
    def unsent(self) -> int:
        return int(self.given - self.reported)

    def _fail(self, message: str) -> None:
        raise AssertionError(f"{self.name}: {message} (SPEC 7; {self.describe()})")

    def _check_count(self, n: object, what: str) -> int:
        if type(n) is not int:
            self._fail(f"{what} returned {n!r}, not an int")
        assert isinstance(n, int)
        if n < 0:
            self._fail(f"{what} returned {n}")
        return n

    def _check_invariant(self, what: str) -> int:
        unsent = self.stream.getBufferUnsent()
        if type(unsent) is not int or unsent < 0:
            self._fail(f"getBufferUnsent() returned {unsent!r} after {what}")
        if self.reported + unsent != self.given and not (self.closing and self.reported + unsent < self.given):
            self._fail(
                f"after {what}: sum of returns {self.reported} + getBufferUnsent() {unsent} "
                f"!= {self.given} bytes given to send()"
            )
        return int(unsent)

    def _check_events(self, first: int, what: str, *, expect: int, at_most: int | None = None) -> None:
        fired = self.events[first:]
        for event in fired:
            if event.source is not self.stream or event.type != "sendWait":
                self._fail(f"sendWait delivered {event!r}: source must be the stream, type 'sendWait'")
            if self.expected_details is not _UNSET and event.details != self.expected_details:
                self._fail(f"sendWait details {event.details!r}, expected the sendWaitData {self.expected_details!r}")
        low, high = expect, expect if at_most is None else at_most
        if not low <= len(fired) <= high:
            wanted = str(low) if low == high else f"{low} to {high}"
            self._fail(f"{what} fired sendWait {len(fired)} times, expected {wanted}")

    def send(self, data: bytes | bytearray | memoryview) -> int:
        """``stream.send(data)``, checked; returns its result."""
        size = len(memoryview(data).cast("B"))
        before = self.stream.getBufferUnsent()
        first = len(self.events)
        n = self._check_count(self.stream.send(data), f"send() of {size} bytes")
        self.given += size
        self.reported += n
        if before > 0:
            limit = before if self.tls else 0
            if n > limit:
                self._fail(
                    f"send() of {size} bytes with {before} bytes queued returned {n}: "
                    "while bytes are queued, send() queues all its data"
                )
        elif n > size:
            self._fail(f"send() of {size} bytes returned {n}")
        unsent = self._check_invariant(f"send() of {size} bytes returning {n}")
        if before > 0:
            self._check_events(first, "send() adding to a non-empty queue", expect=0)
        elif unsent > 0:
            self._check_events(first, "send() that could not write all its data", expect=1)
        else:
            self._check_events(first, "send() that wrote everything", expect=0, at_most=1 if self.tls else 0)
        return n

    def send_buffer(self) -> int:
        """``stream.sendBuffer()``, checked; returns its result."""
        before = self.stream.getBufferUnsent()
        first = len(self.events)
        n = self._check_count(self.stream.sendBuffer(), "sendBuffer()")
        self.reported += n
        if not self.tls and n > before:
            self._fail(f"sendBuffer() returned {n} with only {before} bytes queued")
        unsent = self._check_invariant(f"sendBuffer() returning {n}")
        if unsent > 0:
            self._check_events(first, "sendBuffer() leaving bytes queued", expect=1)
        else:
            self._check_events(first, "sendBuffer() leaving nothing queued", expect=0, at_most=1 if self.tls else 0)
        return n

    def describe(self) -> str:
        return f"given {self.given}, reported {self.reported}, sendWait x{len(self.events)}"


class Endpoint:
    """One non-blocking stream in a ``Driver``: what it received, what it
    still has to send, whether its stream ended, and a pending call (a
    handshake or a close) to repeat on each event until it completes."""

    def __init__(self, driver: "Driver", stream: Any, socket: Any, watched_socket: Any, name: str) -> None:
        self.driver = driver
        self.stream = stream
        #: the socket the stream was (or will be) given
        self.socket = socket
        #: the socket the monitor watches: ``socket`` unless told otherwise
        self.watched_socket = watched_socket
        self.name = name
        self.tls = bool(ITLS.providedBy(stream))
        self.ledger = SendLedger(stream, name=name)
        self.ledger.arm = self.arm
        self.received = bytearray()
        self.recv_size = 65536
        self.ended = False
        self.outgoing: collections.deque[bytes] = collections.deque()
        self.chunk = 65536
        self._pending: Callable[[], int] | None = None
        self._pending_what = ""
        self.result: int | None = None
        #: every result of the pending calls so far (handshake, close)
        self.history: list[int] = []
        self.watched = True

    # -- calls -------------------------------------------------------------

    def arm(self) -> None:
        self.driver.monitor.armSendNotify(self.watched_socket)

    def begin(self, call: Callable[[], int], what: str, *, first: int | None = None) -> int:
        """Start a call that returns a TLS status (``connect``, ``accept``,
        ``close``) and repeat it on this end's events until OK or FAIL.
        ``first``: the caller made the first call already, with this result."""
        self._pending = call
        self._pending_what = what
        self.result = None
        return self._call_pending(first)

    def _call_pending(self, result: Any = None) -> int:
        assert self._pending is not None
        if result is None:
            result = self._pending()
        if type(result) is not int or result not in _STATUS_NAMES:
            raise AssertionError(f"{self.name}: {self._pending_what} returned {result!r}, not a TLS status")
        self.history.append(result)
        if result == WAIT_WRITE:
            self.arm()
        if result in (OK, FAIL):
            self._pending = None
        self.result = result
        return int(result)

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def close(self, *, first: int | None = None) -> int:
        """Begin ``close()`` (``first``: its result, if already called)."""
        self.ledger.closing = True
        return self.begin(self.stream.close, "close()", first=first)

    def feed(self, data: bytes) -> None:
        """Queue application data; it is sent in ``chunk``-sized ``send()``
        calls whenever the stream's own queue is empty."""
        view = memoryview(data)
        for i in range(0, len(view), self.chunk):
            self.outgoing.append(bytes(view[i : i + self.chunk]))
        self.flush()

    def flush(self) -> None:
        while self.outgoing and not self.ended and self.ledger.unsent == 0:
            self.ledger.send(self.outgoing.popleft())

    @property
    def idle(self) -> bool:
        """Nothing left to send: no application data waiting, no bytes queued."""
        return not self.outgoing and self.ledger.unsent == 0

    def drain(self) -> None:
        """recv() until b"", then learn from the stream whether it ended."""
        for _ in range(_MAX_READS_PER_DRAIN):
            data = self.stream.recv(self.recv_size)
            if not isinstance(data, bytes):
                raise AssertionError(f"{self.name}: recv() returned {type(data).__name__}, not bytes")
            if len(data) > self.recv_size:
                raise AssertionError(f"{self.name}: recv({self.recv_size}) returned {len(data)} bytes")
            if not data:
                break
            self.received += data
        else:
            raise AssertionError(f"{self.name}: recv() did not return b'' in {_MAX_READS_PER_DRAIN} calls")
        if self.tls:
            status = self.stream.getStatus()
            if status == OK:
                raise AssertionError(
                    f"{self.name}: getStatus() is OK after a non-blocking recv() returned b'' "
                    "(SPEC 6: WAIT_READ, WAIT_WRITE, or FAIL when the stream ended)"
                )
            if status not in _STATUS_NAMES:
                raise AssertionError(f"{self.name}: getStatus() returned {status!r}")
            ended = status == FAIL
        else:
            ended = not self.stream.connected()
        if ended:
            self.ended = True
            self.unwatch()

    def unwatch(self) -> None:
        """Stop watching this end's socket (a reader that does not read)."""
        if self.watched:
            self.driver.monitor.remSocket(self.watched_socket)
            self.watched = False

    def watch(self) -> None:
        """Watch this end's socket again."""
        if not self.watched:
            self.driver.monitor.addSocket(self.watched_socket, self)
            self.watched = True

    # -- events ------------------------------------------------------------

    def on_event(self, event: Any) -> None:
        if self._pending is not None:
            self._call_pending()
            return
        if event.sendReady:
            self.ledger.send_buffer()
            self.flush()
        if (event.recvReady or event.close) and not self.ended:
            self.drain()

    def describe(self) -> str:
        parts = [f"{self.name}: received {len(self.received)}", self.ledger.describe()]
        with contextlib.suppress(Exception):
            parts.append(f"getBufferUnsent() {self.stream.getBufferUnsent()}")
        if self.tls:
            with contextlib.suppress(Exception):
                parts.append(f"getStatus() {status_name(self.stream.getStatus())}")
            with contextlib.suppress(Exception):
                parts.append(f"socket getBufferUnsent() {self.socket.getBufferUnsent()}")
        if self._pending is not None:
            parts.append(f"waiting in {self._pending_what} (last {status_name(self.result)})")
        if self.outgoing:
            parts.append(f"{sum(map(len, self.outgoing))} bytes not yet given to send()")
        if self.ended:
            parts.append("ended")
        return ", ".join(parts)


class Driver:
    """Drives non-blocking streams from one thread with a ``TCPMonitor``.

    ``add()`` a stream (a TLS session with its socket, or a TCP socket) and
    ``run_until()`` a condition; the driver reacts to events as a Dana
    non-blocking program does (see the module docstring). Each wait is
    bounded by ``timeout`` seconds and a number of iterations.
    """

    def __init__(self, tcp: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.monitor = TCPKit.of(tcp).TCPMonitor()
        self.timeout = timeout
        self.endpoints: list[Endpoint] = []

    def add(
        self, stream: Any, socket: Any = None, *, name: str = "", data: Any = _UNSET, watch: Any = None
    ) -> Endpoint:
        """Watch ``stream``, whose TCP socket is ``socket`` (or the stream
        itself, for a TCP socket); ``watch`` is the socket to give the
        monitor if not that one (for a socket that is not ``ISelectable``
        itself). With ``data``, first call ``stream.setNonBlocking(data)``
        and expect ``data`` in every ``sendWait``. Adding a stream twice
        returns its endpoint."""
        for ep in self.endpoints:
            if ep.stream is stream:
                return ep
        sock = stream if socket is None else socket
        monitored = sock if watch is None else watch
        ep = Endpoint(self, stream, sock, monitored, name or f"stream{len(self.endpoints)}")
        if data is not _UNSET:
            if stream.setNonBlocking(data) is not True:
                raise AssertionError(f"{ep.name}: setNonBlocking() did not return True")
            ep.ledger.expected_details = data
        if self.monitor.addSocket(monitored, ep) is not True:
            raise AssertionError("TCPMonitor.addSocket() did not return True")
        self.endpoints.append(ep)
        return ep

    def step(self, ms: int = 20) -> int:
        """Wait up to ``ms`` for events and handle them; returns how many."""
        events = self.monitor.wait(ms)
        for event in events:
            ep = event.userData
            if not isinstance(ep, Endpoint) or ep.driver is not self:
                raise AssertionError(f"TCPMonitor.wait() returned userData {ep!r}, not what addSocket() was given")
            if ep.watched:
                ep.on_event(event)
        return len(events)

    def run_until(self, condition: Callable[[], bool], what: str, timeout: float | None = None) -> None:
        """Handle events until ``condition()``; AssertionError after the timeout."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        for _ in range(_MAX_STEPS):
            if condition():
                return
            if time.monotonic() > deadline:
                break
            self.step()
        else:
            if condition():
                return
        raise AssertionError(f"stalled after {limit} s waiting for {what}: " + "; ".join(ep.describe() for ep in self.endpoints))

    def handshake(self, server: Endpoint, client: Endpoint, *, grace: float = 1.0) -> tuple[int, int]:
        """Run ``accept`` on ``server`` and ``connect`` on ``client`` until
        both finish (or one failed and the other has not finished ``grace``
        seconds later). Returns both results."""
        server.begin(lambda: server.stream.accept(server.socket), "accept()")
        client.begin(lambda: client.stream.connect(client.socket), "connect()")
        failed_at: list[float] = []

        def finished() -> bool:
            if not server.pending and not client.pending:
                return True
            if FAIL in (server.result, client.result):
                if not failed_at:
                    failed_at.append(time.monotonic())
                return time.monotonic() > failed_at[0] + grace
            return False

        self.run_until(finished, "the handshake")
        return int(server.result), int(client.result)  # type: ignore[arg-type]

    def complete(self, ep: Endpoint, call: Callable[[], int], what: str) -> int:
        """Call ``call`` (returning a TLS status) and again on each of ``ep``'s
        events until it returns OK or FAIL; returns that."""
        ep.begin(call, what)
        self.run_until(lambda: not ep.pending, f"{ep.name}'s {what} to finish")
        return int(ep.result)  # type: ignore[arg-type]

    def close(self, ep: Endpoint) -> int:
        """``close()`` a session and continue it until it is not WAIT_WRITE."""
        ep.close()
        self.run_until(lambda: not ep.pending, f"{ep.name}'s close() to finish")
        return int(ep.result)  # type: ignore[arg-type]

    def transfer(self, sender: Endpoint, receiver: Endpoint, data: bytes, timeout: float | None = None) -> bytes:
        """Send ``data`` from one end; return what the other received meanwhile
        (exactly ``len(data)`` bytes unless the stream ended)."""
        start = len(receiver.received)
        target = start + len(data)
        sender.feed(data)
        self.run_until(
            lambda: (len(receiver.received) >= target or receiver.ended) and (sender.idle or sender.ended),
            f"{len(data)} bytes from {sender.name} to {receiver.name}",
            timeout,
        )
        return bytes(receiver.received[start:])

    def read_to_end(self, ep: Endpoint, timeout: float | None = None) -> bytes:
        """Handle events until ``ep``'s stream ends; return all it received."""
        self.run_until(lambda: ep.ended, f"the end of {ep.name}'s stream", timeout)
        return bytes(ep.received)


def handshake(
    server: Any,
    client: Any,
    server_socket: Any,
    client_socket: Any,
    *,
    mode: str = BLOCKING,
    driver: Driver | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[int, int]:
    """Run a TLS handshake between two sessions over two connected sockets.

    Blocking: ``server.accept(server_socket)`` in a background thread and
    ``client.connect(client_socket)`` here; returns both results or raises
    what either raised (the client's first). Non-blocking: both sessions
    are ``setNonBlocking("server"/"client")``-ed and driven from this thread
    by ``driver`` (a new ``Driver`` if None); returns both results (OK or
    FAIL). Bounded by ``timeout`` seconds.
    """
    if mode == BLOCKING:
        bg = Background(server.accept, server_socket, name="server accept()")
        client_result = client.connect(client_socket)
        server_result = bg.join(timeout)
        return server_result, client_result
    if mode != NONBLOCKING:
        raise ValueError(f"mode is {BLOCKING!r} or {NONBLOCKING!r}, not {mode!r}")
    driver = driver if driver is not None else Driver(timeout=timeout)
    sep = driver.add(server, server_socket, name="server", data="server")
    cep = driver.add(client, client_socket, name="client", data="client")
    return driver.handshake(sep, cep)


@dataclass
class TLSPair:
    """Two TLS sessions connected to each other over loopback.

    ``transfer``, ``read_to_end`` and ``close`` work the same in both
    modes: blocking ones use threads, non-blocking ones the ``driver``.
    """

    server: Any
    client: Any
    server_socket: Any
    client_socket: Any
    mode: str
    driver: Driver | None = None
    results: tuple[int, int] | None = None

    def session(self, side: str) -> Any:
        if side not in ("server", "client"):
            raise ValueError(f"side is 'server' or 'client', not {side!r}")
        return self.server if side == "server" else self.client

    def endpoint(self, side: str) -> Endpoint:
        """The driver's ``Endpoint`` of ``side`` (non-blocking mode)."""
        assert self.driver is not None, "endpoints exist in non-blocking mode only"
        session = self.session(side)
        for ep in self.driver.endpoints:
            if ep.stream is session:
                return ep
        raise LookupError(side)

    def handshake(self) -> tuple[int, int]:
        """Handshake (see ``handshake()``); returns (server, client) results."""
        self.results = handshake(
            self.server, self.client, self.server_socket, self.client_socket, mode=self.mode, driver=self.driver
        )
        return self.results

    def try_handshake(self, grace: float = 1.0) -> tuple[Any, Any]:
        """A handshake that may fail on either side: returns ``(server,
        client)`` outcomes, each OK, FAIL or (blocking) the TLSError raised.

        A side whose peer failed may take ``grace`` seconds to notice; it is
        waited for at most that long (blocking: its socket is disconnected
        then, which ends its call)."""

        def outcome(call: Callable[[], int]) -> Any:
            try:
                return call()
            except nettls.TLSError as exc:
                return exc

        if self.mode == NONBLOCKING:
            assert self.driver is not None
            sep = self.driver.add(self.server, self.server_socket, name="server", data="server")
            cep = self.driver.add(self.client, self.client_socket, name="client", data="client")
            self.results = self.driver.handshake(sep, cep, grace=grace)
            return self.results
        bg = Background(outcome, lambda: self.server.accept(self.server_socket), name="server accept()")
        client = outcome(lambda: self.client.connect(self.client_socket))
        try:
            server = bg.join(grace if client != OK else DEFAULT_TIMEOUT)
        except TimeoutError:
            _quietly(self.server_socket.disconnect)
            server = bg.join()
        return server, client

    def transfer(self, sender: str, data: bytes, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """Send ``data`` from ``sender`` ("server" or "client"); return what
        the other side received (all of it, unless its stream ended)."""
        receiver = "client" if sender == "server" else "server"
        if self.mode == NONBLOCKING:
            assert self.driver is not None
            return self.driver.transfer(self.endpoint(sender), self.endpoint(receiver), data, timeout)
        sending = self.session(sender)

        def send_all() -> None:
            n = sending.send(data)
            if n != len(data):
                raise AssertionError(f"blocking send() of {len(data)} bytes returned {n!r} (SPEC 4)")

        bg = Background(send_all, name=f"{sender} send()")
        got = recv_exactly(self.session(receiver), len(data))
        bg.join(timeout)
        return got

    def exchange(self, request: bytes, response: bytes) -> tuple[bytes, bytes]:
        """Client sends ``request``, then server sends ``response``; returns
        what the server and the client received."""
        return self.transfer("client", request), self.transfer("server", response)

    def read_to_end(self, side: str, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """What ``side`` receives until its stream ends (non-blocking: all it
        received so far plus the rest)."""
        if self.mode == NONBLOCKING:
            assert self.driver is not None
            return self.driver.read_to_end(self.endpoint(side), timeout)
        return read_to_end(self.session(side))

    def close(self, side: str) -> int:
        """``close()`` the session of ``side`` (non-blocking: continued until
        it is not WAIT_WRITE); returns the final result."""
        if self.mode == NONBLOCKING:
            assert self.driver is not None
            return self.driver.close(self.endpoint(side))
        return int(self.session(side).close())


class Harness:
    """Makes connections for one test and cleans them up.

    Args:
        tls: the TLS component under test (None: the linked one).
        tcp: the TCP component beneath it (None: the linked one).
        pki: certificates (None: ``make_pki()``).
        timeout: the bound of every wait and of every socket's blocking calls.

    Use as a context manager, or call ``close()``: it disconnects every
    socket it made.
    """

    def __init__(
        self, tls: str | None = None, tcp: str | None = None, *, pki: PKI | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.tls = tls
        self.tcp = tcp
        self.kit = TLSKit.of(tls)
        self.tcp_kit = TCPKit.of(tcp)
        self.pki = pki if pki is not None else make_pki()
        self.timeout = timeout
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> "Harness":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    def callback(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` at cleanup, errors ignored."""
        self._stack.callback(_quietly, lambda: fn(*args))

    def tcp_pair(self, *, timeout: float | None = _UNSET, address: str = LOOPBACK) -> tuple[Any, Any]:
        """A connected ``(client, server)`` TCP pair (see ``tcp_pair``)."""
        return self._stack.enter_context(
            tcp_pair(self.tcp, timeout=self.timeout if timeout is _UNSET else timeout, address=address)
        )

    def driver(self) -> Driver:
        return Driver(self.tcp, timeout=self.timeout)

    def tls_pair(
        self,
        mode: str = BLOCKING,
        *,
        identity: Identity | None = None,
        server_kit: TLSKit | None = None,
        client_kit: TLSKit | None = None,
        server_context: Any = None,
        client_context: Any = None,
        do_handshake: bool = True,
        expect: int | None = OK,
    ) -> TLSPair:
        """Two sessions over a fresh TCP pair, handshaken unless told not to.

        The server presents ``identity`` (default ``pki.rsa``) with its
        chain, through a context of ``server_kit`` (default the harness's)
        unless ``server_context`` is given; likewise the client. With
        ``expect`` (default OK) both handshake results must equal it.
        """
        server_kit = server_kit or self.kit
        client_kit = client_kit or self.kit
        if server_context is None:
            server_context = server_kit.server_context(identity or self.pki.rsa)
        if client_context is None:
            client_context = client_kit.client_context()
        client_socket, server_socket = self.tcp_pair()
        pair = TLSPair(
            server=server_kit.TLS(server_context),
            client=client_kit.TLS(client_context),
            server_socket=server_socket,
            client_socket=client_socket,
            mode=mode,
            driver=self.driver() if mode == NONBLOCKING else None,
        )
        if do_handshake:
            results = pair.handshake()
            if expect is not None and results != (expect, expect):
                raise AssertionError(
                    f"handshake returned server {status_name(results[0])}, client {status_name(results[1])}; "
                    f"expected {status_name(expect)}"
                )
        return pair


@functools.lru_cache(maxsize=32)
def named_identity(
    pki: PKI, names: tuple[str, ...], *, common_name: str | None = None, client_auth: bool = False, server_auth: bool = True
) -> Identity:
    """A leaf for ``names`` (DNS names, wildcards, IP addresses; none for a
    certificate without subject alternative names) under ``pki``'s EC
    intermediate, with ``pki.ec``'s root: for the host-name, SNI and
    client-certificate clauses. Made once per arguments."""
    inter = pki.ec.intermediates[0]
    issued = issue(
        common_name or (names[0] if names else "nettls named leaf"),
        issuer=Issued(inter.cert, inter.key),
        key=pki.ec.leaf.key,
        names=names,
        server_auth=server_auth,
        client_auth=client_auth,
    )
    return Identity(Credential(issued.cert, issued.key), pki.ec.intermediates, pki.ec.root)  # type: ignore[arg-type]
