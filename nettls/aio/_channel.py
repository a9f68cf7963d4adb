"""One non-blocking session and its socket: what every async layer shares.

Theory of operation
-------------------
``nettls.aio`` and ``nettls.httpx`` have no TLS code of their own (SPEC
section 13): each drives one non-blocking nettls session, of any component,
by the readiness of its TCP socket's descriptor (``ISelectable.fileno()``).
The layers differ only in how they wait (asyncio's ``add_reader``, anyio's
``wait_readable``, ``poll``); what to call and what the answers mean is
here, once:

- ``SessionMaker`` resolves the classes a layer will use (the session's
  component, the TCP component) and checks, before any connection is made,
  that they provide the extensions the layer needs, refusing with an error
  that names the missing interface.
- ``Channel`` is one connection: ``step()`` runs the handshake one call at
  a time and says what to wait for; ``read()`` returns plaintext, ``None``
  for "nothing now" or ``b""`` for the end of the stream, telling the two
  apart as SPEC section 6 says (``recv()`` gives ``b""`` for both; only
  ``getStatus()`` FAIL, or once we have sent close_notify the end-of-stream
  extension or the socket's ``connected()``, means the end). A ``b""`` with
  WAIT_READ can leave input in the kernel or in the session (a call
  processes at most 64 KiB of ciphertext, SPEC 14): the socket then stays
  readable, so a level-triggered wait simply comes back.
- ``ending()`` says how a stream ended: close_notify, a truncation (TCP
  closed without close_notify), a reset, or a TLS failure; each layer turns
  that into its framework's own error.

Writing needs no more than the session's contract (SPEC 7): ``send()``
queues what the kernel does not take and ``sendWait`` fires; the layer
waits for writability and calls ``sendBuffer()`` until nothing is queued,
neither plaintext (the session's ``getBufferUnsent()``) nor protocol bytes
(the socket's).
"""

from __future__ import annotations

import errno
import socket
from typing import Any, Iterable

import nettls
from nettls.interfaces import (
    IEndOfStream,
    IHalfClose,
    INegotiatedProtocol,
    ISelectable,
    IServerName,
    IServerSocketOptions,
    ISessionInfo,
    RegistryError,
    TLSConnectionError,
    TLSHandshakeError,
    TLSModeError,
)
from zope.interface.interface import InterfaceClass

__all__ = ["Channel", "PlainChannel", "SessionMaker", "peer_reset", "DONE", "READ", "WRITE", "CLEAN", "TRUNCATED", "RESET", "FAILED"]

#: What a handshake step needs next.
DONE, READ, WRITE = 0, 1, 2
#: How a stream ended (``Channel.ending``).
CLEAN, TRUNCATED, RESET, FAILED = "clean", "truncated", "reset", "failed"
#: Linux's TCP_INFO state of a connection the peer reset (TCP_CLOSE); one the
#: peer ended with a FIN is in CLOSE_WAIT or later, never this.
_TCP_CLOSE = 7
_TCP_INFO = getattr(socket, "TCP_INFO", None)


def peer_reset(sock: Any) -> bool:
    """True when the kernel says the peer reset ``sock``'s connection (Linux's
    TCP_INFO, asked of the descriptor without reading it; False elsewhere)."""
    fd = sock.fileno()
    if _TCP_INFO is None or fd < 0:
        return False
    try:
        with socket.socket(fileno=fd) as view:
            try:
                state = view.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, 8)[0]
            finally:
                view.detach()  # the descriptor stays the TCP component's
    except OSError:
        return False
    return bool(state == _TCP_CLOSE)


def _component_of_context(context: Any) -> str | None:
    """The registered component whose ``net.TLSContext`` class ``context`` is."""
    for status in nettls.registry.components():
        component = status.component
        if component is not None and component.provides.get("net.TLSContext") is type(context):
            return component.name
    return None


def require(cls: type, extensions: Iterable[InterfaceClass], what: str, why: str) -> None:
    """Refuse ``cls`` unless it provides every one of ``extensions``: a
    RegistryError naming the missing interfaces, ``what`` it is and ``why``
    the layer needs them."""
    lacking = [e.__name__ for e in extensions if not e.implementedBy(cls)]
    if lacking:
        raise RegistryError(f"{what} does not provide {', '.join(lacking)}, which {why} needs")


class SessionMaker:
    """The classes one layer uses for its connections, resolved and checked once.

    Args:
        context: an ``ITLSContext`` of any component (CLIENT or SERVER).
        component: the session's component; default the context's own, else
            the one linked to ``net.TLS``.
        tcp_component: the TCP component; default the linked one. Its
            sockets must provide ``ISelectable`` (the descriptor waited on).
        layer: the layer's name, for messages.
    """

    __slots__ = ("context", "component", "tls_class", "tcp_class", "server_class", "layer")

    def __init__(self, context: Any, component: str | None, tcp_component: str | None, layer: str) -> None:
        if not hasattr(context, "mode"):
            raise TypeError(f"{layer}: context must be a nettls TLSContext, not {type(context).__name__}")
        self.layer = layer
        self.context = context
        name = component or _component_of_context(context)
        self.tls_class: Any = nettls.resolve("net.TLS", component=name)  # (None: the linked one)
        self.component = str(name or nettls.registry.linked("net.TLS"))
        self.tcp_class: Any = nettls.resolve("net.TCPSocket", component=tcp_component)
        self.server_class: Any = nettls.resolve("net.TCPServerSocket", component=tcp_component)
        tcp = tcp_component or nettls.registry.linked("net.TCPSocket")
        require(self.tcp_class, [ISelectable], f"{layer}: the net.TCPSocket of component {tcp!r}", "waiting on its descriptor")

    @property
    def server(self) -> bool:
        return bool(self.context.mode == self.context.SERVER)

    def require_mode(self, server: bool, call: str) -> None:
        """Refuse a context of the other mode for ``call`` (TLSModeError)."""
        if self.server != server:
            want, have = ("SERVER", "CLIENT") if server else ("CLIENT", "SERVER")
            raise TLSModeError(f"{call} needs a {want} context; this one is a {have} context")

    def need(self, extensions: Iterable[InterfaceClass], why: str) -> None:
        """Refuse the session's component unless it provides ``extensions``."""
        require(self.tls_class, extensions, f"{self.layer}: the net.TLS of component {self.component!r}", why)

    def check_listener(self) -> None:
        require(
            self.server_class,
            [ISelectable, IServerSocketOptions],
            f"{self.layer}: the net.TCPServerSocket of the TCP component",
            "accepting without blocking",
        )

    def new_socket(self) -> Any:
        """A fresh, unconnected TCP socket."""
        return self.tcp_class()

    def client_name(self, host: str, server_hostname: str | None) -> str:
        """The server name a client session gets: ``server_hostname``, else
        ``host``; one given explicitly needs ``IServerName`` (checked before
        any connection is made)."""
        if server_hostname is None:
            return host
        if server_hostname:
            self.need([IServerName], "server_hostname")
        return server_hostname

    def channel(self, sock: Any, server_name: str | None = None) -> Channel:
        """A non-blocking session over the connected ``sock``, handshake not
        started; a client's ``server_name`` is set where the component can
        (``IServerName``)."""
        session = self.tls_class(self.context)
        if server_name and not self.server and IServerName.providedBy(session):
            session.setServerName(server_name)
        if not sock.isNonBlocking():
            sock.setNonBlocking()
        session.setNonBlocking()
        return Channel(session, sock, self.context, self.component, self.server)


class Channel:
    """One non-blocking session over one TCP socket (see the module docstring)."""

    __slots__ = ("session", "socket", "context", "component", "server_side", "fd", "shut", "_eos")

    def __init__(self, session: Any, sock: Any, context: Any, component: str, server_side: bool) -> None:
        self.session = session
        self.socket = sock
        self.context = context
        self.component = component
        self.server_side = server_side
        self.fd: int = sock.fileno()
        #: close_notify: 0 not started, 1 being written, 2 handed to the kernel.
        self.shut = 0
        self._eos = IEndOfStream.providedBy(session)

    # -- handshake ------------------------------------------------------------------

    def step(self) -> int:
        """One handshake call: DONE, or what to wait for (READ or WRITE).
        Raises the handshake's failure (``handshake_error``)."""
        session = self.session
        status = session.accept(self.socket) if self.server_side else session.connect(self.socket)
        if status == session.OK:
            return DONE
        if status == session.FAIL:
            raise self.handshake_error()
        # Bytes queued (a flight the kernel did not take) go first: the peer
        # answers nothing until it has them.
        return WRITE if status == session.WAIT_WRITE or self.socket.getBufferUnsent() else READ

    def handshake_error(self) -> BaseException:
        """The exception for a failed handshake: ConnectionResetError when the
        peer reset the connection, else TLSHandshakeError with the reason."""
        reason = self.reason("the handshake failed")
        if self.peer_reset():
            return ConnectionResetError(errno.ECONNRESET, f"the peer reset the connection during the TLS handshake: {reason}")
        return TLSHandshakeError(f"TLS handshake failed ({self.component}): {reason}")

    # -- reading ------------------------------------------------------------------------

    def read(self, n: int) -> bytes | None:
        """Plaintext; None when nothing is there now (wait until readable, or
        writable when ``wants_write()``); ``b""`` at the end of the stream."""
        data: bytes = self.session.recv(n)
        if data:
            return data
        return b"" if self.ended() else None

    def ended(self) -> bool:
        """After ``recv()`` returned ``b""``: whether that was the end of the stream."""
        if not self.shut:
            return bool(self.session.getStatus() == self.session.FAIL)
        # After our close_notify getStatus() is FAIL for good: ask how the peer's side stands.
        if self._eos and self.session.endedCleanly() is not None:
            return True
        return not self.socket.connected()

    def ending(self) -> tuple[str, BaseException | None]:
        """How the stream ended, once ``read()`` returned ``b""``: ``(CLEAN,
        None)`` after the peer's close_notify, ``(TRUNCATED, None)`` when TCP
        ended without it, ``(RESET, ConnectionResetError)``, or ``(FAILED,
        TLSConnectionError)`` for a TLS failure (an alert, a bad record).
        A component without ``IEndOfStream`` cannot tell close_notify from a
        failure while TCP stays up: that is CLEAN."""
        clean = self.session.endedCleanly() if self._eos else None
        if clean:
            return CLEAN, None
        if not self.socket.connected():
            if self.peer_reset():
                return RESET, ConnectionResetError(errno.ECONNRESET, "the peer reset the connection")
            return TRUNCATED, None
        if not self._eos:
            return CLEAN, None
        return FAILED, TLSConnectionError(f"the TLS session failed ({self.component}): {self.reason('no reason given')}")

    def peer_reset(self) -> bool:
        return peer_reset(self.socket)

    def reason(self, default: str) -> str:
        getter = getattr(self.session, "getFailureReason", None)
        reason = getter() if getter is not None else None
        return str(reason) if reason else default

    # -- writing ------------------------------------------------------------------------

    def send(self, data: bytes | bytearray | memoryview) -> None:
        """Hand ``data`` to the session; what the kernel does not take is queued."""
        self.session.send(data)

    def wants_write(self) -> bool:
        """Bytes wait to be written: plaintext of ours, or protocol bytes."""
        return bool(self.session.getBufferUnsent() or self.socket.getBufferUnsent())

    def flush(self) -> bool:
        """Write on what is queued (close_notify included, while closing);
        True while bytes remain. Raises TLSConnectionError when the
        connection broke."""
        if self.shut == 1:
            return not self.close_step()
        self.session.sendBuffer()
        return self.wants_write()

    def close_step(self) -> bool:
        """Send close_notify after what is queued, or go on sending it: True
        once it is handed to the kernel (or cannot be: a failed session)."""
        session = self.session
        if self.shut == 2:
            return True
        self.shut = 1
        try:
            status = session.close()
        except OSError:  # the connection is gone: nothing more reaches the peer
            status = session.FAIL
        if status == session.WAIT_WRITE:
            return False
        self.shut = 2
        return True

    def can_half_close(self) -> bool:
        """Whether close_notify can end our side only: the socket sends FIN and
        keeps reading, and the session tells the peer's end after ours."""
        return IHalfClose.providedBy(self.socket) and self._eos

    def shutdown_output(self) -> None:
        self.socket.shutdownOutput()

    def release(self) -> None:
        """Disconnect the socket (the layer has stopped waiting on it)."""
        self.socket.disconnect()

    # -- what the handshake gave ----------------------------------------------------------------

    def info(self, name: str, default: Any = None) -> Any:
        """An asyncio-style extra: see ``EXTRA_INFO``."""
        getter = _EXTRA.get(name)
        if getter is None:
            return default
        value = getter(self)
        return default if value is None else value

    def cipher(self) -> tuple[str, str, None] | None:
        session = self.session
        if not ISessionInfo.providedBy(session) or session.getCipherSuite() is None:
            return None
        return (session.getCipherSuite(), session.getProtocolVersion(), None)

    def alpn(self) -> str | None:
        session = self.session
        return session.getApplicationProtocol() if INegotiatedProtocol.providedBy(session) else None

    def version(self) -> str | None:
        session = self.session
        return session.getProtocolVersion() if ISessionInfo.providedBy(session) else None


class PlainChannel:
    """A TCP socket without TLS, read and written as a ``Channel`` is (for
    ``http://`` URLs through ``nettls.httpx``)."""

    __slots__ = ("socket", "fd", "shut")

    def __init__(self, sock: Any) -> None:
        if not sock.isNonBlocking():
            sock.setNonBlocking()
        self.socket = sock
        self.fd: int = sock.fileno()
        self.shut = 0

    def read(self, n: int) -> bytes | None:
        data: bytes = self.socket.recv(n)
        if data:
            return data
        return None if self.socket.connected() else b""

    def ending(self) -> tuple[str, BaseException | None]:
        if peer_reset(self.socket):
            return RESET, ConnectionResetError(errno.ECONNRESET, "the peer reset the connection")
        return CLEAN, None

    def send(self, data: bytes | bytearray | memoryview) -> None:
        self.socket.send(data)

    def wants_write(self) -> bool:
        return bool(self.socket.getBufferUnsent())

    def flush(self) -> bool:
        self.socket.sendBuffer()
        return self.wants_write()

    def close_step(self) -> bool:
        return True

    def release(self) -> None:
        self.socket.disconnect()


def _endpoint_tuple(endpoint: Any) -> tuple[str, int] | None:
    return None if endpoint is None else (endpoint.address, endpoint.port)


def _server_name(ch: Channel) -> str | None:
    return ch.session.getServerName() if IServerName.providedBy(ch.session) else None


def _ended_cleanly(ch: Channel) -> bool | None:
    return ch.session.endedCleanly() if IEndOfStream.providedBy(ch.session) else None


class SessionInfo:
    """The few ``ssl.SSLObject`` methods that code reading an ``ssl_object``
    extra commonly calls (httpcore reads ``selected_alpn_protocol()``),
    answered from the nettls session."""

    __slots__ = ("_ch",)

    def __init__(self, ch: Channel) -> None:
        self._ch = ch

    def selected_alpn_protocol(self) -> str | None:
        return self._ch.alpn()

    def version(self) -> str | None:
        return self._ch.version()

    def cipher(self) -> tuple[str, str, None] | None:
        return self._ch.cipher()

    @property
    def server_side(self) -> bool:
        return self._ch.server_side

    @property
    def server_hostname(self) -> str | None:
        return _server_name(self._ch)


#: The extras every layer answers (``get_extra_info(name)``), from the
#: session and its socket. ``peercert`` is PEM (asyncio's is a dict).
_EXTRA: dict[str, Any] = {
    "peercert": lambda ch: ch.session.getPeerCertificate(),
    "peer_chain": lambda ch: ch.session.getPeerCertChain(),
    "cipher": Channel.cipher,
    "version": Channel.version,
    "selected_alpn_protocol": Channel.alpn,
    "server_hostname": _server_name,
    "ended_cleanly": _ended_cleanly,
    "session": lambda ch: ch.session,
    "ssl_object": SessionInfo,
    "sslcontext": lambda ch: ch.context,
    "component": lambda ch: ch.component,
    "socket": lambda ch: ch.socket,
    "peername": lambda ch: _endpoint_tuple(ch.socket.getRemoteEndpoint()),
    "sockname": lambda ch: _endpoint_tuple(ch.socket.getLocalEndpoint()),
}
EXTRA_INFO = tuple(_EXTRA)
