"""The parts every maker is built of: the suite's constants, the classes of
a component (``TCPKit``, ``TLSKit``), loopback TCP pairs, a background
thread with a bounded join, and blocking reads with SPEC 4's checks.

Everything here reaches components through the registry
(``nettls.resolve(name, component=...)``) and the spec and extension
interfaces, never by importing a component, so it works unchanged for a
third party's component. ``makers`` re-exports all of it.
"""

from __future__ import annotations

import contextlib
import os
import socket as _socket
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import pytest

import nettls
from nettls.eventloop import EventLoop
from nettls.interfaces import IServerSocketOptions, ITimeout, IVerifyOnConnect, TLSConstants

from .pki import Identity, make_pki

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
    "bind_server",
    "set_timeout",
    "recv_exactly",
    "read_to_end",
    "flush_socket",
]

#: The environment variable that sets ``DEFAULT_TIMEOUT`` (seconds, > 0).
TIMEOUT_VARIABLE = "NETTLS_CONFORMANCE_TIMEOUT"


def _default_timeout() -> float:
    text = os.environ.get(TIMEOUT_VARIABLE, "").strip()
    if not text:
        return 10.0  # generous for loopback on a loaded 2-core machine
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 3600:
        raise ValueError(f"{TIMEOUT_VARIABLE}={text!r}: give a number of seconds above 0 and below 3600")
    return seconds


#: Seconds any single wait of the suite may take before it counts as a hang
#: (``NETTLS_CONFORMANCE_TIMEOUT``; a mutant run lowers it so a stall fails fast).
DEFAULT_TIMEOUT = _default_timeout()
#: Where every connection of the suite goes: the suite makes no other traffic.
LOOPBACK = "127.0.0.1"
BLOCKING = "blocking"
NONBLOCKING = "nonblocking"
MODES = (BLOCKING, NONBLOCKING)

OK, FAIL, WAIT_READ, WAIT_WRITE = TLSConstants.OK, TLSConstants.FAIL, TLSConstants.WAIT_READ, TLSConstants.WAIT_WRITE
_STATUS_NAMES = {OK: "OK", FAIL: "FAIL", WAIT_READ: "WAIT_READ", WAIT_WRITE: "WAIT_WRITE"}
_UNSET: Any = object()



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
    #: Whether the TLS client verifies the chain in the handshake; None asks
    #: the registry (give it for classes that are not registered).
    chain_in_handshake: bool | None = None

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
        if self.chain_in_handshake is not None:
            return self.chain_in_handshake
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


#: What a probe binds for each of Dana's wildcards (TCPServerSocket.ANY_ADDRESS...).
_WILDCARD_PROBES = {"ANY": "::", "ANY_v4": "0.0.0.0", "ANY_v6": "::"}


def _free_port(address: str) -> int:
    address = _WILDCARD_PROBES.get(address, address)
    with _socket.socket(_socket.AF_INET6 if ":" in address else _socket.AF_INET) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def bind_server(tcp: str | None = None, address: str = LOOPBACK) -> tuple[Any, int]:
    """A server socket listening on ``address`` (an address, or one of the
    ``ANY_ADDRESS`` wildcards) and a free port: ``(server, port)``.

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
    send-ready event (on an ``EventLoop`` of its own) until
    ``getBufferUnsent()`` is 0."""

    def on_event(event: Any) -> None:
        if event.sendReady:
            sock.sendBuffer()
            loop.want_write(sock)

    with EventLoop(TCPKit.of(tcp).TCPMonitor(), wakeable=False, tick=0.05) as loop:
        loop.watch(sock, on_event)
        loop.want_write(sock)
        try:
            if not loop.run(until=lambda: sock.getBufferUnsent() == 0, timeout=timeout):
                raise AssertionError(f"{sock.getBufferUnsent()} bytes still queued on the socket after {timeout} s")
        finally:
            loop.unwatch(sock)


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
