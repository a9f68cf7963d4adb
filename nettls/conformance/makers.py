"""Connection makers: real loopback TCP pairs, TLS sessions over them, and
the drivers that move data in blocking and non-blocking mode (the parts are
in ``kits`` and ``driver``; this module re-exports them).

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
the Dana non-blocking server does: an ``EventLoop`` over the TCP
component's monitor watches every socket; each stream's ``sendWait``
listener arms a send notification; on send-ready the driver calls
``sendBuffer()``, on recv-ready it calls ``recv()`` until it returns
``b""`` and then asks ``getStatus()`` (a TLS session) or ``connected()`` (a
TCP socket) whether the stream ended. Every ``send()`` and ``sendBuffer()``
goes through a ``SendLedger`` that checks SPEC section 7 after the call:
the count, the invariant ``sum(returns) + getBufferUnsent() ==
sum(len(data))``, and how many ``sendWait`` events the call fired, with
what data. Every wait is bounded in seconds; a stall raises AssertionError
describing each end.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Any, Callable

import nettls
from nettls.pki import Issued, issue

from .driver import Driver, Endpoint, SendLedger
from .kits import (
    _UNSET,
    BLOCKING,
    DEFAULT_TIMEOUT,
    LOOPBACK,
    MODES,
    NONBLOCKING,
    OK,
    Background,
    TCPKit,
    TLSKit,
    _quietly,
    bind_server,
    flush_socket,
    read_to_end,
    recv_exactly,
    set_timeout,
    status_name,
    tcp_pair,
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
    "bind_server",
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
        tls: the TLS component under test: its name, its ``TLSKit`` (for
            classes that are not registered), or None for the linked one.
        tcp: the TCP component beneath it (None: the linked one).
        pki: certificates (None: ``make_pki()``).
        timeout: the bound of every wait and of every socket's blocking calls.

    Use as a context manager, or call ``close()``: it disconnects every
    socket it made.
    """

    def __init__(
        self,
        tls: str | TLSKit | None = None,
        tcp: str | None = None,
        *,
        pki: PKI | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.kit = tls if isinstance(tls, TLSKit) else TLSKit.of(tls)
        self.tls = self.kit.name
        self.tcp = tcp
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
