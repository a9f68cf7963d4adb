"""``Server``: listen, accept, and run every connection on one ``EventLoop``."""

from __future__ import annotations

import functools
import logging
import math
from typing import Any, Callable

import nettls
from nettls.escape import escape_control
from nettls.eventloop import EventLoop
from nettls.interfaces import IHalfClose, IServerSocketOptions, ISessionInfo, NetworkEndpoint

from ._accept import Acceptor
from ._connection import Connection
from ._lifecycle import Hub, Lifecycle, Phase, format_endpoint
from .handlers import EchoHandler, HttpHandler

__all__ = ["Server"]

log = logging.getLogger("nettls.serve")

#: How long shutdown waits for close_notify writes (SPEC section 12).
SHUTDOWN_GRACE = 1.0
#: Names a throwaway certificate is always valid for.
_LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
#: Hosts that mean "every address": not a name to certify.
_ANY_HOSTS = ("0.0.0.0", "::", "ANY", "ANY_v4", "ANY_v6", "")


def _throwaway(host: str) -> tuple[str, str, list[str], str, tuple[str, ...]]:
    """A throwaway PKI for ``host`` (and the local names): certificate, key,
    chain, root certificate (PEM) and the names the certificate is valid for."""
    from nettls.pki import throwaway_pki

    names = list(_LOCAL_NAMES)
    if host not in names and host not in _ANY_HOSTS:
        names.insert(0, host)
    pki = throwaway_pki(names)
    return pki.leaf.cert_pem, pki.leaf.key_pem, pki.chain_pems, pki.root.cert_pem, tuple(names)


class Server:
    """A TLS server: echo, a small HTTPS page, or an application's handler.

    Args:
        host: the address to listen on.
        port: the port to listen on; 0 picks a free port (see ``endpoint``).
        certificate: the server's certificate (PEM); with ``private_key``
            None too, a throwaway PKI is made (``nettls.pki.throwaway_pki``)
            whose root is ``ca_certificate``.
        private_key: the certificate's key (PEM).
        chain: PEM intermediates sent after the leaf.
        component: the TLS component (default: the one linked to net.TLS).
        tcp_component: the TCP component (default: the linked one).
        http: answer one HTTP request per connection with a small page
            (``HttpHandler``), instead of echoing (``EchoHandler``).
        handler: makes each connection's handler (``IConnectionHandler``;
            called with no arguments when a handshake completes), instead
            of echo or HTTP.
        handshake_timeout: seconds from accept a client has to complete the
            handshake; bytes arriving meanwhile do not extend it (a client that
            trickles its ClientHello is dropped as one that sends nothing).
        idle_timeout: seconds without progress before a connection is
            closed (None or 0: never).
        reloader: returns ``(certificate, private_key, chain)`` afresh (from
            their files) when ``request_reload()`` asks for it (SIGHUP).

    Raises ``nettls.CertificateError`` for a certificate or key that cannot
    be used, ``nettls.RegistryError`` for an unknown component and
    ``ValueError`` for settings that do not fit; ``start`` raises ``OSError``
    when it cannot bind. ``serve`` runs the loop in the calling thread until
    ``stop()``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8443,
        *,
        certificate: str | None = None,
        private_key: str | None = None,
        chain: list[str] | tuple[str, ...] = (),
        component: str | None = None,
        tcp_component: str | None = None,
        http: bool = False,
        handler: Callable[[], Any] | None = None,
        handshake_timeout: float = 10.0,
        idle_timeout: float | None = 60.0,
        logger: logging.Logger | None = None,
        reloader: Callable[[], tuple[str, str, list[str]]] | None = None,
    ) -> None:
        if (certificate is None) != (private_key is None):
            raise ValueError("give both certificate and private_key, or neither (for a throwaway certificate)")
        if not handshake_timeout > 0:
            raise ValueError(f"handshake_timeout must be a positive number of seconds, not {handshake_timeout!r}")
        if http and handler is not None:
            raise ValueError("give http=True or a handler, not both")
        if handler is not None and not callable(handler):
            raise TypeError(f"handler must make a connection handler when called, not be {type(handler).__name__}")
        self.host = host
        self.port = port
        self.http = http
        self.handshake_timeout = float(handshake_timeout)
        self.idle_timeout = float(idle_timeout) if idle_timeout else math.inf
        self.log = logger or log
        self.reloader = reloader
        # Classes from the registry only: the server works with any component.
        resolve: Callable[..., Any] = nettls.resolve
        self._TLS = resolve("net.TLS", component=component)
        self._TLSContext = resolve("net.TLSContext", component=component)
        self._TCPSocket = resolve("net.TCPSocket", component=tcp_component)
        self._TCPServerSocket = resolve("net.TCPServerSocket", component=tcp_component)
        self._TCPMonitor = resolve("net.TCPMonitor", component=tcp_component)
        self.component = component or nettls.registry.linked("net.TLS") or "?"
        if not IServerSocketOptions.implementedBy(self._TCPServerSocket):
            raise nettls.RegistryError(
                f"{self._TCPServerSocket.__qualname__} does not provide IServerSocketOptions "
                "(setNonBlocking, getLocalEndpoint): an event-driven server needs it"
            )
        if handler is None:
            handler = functools.partial(HttpHandler, self.component) if http else EchoHandler
        self._factory: Callable[[], Any] = handler

        #: PEM of the throwaway root CA, or None when a certificate was given.
        self.ca_certificate: str | None = None
        #: The names the throwaway certificate is valid for (empty when a certificate was given).
        self.certificate_names: tuple[str, ...] = ()
        if certificate is None or private_key is None:  # both None (checked above)
            certificate, private_key, chain, self.ca_certificate, self.certificate_names = _throwaway(host)
        self._ctx: Any = None
        self.reload(certificate, private_key, chain)

        self._loop: EventLoop | None = None
        self._hub: Hub | None = None
        self._listener: Any = None
        self._acceptor: Acceptor | None = None
        self._conns: set[Lifecycle] = set()
        self._stop_requested = False
        self._reload_requested = False
        self._shutdown_deadline = math.inf
        #: Connections accepted so far (for tests and curious callers).
        self.accepted = 0

    # -- life ----------------------------------------------------------------------

    @property
    def endpoint(self) -> NetworkEndpoint | None:
        """Where the server listens (the real port after port 0); None before ``start``."""
        return None if self._listener is None else self._listener.getLocalEndpoint()

    @property
    def loop(self) -> EventLoop | None:
        """The loop the server runs on (for a handler's timers); None before ``start``."""
        return self._loop

    @property
    def connections(self) -> int:
        """Connections not yet done. A connection leaves the count when the
        loop has let go of it (its session and socket included), at the end
        of the turn that finished it."""
        return len(self._conns)

    def start(self) -> NetworkEndpoint:
        """Bind and listen; returns the endpoint. OSError if the address cannot be bound."""
        if self._listener is None:
            listener = self._TCPServerSocket()
            listener.setNonBlocking()
            listener.bind(self.host, self.port, True)  # reuseAddress: restart while old connections sit in TIME_WAIT
            try:
                loop = EventLoop(self._TCPMonitor())
            except BaseException:
                listener.unbind()
                raise
            self._hub = Hub(
                loop,
                self._conns,
                log=self.log,
                factory=self._factory,
                tls_class=self._TLS,
                session_info=ISessionInfo.implementedBy(self._TLS),
                half_close=IHalfClose.implementedBy(self._TCPSocket),
                handshake_timeout=self.handshake_timeout,
                idle_timeout=self.idle_timeout,
            )
            self._acceptor = Acceptor(loop, listener, self._TCPSocket, self._start_connection, self._count, self.log)
            self._listener, self._loop = listener, loop
        endpoint: NetworkEndpoint = self._listener.getLocalEndpoint()
        return endpoint

    def stop(self, now: bool = False) -> None:
        """Ask ``serve`` to shut down (safe from any thread and from a signal
        handler); ``now=True`` (a second Ctrl-C) skips the grace period."""
        if now and self._stop_requested:
            self._shutdown_deadline = 0.0
        self._stop_requested = True
        if self._loop is not None:
            self._loop.wake()

    def reload(self, certificate: str, private_key: str, chain: list[str] | tuple[str, ...] = ()) -> None:
        """Serve ``certificate`` and ``private_key`` (PEM) to connections
        accepted from now on; open ones keep theirs. ``CertificateError``
        (and the old certificate stays) when they cannot be used."""
        ctx = self._TLSContext(self._TLSContext.SERVER)
        ctx.setCertificate(certificate, private_key)
        if chain:
            ctx.setCertificateChain(list(chain))
        self._ctx = ctx  # one assignment: safe from any thread

    def request_reload(self) -> None:
        """Ask the loop to call ``reloader`` and ``reload()`` with what it
        returns, logging the outcome (safe from a signal handler: SIGHUP)."""
        self._reload_requested = True
        if self._loop is not None:
            self._loop.wake()

    def serve(self) -> None:
        """Run the loop until ``stop()``; then close every connection cleanly."""
        self.start()
        loop, hub = self._loop, self._hub
        assert loop is not None and hub is not None  # start() made them
        try:
            while True:
                if self._stop_requested and not hub.stopping:
                    self._begin_shutdown()
                    self._reap()
                if self._reload_requested:
                    self._reload_now()
                if hub.stopping:
                    left = self._shutdown_deadline - loop.time()
                    if not self._conns or left <= 0:
                        break
                    loop.run_once(left)
                else:
                    loop.run_once()
                self._reap()
        finally:
            self._close_all()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None:
            self._close_all()

    def __repr__(self) -> str:
        mode = "http" if self.http else "echo"
        return f"<Server {mode} {format_endpoint(self.endpoint)} {self.component} connections={len(self._conns)}>"

    # -- the loop's parts ---------------------------------------------------------------

    def _count(self) -> int:
        return len(self._conns)

    def _reload_now(self) -> None:
        self._reload_requested = False
        if self.reloader is None:
            self.log.warning("reload asked for: nothing to reload (a throwaway certificate)")
            return
        try:
            self.reload(*self.reloader())
        except Exception as exc:  # a file that went missing, a key that does not match
            text = escape_control(" ".join(str(exc).split()))
            self.log.error("certificate reload failed, still serving the previous certificate: %s", text)
            return
        self.log.info("certificate reloaded: new connections get the new one")

    def _start_connection(self, sock: Any) -> None:
        """An accepted socket: a session for it, and the handshake's first step."""
        hub = self._hub
        assert hub is not None
        self.accepted += 1
        peer = format_endpoint(sock.getRemoteEndpoint())
        try:
            sock.setNonBlocking()
            tls = self._TLS(self._ctx)
            tls.setNonBlocking()
            tls.sendWait.subscribe(hub.on_send_wait)
        except Exception as exc:
            self.log.error("%s: cannot set up a session: %s", peer, escape_control(exc), exc_info=True)
            sock.disconnect()
            return
        conn = Connection(hub, sock, tls, peer)
        self._conns.add(conn)
        hub.loop.watch(sock, conn.on_event)
        conn.guarded(conn.handshake)

    def _reap(self) -> None:
        """Take the connections finished this turn out of the count, and tell
        their handlers. Done here, with every step's frame returned, and not
        in ``finish``: a caller up the stack may still hold the session in a
        local, and ``connections == 0`` promises that nothing holds any; and
        a handler hears of its end outside its own calls."""
        hub = self._hub
        if hub is not None and hub.done:
            done, hub.done = hub.done, []
            self._conns.difference_update(done)
            for conn in done:
                conn.lost()

    # -- shutdown --------------------------------------------------------------------------------

    def _begin_shutdown(self) -> None:
        """Stop accepting, end handshakes, send close_notify on open connections."""
        hub, acceptor = self._hub, self._acceptor
        assert hub is not None and acceptor is not None
        hub.stopping = True
        self._shutdown_deadline = min(self._shutdown_deadline, hub.loop.time() + SHUTDOWN_GRACE)
        acceptor.close()
        self.log.info("shutting down: closing %d connection(s)", len(self._conns))
        for conn in list(self._conns):
            phase = conn.phase
            if phase is Phase.HANDSHAKE:
                conn.finish("server shutdown during the handshake")
            elif phase is Phase.OPEN or phase is Phase.PAUSED:
                conn.guarded(conn.begin_close, "server shutdown")
            elif phase is Phase.LINGER:
                conn.guarded(conn.linger_step, True)

    def _close_all(self) -> None:
        for conn in list(self._conns):
            conn.finish("server shutdown", None if conn.outcome is None else "cut short by the shutdown")
        self._reap()
        if self._acceptor is not None:
            self._acceptor.close()
        loop, self._loop, self._listener = self._loop, None, None
        if loop is not None:
            loop.close()
