"""A real TLS server on the nettls interfaces: one thread, non-blocking,
driven by a ``TCPMonitor``. ``nettls serve`` is a thin front over ``Server``.

Theory of operation
-------------------
The server uses only the spec interfaces and the extension interfaces of
SPEC section 11, on classes obtained through ``nettls.resolve``, so it runs
on any component that provides them. One loop does everything::

    monitor.wait(until the next deadline)  ->  events
    server socket readable   -> accept until TCPSocket().accept() is False
    waker readable           -> stop() or request_reload() was called (a signal)
    a connection's event     -> its state machine takes one step
    then: connections owed a read, polled connections, expired deadlines

No call on a client socket ever blocks: every socket and session is
non-blocking, and a session's ``sendWait`` arms the monitor's one-shot
send notification for its socket.

A connection (``Connection``, a few slots) is in one ``Phase``; the legal moves
are the table ``MOVES`` (both in ``nettls.server_conn``):

    HANDSHAKE --OK--> OPEN --(peer ended, HTTP answered, idle, shutdown)--> CLOSING --> LINGER --> DONE
        |              | ^                                                     |            ^
        |              v |  (more than HIGH_WATER held: stop reading)          |            |
        |             PAUSED ---------------------------------------------------+            |
        +--FAIL / any failure-----------------------------------------------------------------+

- HANDSHAKE: ``tls.accept(sock)`` on every event, until OK or FAIL.
- OPEN: on recv-ready, one read turn: ``recv()`` until it returns ``b""``,
  at most ``READ_CALLS`` calls and no new call after ``TURN_SECONDS``
  (the rest on the next turn, for fairness). The turn is bounded by
  ciphertext, not plaintext: each non-blocking session call processes at
  most 64 KiB of ciphertext (SPEC section 14), so a peer whose records
  carry no application data (a KeyUpdate flood) costs one call's work per
  turn, and one that mixes in a byte of data now and then is cut off by
  the clock after its first expensive call. Echo mode sends the
  turn's input back in one ``send()``, HTTP mode collects the request head
  (``nettls.server_http``). A ``b""`` with ``getStatus() == FAIL`` means
  the peer's stream ended. On send-ready, ``sendBuffer()``.
- PAUSED: a peer that sends without reading (echo data, or KeyUpdates
  that ask for a reply) would make us queue without bound. Above
  ``HIGH_WATER`` held (see Memory) a connection stops reading; but the monitor reports a readable socket on every wait
  until it is read (level-triggered), and it has no way to suspend only
  read interest. So a paused connection leaves the monitor and is
  *polled*: every ``POLL_INTERVAL`` its ``sendBuffer()`` runs, and below
  ``LOW_WATER`` it returns to the monitor and to OPEN.
- CLOSING: ``close()`` (close_notify after what is queued) returned
  WAIT_WRITE; each send-ready calls ``close()`` again. What the peer sends
  meanwhile is read from the socket and dropped: the session no longer
  reads. Before ``close()``, input we will not answer (an HTTP body, echo
  data of a paused connection) is read from the session and dropped, at
  most one read turn's worth: the stdlib component's ``close()``
  loses close_notify when unread application data sits in the session.
- LINGER: the session is finished (closed, or failed with its alert handed
  to the socket, SPEC section 11). The socket's queue is written on,
  ``shutdownOutput()`` sends FIN after it, and what arrives is read and
  dropped until the peer's FIN or ``LINGER_SECONDS``: closing a socket with
  unread input sends a reset, which can make the peer lose our alert or our
  last response before it reads them.
- DONE: the socket is disconnected and one log line is written (peer,
  protocol, cipher, bytes in/out, time, outcome).

A connection whose peer has already sent FIN stays readable for ever, so
while it still owes writes (CLOSING, LINGER) it is polled too rather than
watched.

Timers. Each connection has one ``deadline`` (handshake: accept time +
handshake timeout; OPEN/PAUSED/CLOSING: last progress + idle timeout,
except an HTTP request head, which must be complete within the idle timeout
of the handshake's end, however slowly it trickles; LINGER: entry +
``LINGER_SECONDS``). A heap holds at most one live entry per connection
(``heap_at``): moving a deadline later only updates the field, and the
entry, when it comes due, is pushed again at the new time; moving it
earlier pushes a new entry and the old one is skipped as stale. Entries of
finished connections are pruned once the heap is twice the live count,
and a finished connection lets go of its socket and session at once.

Memory: what a connection makes the server hold is counted, and above
``HIGH_WATER`` it stops reading; see ``nettls.server_conn``.

Reload (``request_reload()``, SIGHUP in ``nettls serve``): at the top of
the next loop the ``reloader`` gives the certificate and key afresh and
``reload()`` makes a new context of them; connections accepted from then on
use it, open ones keep theirs (SPEC section 6: a context change affects
only sessions made afterwards). When that fails the error is logged and
the old context stays.

Shutdown (``stop()``): stop accepting, end handshakes at once, send
close_notify on every open session, and go on serving the events that
write those until every connection is done or ``SHUTDOWN_GRACE`` (1 s) has
passed; lingering connections are then ended as soon as their writes are
out.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import logging
import math
import socket
import time
from typing import Any, Callable

from zope.interface import implementer

import nettls
from nettls.escape import escape_control
from nettls.interfaces import (
    IHalfClose,
    ISelectable,
    IServerSocketOptions,
    ISessionInfo,
    NetworkEndpoint,
    TLSError,
)
from nettls.server_conn import HIGH_WATER, LOW_WATER, MEMORY_BOUND, MOVES, Connection, Phase, format_endpoint
from nettls.server_http import HTTP_HEADER_LIMIT, HeadTooLong, Reply, RequestHead, answer, bad_request

__all__ = ["Server", "Phase", "HTTP_HEADER_LIMIT", "MEMORY_BOUND", "format_endpoint"]

log = logging.getLogger("nettls.serve")

#: Plaintext asked of ``recv()`` at a time: one TLS record's worth.
RECV_SIZE = 16384
#: Session calls one connection gets per turn before others get theirs: each
#: processes at most 64 KiB of ciphertext (SPEC 14), so a turn at most 1 MiB;
#: 16 full records (256 KiB of plaintext) keep a bulk echo fast.
READ_CALLS = 16
#: ... and no further call once a turn has taken this long: a call can cost
#: far more CPU per byte than another (64 KiB of KeyUpdates: tens of ms).
TURN_SECONDS = 0.001
#: How long a finished connection waits for the peer's FIN (see LINGER).
LINGER_SECONDS = 1.0
#: How long shutdown waits for close_notify writes (SPEC section 12).
SHUTDOWN_GRACE = 1.0
#: How often polled connections (paused, or owing writes to a peer that sent FIN) are tried.
POLL_INTERVAL = 0.05
#: Connections accepted per readiness event before other work gets a turn.
ACCEPT_BATCH = 256
#: Back-off when accept() fails (typically EMFILE: out of file descriptors).
ACCEPT_RETRY = 0.1
#: Seconds between two log lines about failing accept() calls.
ACCEPT_LOG_EVERY = 5.0
#: How long close_notify may take to be written (at most the idle timeout).
CLOSE_TIMEOUT = 30.0
#: Longest monitor wait without a waker (a monitor that refuses one).
_TICK = 0.25


@implementer(ISelectable)
class _Waker:
    """One end of a socket pair the monitor watches, so that ``stop()`` (from
    another thread or a signal handler) wakes ``wait()`` at once."""

    def __init__(self) -> None:
        self._r, self._w = socket.socketpair()
        self._r.setblocking(False)
        self._w.setblocking(False)

    def fileno(self) -> int:
        return self._r.fileno()

    def isNonBlocking(self) -> bool:
        return True

    def wake(self) -> None:
        try:
            self._w.send(b"\0")
        except OSError:  # full (a wake-up is pending anyway) or closed
            pass

    def drain(self) -> None:
        try:
            while self._r.recv(4096):
                pass
        except OSError:
            pass

    def close(self) -> None:
        self._r.close()
        self._w.close()


class Server:
    """A TLS echo or HTTPS server; see the module's theory of operation.

    Args:
        host, port: where to listen; port 0 picks a free port (see ``endpoint``).
        certificate, private_key: PEM text; both None makes a throwaway PKI
            (``nettls.pki.throwaway_pki``) whose root is ``ca_certificate``.
        chain: PEM intermediates sent after the leaf.
        component: the TLS component (default: the one linked to net.TLS).
        tcp_component: the TCP component (default: the linked one).
        http: answer one HTTP request per connection with a small page,
            instead of echoing.
        handshake_timeout: seconds from accept a client has to complete the
            handshake; bytes arriving meanwhile do not extend it (a client that
            trickles its ClientHello is dropped as one that sends nothing).
        idle_timeout: seconds without progress before a connection is
            closed (None or 0: never).
        reloader: returns ``(certificate, private_key, chain)`` afresh (from
            their files) when ``request_reload()`` asks for it (SIGHUP).

    Raises ``nettls.CertificateError`` for a certificate or key that cannot
    be used and ``nettls.RegistryError`` for an unknown component; ``start``
    raises ``OSError`` when it cannot bind. ``serve`` runs the loop in the
    calling thread until ``stop()``.
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
        handshake_timeout: float = 10.0,
        idle_timeout: float | None = 60.0,
        logger: logging.Logger | None = None,
        reloader: Callable[[], tuple[str, str, list[str]]] | None = None,
    ) -> None:
        if (certificate is None) != (private_key is None):
            raise ValueError("give both certificate and private_key, or neither (for a throwaway certificate)")
        if not handshake_timeout > 0:
            raise ValueError(f"handshake_timeout must be a positive number of seconds, not {handshake_timeout!r}")
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
        self._OK, self._FAIL, self._WAIT_WRITE = self._TLS.OK, self._TLS.FAIL, self._TLS.WAIT_WRITE
        self._session_info = ISessionInfo.implementedBy(self._TLS)
        self._half_close = IHalfClose.implementedBy(self._TCPSocket)

        #: PEM of the throwaway root CA, or None when a certificate was given.
        self.ca_certificate: str | None = None
        #: The names the throwaway certificate is valid for (empty when a certificate was given).
        self.certificate_names: tuple[str, ...] = ()
        if certificate is None or private_key is None:  # both None (checked above)
            from .pki import throwaway_pki

            names = ["localhost", "127.0.0.1", "::1"]
            if host not in names and host not in ("0.0.0.0", "::", "ANY", "ANY_v4", "ANY_v6", ""):
                names.insert(0, host)
            pki = throwaway_pki(names)
            certificate, private_key = pki.leaf.cert_pem, pki.leaf.key_pem
            chain = pki.chain_pems
            self.ca_certificate = pki.root.cert_pem
            self.certificate_names = tuple(names)
        self._ctx: Any = None
        self.reload(certificate, private_key, chain)

        self._listener: Any = None
        self._monitor: Any = None
        self._waker: _Waker | None = None
        self._conns: set[Connection] = set()
        self._done: list[Connection] = []  # finished this turn; leave _conns when the turn is over (_reap)
        self._again: dict[Connection, None] = {}  # owed a read turn (budget spent), in order
        self._polled: set[Connection] = set()  # out of the monitor, tried every POLL_INTERVAL
        self._timers: list[tuple[float, int, Connection]] = []
        self._seq = itertools.count()
        self._accept_paused_until = 0.0
        self._accept_failure_logged = -math.inf
        self._stop_requested = False
        self._reload_requested = False
        self._stopping = False
        self._shutdown_deadline = math.inf
        self._on_send_wait: Callable[[Any], None] = self._arm_from_event  # one bound method for every session
        #: Connections accepted so far (for tests and curious callers).
        self.accepted = 0

    # -- life ----------------------------------------------------------------------

    @property
    def endpoint(self) -> NetworkEndpoint | None:
        """Where the server listens (the real port after port 0); None before ``start``."""
        return None if self._listener is None else self._listener.getLocalEndpoint()

    @property
    def connections(self) -> int:
        """Connections not yet done. A connection leaves the count when the
        loop has let go of it (its session and socket included), at the end
        of the turn that finished it."""
        return len(self._conns)

    def start(self) -> NetworkEndpoint:
        """Bind and listen; returns the endpoint. OSError if the address cannot be bound."""
        if self._listener is not None:
            endpoint: NetworkEndpoint = self._listener.getLocalEndpoint()
            return endpoint
        listener = self._TCPServerSocket()
        listener.setNonBlocking()
        listener.bind(self.host, self.port, True)  # reuseAddress: restart while old connections sit in TIME_WAIT
        monitor = self._TCPMonitor()
        waker: _Waker | None = None
        try:
            monitor.addSocket(listener, self._accept_all)
            waker = _Waker()
            try:
                watched = monitor.addSocket(waker, None)
            except TypeError:  # a monitor that takes only its own sockets
                watched = False
            if not watched:  # then the loop wakes every _TICK to notice stop()
                waker.close()
                waker = None
        except BaseException:
            if waker is not None:
                waker.close()
            listener.unbind()
            raise
        self._listener, self._monitor, self._waker = listener, monitor, waker
        bound: NetworkEndpoint = listener.getLocalEndpoint()
        return bound

    def stop(self, now: bool = False) -> None:
        """Ask ``serve`` to shut down (safe from any thread and from a signal
        handler); ``now=True`` (a second Ctrl-C) skips the grace period."""
        if now and self._stop_requested:
            self._shutdown_deadline = 0.0
        self._stop_requested = True
        if self._waker is not None:
            self._waker.wake()

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
        if self._waker is not None:
            self._waker.wake()

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

    def serve(self) -> None:
        """Run the loop until ``stop()``; then close every connection cleanly."""
        self.start()
        monitor = self._monitor
        try:
            while True:
                now = time.monotonic()
                if self._stop_requested and not self._stopping:
                    self._begin_shutdown(now)
                    self._reap()
                if self._reload_requested:
                    self._reload_now()
                if self._stopping and (not self._conns or now >= self._shutdown_deadline):
                    break
                if self._accept_paused_until and now >= self._accept_paused_until and not self._stopping:
                    self._accept_paused_until = 0.0
                    monitor.addSocket(self._listener, self._accept_all)
                now = self._dispatch_all(monitor.wait(self._wait_ms(now)))
                if self._again:
                    again, self._again = self._again, {}
                    for conn in again:
                        if conn.phase is Phase.OPEN:
                            self._guarded(self._read, conn, now)
                if self._polled:
                    for conn in list(self._polled):
                        self._guarded(self._on_writable, conn, now)
                self._expire(now)
                self._reap()
        finally:
            self._close_all()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._monitor is not None:
            self._close_all()

    def __repr__(self) -> str:
        mode = "http" if self.http else "echo"
        return f"<Server {mode} {format_endpoint(self.endpoint)} {self.component} connections={len(self._conns)}>"

    # -- the loop's parts ---------------------------------------------------------------

    def _wait_ms(self, now: float) -> float:
        if self._again:
            return 0.0
        until = self._shutdown_deadline
        if self._timers:
            until = min(until, self._timers[0][0])
        if self._accept_paused_until:
            until = min(until, self._accept_paused_until)
        limit = POLL_INTERVAL if self._polled else (_TICK if self._waker is None else math.inf)
        seconds = min(max(until - now, 0.0), limit)
        if (self._stop_requested and not self._stopping) or self._reload_requested:
            seconds = 0.0
        return 1000.0 * seconds if seconds != math.inf else 60_000.0

    def _reap(self) -> None:
        """Take the connections finished this turn out of the count. Done here,
        with every step's frame returned, and not in ``_finish``: a caller up
        the stack may still hold the session in a local when ``_finish``
        returns, and ``connections == 0`` promises that nothing holds any."""
        if self._done:
            self._conns.difference_update(self._done)
            self._done.clear()

    def _dispatch_all(self, events: list[Any]) -> float:
        """Handle one wait's events; returns the time they were handled at.
        A function of its own so that the list (each event holds its socket)
        is let go of at once, not kept by the loop until the next wake-up,
        which may be a minute away on an idle server.

        This loop runs once per request on a busy server, so a connection's
        event goes straight to ``_on_event``, guarded here as ``_guarded``
        would (a ``try`` costs nothing in CPython 3.11 until it catches)."""
        now = time.monotonic()
        on_event = self._on_event
        for event in events:
            target = event.userData
            if isinstance(target, Connection):
                if target.phase is not Phase.DONE:
                    try:
                        on_event(target, now, event)
                    except Exception as exc:
                        self._internal_error(target, exc)
            elif target is None:
                if self._waker is not None:
                    self._waker.drain()
            else:
                target(now)  # the listener's accept_all
        return now

    def _guarded(self, step: Callable[..., None], conn: Connection, now: float, *args: Any) -> None:
        """Run one step of ``conn``; a bug or an unexpected error ends that
        connection only, never the server."""
        try:
            step(conn, now, *args)
        except Exception as exc:
            self._internal_error(conn, exc)

    def _internal_error(self, conn: Connection, exc: Exception) -> None:
        """A step of ``conn`` raised: log it with its traceback and end that connection."""
        text = escape_control(exc)
        self.log.error("%s: internal error in %s: %s", conn.peer, conn.phase.value, text, exc_info=exc)
        self._finish(conn, f"internal error: {type(exc).__name__}: {text}")

    def _move(self, conn: Connection, phase: Phase) -> None:
        if phase not in MOVES[conn.phase]:
            raise RuntimeError(f"{conn!r}: no move from {conn.phase.value} to {phase.value}")
        conn.phase = phase

    # -- timers -----------------------------------------------------------------------------

    def _set_deadline(self, conn: Connection, when: float) -> None:
        conn.deadline = when
        if when < conn.heap_at:
            conn.heap_at = when
            timers = self._timers
            heapq.heappush(timers, (when, next(self._seq), conn))
            if len(timers) > 2 * len(self._conns) + 1024:
                self._prune_timers()

    def _prune_timers(self) -> None:
        """Drop the entries of finished connections and stale ones, so that a
        busy server's heap stays the size of its live connections (amortised:
        it runs when the heap has grown to twice that)."""
        live = [e for e in self._timers if e[2].phase is not Phase.DONE and e[0] == e[2].heap_at]
        heapq.heapify(live)
        self._timers = live

    def _expire(self, now: float) -> None:
        while self._timers and self._timers[0][0] <= now:  # not a local: a prune replaces the list
            at, _, conn = heapq.heappop(self._timers)
            if conn.phase is Phase.DONE or at != conn.heap_at:
                continue  # stale
            conn.heap_at = math.inf
            if conn.deadline > now:
                self._set_deadline(conn, conn.deadline)
                continue
            self._guarded(self._timed_out, conn, now)

    def _timed_out(self, conn: Connection, now: float) -> None:
        phase = conn.phase
        if phase is Phase.HANDSHAKE:
            self._finish(conn, f"handshake timed out after {self.handshake_timeout:g} s")
        elif phase in (Phase.OPEN, Phase.PAUSED):
            what = "request incomplete" if self.http and conn.head is not None else "idle"
            self._begin_close(conn, now, f"{what} for {self.idle_timeout:g} s: closed")
        elif phase is Phase.CLOSING:
            self._finish(conn, None, "close_notify not delivered in time")
        else:
            self._finish(conn, None)

    # -- accepting ----------------------------------------------------------------------------

    def _accept_all(self, now: float) -> None:
        listener = self._listener
        for _ in range(ACCEPT_BATCH):
            if self._stopping:
                return
            sock = self._TCPSocket()
            try:
                if not sock.accept(listener):
                    return
            except OSError as exc:
                # EMFILE/ENFILE/ENOBUFS: stop accepting for a moment, or the
                # still-readable listener would spin the loop.
                level = logging.WARNING if exc.errno in (errno.EMFILE, errno.ENFILE) else logging.ERROR
                if now - self._accept_failure_logged < ACCEPT_LOG_EVERY:
                    level = logging.DEBUG  # once in a while is enough while it lasts
                else:
                    self._accept_failure_logged = now
                self.log.log(level, "accept failed (%d connections open): %s", len(self._conns), exc)
                self._monitor.remSocket(listener)
                self._accept_paused_until = now + ACCEPT_RETRY
                return
            self.accepted += 1
            self._start_connection(sock, now)

    def _start_connection(self, sock: Any, now: float) -> None:
        peer = format_endpoint(sock.getRemoteEndpoint())
        try:
            sock.setNonBlocking()
            tls = self._TLS(self._ctx)
            tls.setNonBlocking()
            tls.sendWait.subscribe(self._on_send_wait)
        except Exception as exc:
            self.log.error("%s: cannot set up a session: %s", peer, escape_control(exc), exc_info=True)
            sock.disconnect()
            return
        conn = Connection(sock, tls, peer, now, now + self.handshake_timeout)
        self._conns.add(conn)
        self._set_deadline(conn, conn.deadline)
        self._monitor.addSocket(sock, conn)
        self._guarded(self._handshake, conn, now)

    def _arm_from_event(self, event: Any) -> None:
        """The sessions' ``sendWait`` listener: wake me when the socket is writable."""
        self._monitor.armSendNotify(event.source.getSocket())

    def _arm(self, conn: Connection) -> None:
        self._monitor.armSendNotify(conn.sock)

    # -- one connection's steps -------------------------------------------------------------------

    def _on_event(self, conn: Connection, now: float, event: Any) -> None:
        phase = conn.phase
        readable = event.recvReady or event.close
        if phase is Phase.HANDSHAKE:
            self._handshake(conn, now)
            return
        if event.sendReady:
            self._on_writable(conn, now)
        if conn.phase is not phase:
            return
        if readable:
            if phase is Phase.OPEN:
                self._read(conn, now)
            elif phase is Phase.CLOSING:
                self._drain(conn)
                if conn.peer_eof:
                    self._poll(conn)  # it would be reported readable on every wait
            elif phase is Phase.LINGER:
                self._linger_step(conn, now, read=True)

    def _on_writable(self, conn: Connection, now: float) -> None:
        phase = conn.phase
        if phase is Phase.HANDSHAKE:
            self._handshake(conn, now)
        elif phase in (Phase.OPEN, Phase.PAUSED):
            tls = conn.tls
            try:
                if tls.sendBuffer():
                    self._progress(conn, now)
            except (TLSError, OSError) as exc:
                self._linger(conn, now, f"connection broken while sending: {exc}")
                return
            if phase is Phase.PAUSED and conn.held() <= LOW_WATER:
                self._unpoll(conn)
                self._move(conn, Phase.OPEN)
                if conn.sock.getBufferUnsent():
                    self._arm(conn)
                self._read(conn, now)  # data may be waiting inside the session
        elif phase is Phase.CLOSING:
            self._continue_close(conn, now)
        elif phase is Phase.LINGER:
            self._linger_step(conn, now, write=True)

    def _handshake(self, conn: Connection, now: float) -> None:
        status = conn.tls.accept(conn.sock)
        if status == self._OK:
            self._move(conn, Phase.OPEN)
            if self._session_info:
                try:
                    conn.protocol = conn.tls.getProtocolVersion()
                    conn.cipher = conn.tls.getCipherSuite()
                except Exception:  # a component's bug must not end the connection
                    pass
            self._set_deadline(conn, now + self.idle_timeout)  # may be sooner than the handshake's
            if self.log.isEnabledFor(logging.DEBUG):
                self.log.debug("%s: handshake done: %s %s", conn.peer, conn.protocol, conn.cipher)
            self._read(conn, now)  # application data may have come with the Finished
        elif status == self._FAIL:
            self._linger(conn, now, f"handshake failed: {self._reason(conn)}")
        elif status == self._WAIT_WRITE:
            self._arm(conn)

    def _read(self, conn: Connection, now: float) -> None:
        """Take one read turn: ``recv()`` until ``b""``, at most ``READ_CALLS``
        calls and ``TURN_SECONDS``, and not past ``HIGH_WATER`` held; echo the
        turn's input in one ``send()``."""
        self._again.pop(conn, None)  # this is the turn it was owed
        tls = conn.tls
        http = self.http
        echo: list[bytes] = []
        size = 0  # echo input not yet handed to the session
        ended = None  # getStatus() after a recv() returned b""
        until = time.perf_counter() + TURN_SECONDS
        for _ in range(READ_CALLS):
            data = tls.recv(RECV_SIZE)
            if not data:
                ended = tls.getStatus()
                break
            conn.bytes_in += len(data)
            if http:
                if self._collect_head(conn, now, data):
                    return
            else:
                echo.append(data)
                size += len(data)
            if conn.held() + size > HIGH_WATER:
                break  # paused below
            if time.perf_counter() > until:
                break
        if echo:
            self._progress(conn, now)
            conn.bytes_out += size
            try:
                tls.send(echo[0] if len(echo) == 1 else b"".join(echo))
            except (TLSError, OSError) as exc:
                self._linger(conn, now, f"connection broken while sending: {exc}")
                return
        if ended == self._FAIL:  # the stream ended (close_notify, truncation) or failed
            reason = self._reason(conn)
            if http:
                reason += "; before a complete request" if conn.bytes_in else "; no request sent"
            self._begin_close(conn, now, f"ended: {reason}")
        elif conn.held() > HIGH_WATER:
            self._move(conn, Phase.PAUSED)
            self._poll(conn)
        elif ended is None:
            self._again[conn] = None  # the budget ran out: more may be waiting
        elif ended == self._WAIT_WRITE:
            self._arm(conn)

    def _collect_head(self, conn: Connection, now: float, data: bytes) -> bool:
        """Add ``data`` to the HTTP request head; answer when it is complete.
        True when the connection has moved on (answered)."""
        head = conn.head
        if head is None:
            head = conn.head = RequestHead()
        try:
            complete = head.feed(data)
        except HeadTooLong as exc:
            self._respond(conn, now, bad_request(str(exc)))
            return True
        if complete is None:
            return False
        self._respond(conn, now, answer(complete, conn.protocol, conn.cipher, self.component))
        return True

    def _respond(self, conn: Connection, now: float, reply: Reply) -> None:
        """Write the whole response in one ``send()``, then close_notify."""
        conn.head = None
        conn.bytes_out += len(reply.data)
        try:
            conn.tls.send(reply.data)
        except (TLSError, OSError) as exc:
            self._linger(conn, now, f"connection broken while sending: {exc}")
            return
        self._begin_close(conn, now, reply.outcome)

    def _progress(self, conn: Connection, now: float) -> None:
        """Data moved: push the idle deadline back. Not in HTTP mode: the
        request must be complete within the idle timeout of the handshake,
        however slowly it trickles in."""
        if not self.http:
            conn.deadline = now + self.idle_timeout

    # -- ending ---------------------------------------------------------------------------------

    def _begin_close(self, conn: Connection, now: float, outcome: str) -> None:
        """Send close_notify (after what is queued); CLOSING until written."""
        if conn.outcome is None:
            conn.outcome = outcome
        tls = conn.tls
        try:
            # Input we will never answer (an HTTP body, echo data when paused)
            # is dropped first: the stdlib component loses close_notify when
            # close() finds unread application data inside the session.
            # As much as one read turn, no more.
            until = time.perf_counter() + TURN_SECONDS
            for _ in range(READ_CALLS):
                data = tls.recv(RECV_SIZE)
                conn.bytes_in += len(data)
                if not data or time.perf_counter() > until:
                    break
            status = tls.close()
        except (TLSError, OSError) as exc:  # not expected of close(); the peer is gone anyway
            self._linger(conn, now, f"close failed: {exc}")
            return
        if status != self._WAIT_WRITE:  # OK: written; FAIL: the session had failed
            self._linger(conn, now)
            return
        self._move(conn, Phase.CLOSING)
        self._set_deadline(conn, now + min(self.idle_timeout, CLOSE_TIMEOUT))
        if conn.peer_eof:
            self._poll(conn)
        else:
            self._unpoll(conn)  # back from PAUSED: watch it again, so its input is drained
            self._arm(conn)

    def _continue_close(self, conn: Connection, now: float) -> None:
        try:
            status = conn.tls.close()
        except (TLSError, OSError) as exc:
            self._linger(conn, now, f"close failed: {exc}")
            return
        if status != self._WAIT_WRITE:
            self._linger(conn, now)
        elif conn not in self._polled:
            self._arm(conn)

    def _linger(self, conn: Connection, now: float, outcome: str | None = None) -> None:
        """The session is finished: let its last bytes (alert, close_notify)
        reach the peer, send FIN after them, and wait briefly for the peer's."""
        if conn.outcome is None:
            conn.outcome = outcome
        self._move(conn, Phase.LINGER)
        self._set_deadline(conn, now + LINGER_SECONDS)
        if not conn.peer_eof:
            self._unpoll(conn)  # back from PAUSED or CLOSING: watch it again, to see the peer's FIN
        if self._half_close:
            try:
                conn.sock.shutdownOutput()  # FIN after what the socket still queues
            except OSError:
                pass
        self._linger_step(conn, now, read=True, write=True)

    def _linger_step(self, conn: Connection, now: float, read: bool = False, write: bool = False) -> None:
        """Read and drop input, write the socket's queue on; done once the
        queue is out and the peer has sent FIN (or we are shutting down)."""
        sock = conn.sock
        if read:
            self._drain(conn)
        if write and sock.getBufferUnsent():
            try:
                sock.sendBuffer()
            except OSError:
                self._finish(conn, None)
                return
        if sock.getBufferUnsent():
            if conn.peer_eof:
                self._poll(conn)  # it would be reported readable on every wait
            elif conn not in self._polled:
                self._arm(conn)
        elif conn.peer_eof or self._stopping or not self._half_close:
            self._finish(conn, None)

    def _drain(self, conn: Connection) -> None:
        """Read and drop what the peer sends once we are done with the session
        (the session no longer reads); notes the peer's FIN."""
        sock = conn.sock
        for _ in range(16):
            if not sock.recv(RECV_SIZE):
                if not sock.connected():
                    conn.peer_eof = True
                return

    def _finish(self, conn: Connection, outcome: str | None, note: str | None = None) -> None:
        """Disconnect and log one line."""
        if conn.phase is Phase.DONE:
            return
        conn.phase = Phase.DONE
        if conn.outcome is None:
            conn.outcome = outcome or "closed"
        if note:
            conn.outcome += f"; {note}"
        self._done.append(conn)  # leaves _conns at the end of the turn (_reap)
        self._polled.discard(conn)
        sock, tls = conn.sock, conn.tls
        try:
            self._monitor.remSocket(sock)
        except Exception:
            pass
        try:
            unsent = tls.getBufferUnsent()
        except Exception:
            unsent = 0
        try:
            tls.sendWait.unsubscribe(self._on_send_wait)
        except Exception:
            pass
        try:
            sock.disconnect()
        except OSError:
            pass
        conn.head = None
        conn.sock = conn.tls = None  # a heap entry may hold the connection until its time: keep it small
        if self.log.isEnabledFor(logging.INFO):
            self.log.info(
                "%s %s %s in=%d out=%d time=%.3fs %s",
                conn.peer,
                conn.protocol or "-",
                conn.cipher or "-",
                conn.bytes_in,
                max(conn.bytes_out - unsent, 0),
                time.monotonic() - conn.started,
                escape_control(conn.outcome),  # it may quote the peer (an alert, a request target)
            )

    def _reason(self, conn: Connection) -> str:
        if not self._session_info:
            return "unknown reason"
        try:
            return conn.tls.getFailureReason() or "no reason given"
        except Exception:
            return "unknown reason"

    # -- polling ---------------------------------------------------------------------------------

    def _poll(self, conn: Connection) -> None:
        if conn not in self._polled:
            self._monitor.remSocket(conn.sock)
            self._polled.add(conn)

    def _unpoll(self, conn: Connection) -> None:
        if conn in self._polled:
            self._polled.discard(conn)
            self._monitor.addSocket(conn.sock, conn)

    # -- shutdown --------------------------------------------------------------------------------

    def _begin_shutdown(self, now: float) -> None:
        self._stopping = True
        self._shutdown_deadline = min(self._shutdown_deadline, now + SHUTDOWN_GRACE)
        self._monitor.remSocket(self._listener)
        self._listener.unbind()
        self.log.info("shutting down: closing %d connection(s)", len(self._conns))
        for conn in list(self._conns):
            phase = conn.phase
            if phase is Phase.HANDSHAKE:
                self._finish(conn, "server shutdown during the handshake")
            elif phase in (Phase.OPEN, Phase.PAUSED):
                self._guarded(self._begin_close, conn, now, "server shutdown")
            elif phase is Phase.LINGER:
                self._guarded(self._linger_step, conn, now, True)

    def _close_all(self) -> None:
        for conn in list(self._conns):
            self._finish(conn, "server shutdown", None if conn.outcome is None else "cut short by the shutdown")
        self._reap()
        self._timers.clear()
        self._again.clear()
        monitor, self._monitor = self._monitor, None
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                monitor.remSocket(listener)
            except Exception:
                pass
            listener.unbind()
        if self._waker is not None:
            self._waker.close()
            self._waker = None
        close = getattr(monitor, "close", None)  # not in the interface; the tcp component has it
        if callable(close):
            close()
