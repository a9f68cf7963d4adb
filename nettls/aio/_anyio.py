"""anyio streams and listeners over nettls sessions (asyncio and trio backends).

``TLSStream`` is an ``anyio.abc.ByteStream`` over one ``Channel``: each
operation calls the session and, when it has to wait, waits for its
descriptor with ``anyio.wait_readable``/``wait_writable``, so it runs on
every anyio backend. ``receive()`` returns what ``recv()`` gives, waiting
while there is nothing (SPEC 6: ``b""`` is the end only when the session
says so); ``send()`` returns once everything is handed to the kernel, so a
peer that stops reading holds the sender back and memory stays bounded by
one call's data. Ends of stream are anyio's: close_notify raises
``EndOfStream``; a truncation (TCP closed without close_notify), a reset
or a TLS failure raise ``BrokenResourceError`` (as anyio's own
``TLSStream`` with ``standard_compatible=True``), chained from the reason.

``connect_tls`` connects (``ITCPSocket.connect`` waits, so in a worker
thread) and runs the handshake. ``TLSListener`` accepts on a non-blocking
``TCPServerSocket`` and runs each handshake in the handler's own task.
"""

from __future__ import annotations

import logging
import socket
from typing import Any, Callable, Mapping

import anyio
from anyio.abc import ByteStream, Listener, SocketAttribute, TaskGroup
from anyio.streams.tls import TLSAttribute

from nettls.interfaces import TCPServerSocketConstants, TLSError, TLSTimeoutError
from nettls.components.kit import pem_to_der

from ._channel import CLEAN, DONE, READ, Channel, PlainChannel, SessionMaker
from ._connect import PendingConnect

__all__ = ["ChannelStream", "TLSStream", "TLSListener", "connect_tls", "connect_socket", "handshake", "NettlsAttribute"]

log = logging.getLogger("nettls.aio")

#: Seconds close_notify may take to be written in ``aclose()``.
SHUTDOWN_TIMEOUT = 30.0
#: anyio's ``TLSListener`` default: seconds an accepted client has for its handshake.
HANDSHAKE_TIMEOUT = 30.0


class NettlsAttribute(anyio.TypedAttributeSet):
    """nettls's own typed attributes of a ``TLSStream``."""

    #: The nettls session (``ITLS``).
    session: Any = anyio.typed_attribute()
    #: The component that runs the session.
    component: str = anyio.typed_attribute()
    #: The peer's leaf certificate, PEM; None when it sent none.
    peer_certificate: str | None = anyio.typed_attribute()
    #: The certificates the peer sent, PEM, leaf first.
    peer_chain: list[str] = anyio.typed_attribute()
    #: After the end of the stream: whether the peer sent close_notify (None before, or unknown).
    ended_cleanly: bool | None = anyio.typed_attribute()


async def handshake(ch: Channel, timeout: float | None) -> None:
    """Run ``ch``'s handshake; TLSTimeoutError after ``timeout`` seconds. On
    any failure (cancellation included) the socket is disconnected."""
    try:
        with anyio.fail_after(timeout):
            while True:
                need = ch.step()
                if need == DONE:
                    return
                if need == READ:
                    await anyio.wait_readable(ch.fd)
                else:
                    await anyio.wait_writable(ch.fd)
    except BaseException as exc:
        anyio.notify_closing(ch.fd)
        ch.release()
        if isinstance(exc, TimeoutError) and not isinstance(exc, TLSError):
            raise TLSTimeoutError(f"the TLS handshake did not complete within {timeout:g} s") from None
        raise


async def connect_socket(maker: SessionMaker, host: str, port: int, timeout: float | None = None) -> Any:
    """A TCP socket of ``maker``'s component connected to ``host``:``port``
    (in a worker thread; abandoned, and so closed, on cancellation)."""
    pending = PendingConnect(maker.new_socket(), host, port, timeout)
    try:
        await anyio.to_thread.run_sync(pending.run, abandon_on_cancel=True)
    except BaseException:
        pending.abandon()
        raise
    return pending.sock


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


class ChannelStream(ByteStream):
    """An ``anyio.abc.ByteStream`` over a ``Channel`` (or, for ``http://`` in
    ``nettls.httpx``, a ``PlainChannel``): see the module docstring."""

    def __init__(self, channel: Channel | PlainChannel) -> None:
        self._ch: Any = channel
        self._closed = False
        self._receiving = False
        self._sending = False
        # One task at a time waits for writability (trio allows no second
        # waiter on a descriptor): send(), or receive() writing a reply.
        self._write_lock = anyio.Lock()

    @property
    def channel(self) -> Any:
        """The ``Channel`` (or ``PlainChannel``) this stream drives."""
        return self._ch

    def __repr__(self) -> str:
        return f"<nettls.aio.{type(self).__name__} fd={self._ch.fd}{' closed' if self._closed else ''}>"

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if max_bytes < 1:
            raise ValueError("max_bytes must be a positive integer")
        self._check_open()
        if self._receiving:
            raise anyio.BusyResourceError("reading from")
        self._receiving = True
        try:
            await anyio.lowlevel.checkpoint()
            ch = self._ch
            while True:
                self._check_open()
                data = ch.read(max_bytes)
                if data:
                    return data
                if data is not None:
                    raise self._end_error()
                if ch.wants_write() and not self._write_lock.locked():
                    await self._flush()  # a reply the session owes (a key update) goes first
                else:
                    await anyio.wait_readable(ch.fd)
        finally:
            self._receiving = False

    def _end_error(self) -> Exception:
        kind, exc = self._ch.ending()
        if kind == CLEAN:
            return anyio.EndOfStream()
        if exc is None:
            error = anyio.BrokenResourceError("the peer closed the connection without close_notify: the data may be truncated")
        else:
            error = anyio.BrokenResourceError(str(exc))
        error.__cause__ = exc
        return error

    async def send(self, item: bytes) -> None:
        self._check_open()
        if self._sending:
            raise anyio.BusyResourceError("writing to")
        self._sending = True
        try:
            await anyio.lowlevel.checkpoint()
            try:
                self._ch.send(item)
            except (TLSError, OSError) as exc:
                self._check_open()
                raise anyio.BrokenResourceError(str(exc)) from exc
            await self._flush()
        finally:
            self._sending = False

    async def _flush(self) -> None:
        """Wait until everything queued is handed to the kernel."""
        ch = self._ch
        async with self._write_lock:
            while ch.wants_write() or ch.shut == 1:
                await anyio.wait_writable(ch.fd)
                try:
                    ch.flush()
                except (TLSError, OSError) as exc:
                    raise anyio.BrokenResourceError(str(exc)) from exc

    async def aclose(self) -> None:
        """Send close_notify (after what is queued; at most ``SHUTDOWN_TIMEOUT``
        seconds, whatever the caller's cancellation) and disconnect."""
        if self._closed:
            return
        ch = self._ch
        try:
            if not ch.close_step() and not self._write_lock.locked():
                with anyio.move_on_after(SHUTDOWN_TIMEOUT, shield=True):
                    await self._flush()
        except anyio.BrokenResourceError:
            pass
        finally:
            self._closed = True
            anyio.notify_closing(ch.fd)  # wakes a task waiting on the descriptor
            ch.release()

    def _check_open(self) -> None:
        if self._closed:
            raise anyio.ClosedResourceError

    async def send_eof(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot half-close")


class TLSStream(ChannelStream):
    """An ``anyio.abc.ByteStream`` over a nettls session (see the module docstring).

    Made by ``connect_tls`` and ``TLSListener``. Typed attributes:
    ``TLSAttribute`` where nettls has them (``alpn_protocol``, ``cipher``
    as ``(suite, version, None)``, ``peer_certificate_binary`` (DER),
    ``server_side``, ``standard_compatible`` (True), ``tls_version``),
    ``SocketAttribute`` (``family``, the addresses and ports), and
    ``NettlsAttribute``.
    """

    _ch: Channel

    async def send_eof(self) -> None:
        """Send close_notify and a FIN; ``receive()`` goes on. NotImplementedError
        where the socket cannot half-close or the session cannot tell the
        peer's end after ours."""
        ch = self._ch
        if not ch.can_half_close():
            raise NotImplementedError(f"send_eof() needs IHalfClose on the TCP socket and IEndOfStream on the {ch.component} session")
        self._check_open()
        if ch.shut:
            return
        ch.close_step()
        await self._flush()
        ch.shutdown_output()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        ch = self._ch
        session, sock = ch.session, ch.socket
        local, remote = sock.getLocalEndpoint(), sock.getRemoteEndpoint()
        attrs: dict[Any, Callable[[], Any]] = {
            TLSAttribute.alpn_protocol: ch.alpn,
            TLSAttribute.cipher: ch.cipher,
            TLSAttribute.peer_certificate_binary: self._peer_der,
            TLSAttribute.server_side: lambda: ch.server_side,
            TLSAttribute.standard_compatible: lambda: True,
            TLSAttribute.tls_version: ch.version,
            NettlsAttribute.session: lambda: session,
            NettlsAttribute.component: lambda: ch.component,
            NettlsAttribute.peer_certificate: session.getPeerCertificate,
            NettlsAttribute.peer_chain: session.getPeerCertChain,
            NettlsAttribute.ended_cleanly: lambda: ch.info("ended_cleanly"),
        }
        if local is not None and remote is not None:
            attrs.update(
                {
                    SocketAttribute.family: lambda: _family(local.address),
                    SocketAttribute.local_address: lambda: (local.address, local.port),
                    SocketAttribute.local_port: lambda: local.port,
                    SocketAttribute.remote_address: lambda: (remote.address, remote.port),
                    SocketAttribute.remote_port: lambda: remote.port,
                }
            )
        return attrs

    def _peer_der(self) -> bytes | None:
        pem = self._ch.session.getPeerCertificate()
        return None if pem is None else pem_to_der(pem)


async def connect_tls(
    host: str,
    port: int,
    *,
    context: Any,
    server_hostname: str | None = None,
    component: str | None = None,
    tcp_component: str | None = None,
    handshake_timeout: float | None = None,
) -> TLSStream:
    """Connect to ``host``:``port`` and run the TLS handshake; the stream
    once it is done. Arguments as ``nettls.aio.create_connection``'s;
    ``handshake_timeout`` in seconds (None: the caller's cancel scopes bound it).

    Raises:
        ConnectionError: the TCP connection failed, or the peer reset it
            during the handshake.
        nettls.TLSHandshakeError, nettls.TLSTimeoutError, nettls.RegistryError.
    """
    maker = SessionMaker(context, component, tcp_component, "nettls.aio")
    maker.require_mode(False, "connect_tls()")
    name = maker.client_name(host, server_hostname)
    sock = await connect_socket(maker, host, port)
    try:
        ch = maker.channel(sock, name)
    except BaseException:
        sock.disconnect()
        raise
    await handshake(ch, handshake_timeout)
    return TLSStream(ch)


class TLSListener(Listener[TLSStream]):
    """An ``anyio.abc.Listener`` of TLS connections: listens on ``host``
    (None or "" for every address) and ``port`` (0 picks one: see
    ``port``), with a SERVER ``context`` of any component.

    ``serve(handler)`` runs ``handler(stream)`` in a task of its own for
    each connection whose handshake completes within ``handshake_timeout``;
    a failed handshake goes to ``handle_handshake_error`` (logged). As with
    anyio's listeners, the handler closes its stream.
    """

    def __init__(
        self,
        host: str | None,
        port: int,
        *,
        context: Any,
        component: str | None = None,
        tcp_component: str | None = None,
        handshake_timeout: float | None = HANDSHAKE_TIMEOUT,
        reuse_address: bool = True,
    ) -> None:
        maker = SessionMaker(context, component, tcp_component, "nettls.aio")
        maker.require_mode(True, "TLSListener")
        maker.check_listener()
        listener = maker.server_class()
        listener.setNonBlocking()
        listener.bind(host or TCPServerSocketConstants.ANY_ADDRESS, port, reuse_address)
        self._maker = maker
        self._listener: Any = listener
        self._fd: int = listener.fileno()
        #: The port listened on (the one the system chose for port 0).
        self.port: int = listener.getLocalEndpoint().port
        self.handshake_timeout = handshake_timeout


    async def accept(self) -> TLSStream:
        """Wait for one connection and run its handshake; its stream."""
        while True:
            sock = self._accept_one()
            if sock is not None:
                ch = self._maker.channel(sock)
                await handshake(ch, self.handshake_timeout)
                return TLSStream(ch)
            await anyio.wait_readable(self._fd)

    def _accept_one(self) -> Any:
        if self._listener is None:
            raise anyio.ClosedResourceError
        sock = self._maker.new_socket()
        return sock if sock.accept(self._listener) else None

    async def serve(self, handler: Callable[[TLSStream], Any], task_group: TaskGroup | None = None) -> None:
        async with anyio.create_task_group() as own:
            group = task_group or own
            while True:
                await anyio.wait_readable(self._fd)
                try:
                    while (sock := self._accept_one()) is not None:
                        group.start_soon(self._handle, sock, handler)
                except OSError as exc:  # out of descriptors: wait a little, then accept again
                    log.error("nettls.aio: accept() failed: %s", exc)
                    await anyio.sleep(0.1)

    async def _handle(self, sock: Any, handler: Callable[[TLSStream], Any]) -> None:
        try:
            ch = self._maker.channel(sock)
        except Exception as exc:
            sock.disconnect()
            await self.handle_handshake_error(exc)
            return
        try:
            await handshake(ch, self.handshake_timeout)
        except BaseException as exc:
            await self.handle_handshake_error(exc)
            return
        await handler(TLSStream(ch))

    @staticmethod
    async def handle_handshake_error(exc: BaseException) -> None:
        """Log a failed handshake; re-raise cancellation and base exceptions."""
        if not isinstance(exc, Exception):
            raise exc
        log.debug("nettls.aio: TLS handshake failed: %s", exc)

    async def aclose(self) -> None:
        if self._listener is not None:
            anyio.notify_closing(self._fd)
            self._listener.unbind()
            self._listener = None

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        endpoint = None if self._listener is None else self._listener.getLocalEndpoint()
        if endpoint is None:
            return {}
        return {
            SocketAttribute.family: lambda: _family(endpoint.address),
            SocketAttribute.local_address: lambda: (endpoint.address, endpoint.port),
            SocketAttribute.local_port: lambda: endpoint.port,
        }
