"""A real TLS server on the nettls interfaces: one thread, non-blocking, on
one ``nettls.eventloop.EventLoop``, with the application's protocol as a
connection handler (``protocol``). ``nettls serve`` is a thin front over
``Server``; docs/server.md is the guide.

Theory of operation
-------------------
The server uses only the spec interfaces and the extension interfaces of
SPEC section 11, on classes obtained through ``nettls.resolve``, so it runs
on any component that provides them. One loop does everything::

    loop.run_once()          wait for the monitor (until the next timer)
      listener readable   -> accept a batch (``_accept``: back-off on EMFILE)
      a connection's event -> its phase takes one step (``_connection``)
      due timers          -> deadlines, polled connections, accept retry
      call_soon callbacks -> read turns owed (their budget ran out)
    then: finished connections leave the books; their handlers hear of it
    (``connectionLost``); stop() and request_reload() wake the loop.

No call on a client socket ever blocks: every socket and session is
non-blocking, and a session's ``sendWait`` asks the loop for its socket's
next send-ready event.

A connection is in one ``Phase``; the legal moves are the table ``MOVES``
(``_lifecycle``)::

    HANDSHAKE --OK--> OPEN --(peer ended, handler closed, idle, shutdown)--> CLOSING --> LINGER --> DONE
        |              | ^                                                     |            ^
        |              v |  (more than HIGH_WATER held: stop reading)          |            |
        |             PAUSED ---------------------------------------------------+            |
        +--FAIL / any failure-----------------------------------------------------------------+

- HANDSHAKE: ``tls.accept(sock)`` on every event, until OK or FAIL. On OK
  the handler is made (``Server(handler=factory)``: ``factory()``) and gets
  ``connectionMade(transport)``.
- OPEN: on recv-ready, one read turn: ``recv()`` until it returns ``b""``,
  at most ``READ_CALLS`` calls and no new call after ``TURN_SECONDS``
  (the rest on the next turn, for fairness); each piece goes to the
  handler's ``dataReceived``. The turn is bounded by ciphertext, not
  plaintext: each non-blocking session call processes at most 64 KiB of
  ciphertext (SPEC section 14), so a peer whose records carry no
  application data (a KeyUpdate flood) costs one call's work per turn, and
  one that mixes in a byte of data now and then is cut off by the clock
  after its first expensive call. A ``b""`` with ``getStatus() == FAIL``
  means the peer's stream ended. On send-ready, ``sendBuffer()``.
- PAUSED: a peer that sends without reading (echo data, or KeyUpdates
  that ask for a reply) would make us queue without bound. Above
  ``HIGH_WATER`` held a connection stops reading; but the monitor reports a
  readable socket on every wait until it is read (level-triggered), and it
  has no way to suspend only read interest. So a paused connection leaves
  the monitor and is *polled*: every ``POLL_INTERVAL`` its ``sendBuffer()``
  runs, and at or below ``LOW_WATER`` it returns to the monitor and to OPEN.
  A handler that writes on its own gets False from ``write()`` above
  ``HIGH_WATER`` and ``resumeWriting()`` at ``LOW_WATER``; a write while
  more than ``WRITE_LIMIT`` is held ends the connection (``_lifecycle``:
  Memory).
- CLOSING: ``close()`` (close_notify after what is queued) returned
  WAIT_WRITE; each send-ready calls ``close()`` again. What the peer sends
  meanwhile is read from the socket and dropped: the session no longer
  reads. Before ``close()``, input nobody will read (an HTTP body, data of
  a paused connection) is read from the session and dropped, at most one
  read turn's worth: the stdlib component's ``close()`` loses close_notify
  when unread application data sits in the session.
- LINGER: the session is finished (closed, or failed with its alert handed
  to the socket, SPEC section 11). The socket's queue is written on,
  ``shutdownOutput()`` sends FIN after it, and what arrives is read and
  dropped until the peer's FIN or ``LINGER_SECONDS``: closing a socket with
  unread input sends a reset, which can make the peer lose our alert or our
  last response before it reads them.
- DONE: the socket is disconnected and one log line is written (peer,
  protocol, cipher, bytes in/out, time, outcome); at the end of the turn
  the handler's ``connectionLost(outcome)`` is called.

A connection whose peer has already sent FIN stays readable for ever, so
while it still owes writes (CLOSING, LINGER) it is polled too rather than
watched.

Timers. Each connection has one ``Timer`` on the loop (handshake: accept
time + handshake timeout; OPEN/PAUSED/CLOSING: last progress + idle
timeout, except when the handler holds the deadline (``holdDeadline``: an
HTTP request head must be complete within the idle timeout of the
handshake's end, however slowly it trickles); LINGER: entry +
``LINGER_SECONDS``). Moving a timer later, which data does on every read,
costs an assignment (``Timer.move``).

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

from ._lifecycle import HIGH_WATER, LOW_WATER, MEMORY_BOUND, MOVES, WRITE_LIMIT, Phase, format_endpoint
from ._server import Server
from .handlers import EchoHandler, HttpHandler
from .http import HTTP_HEADER_LIMIT
from .protocol import ConnectionHandler, IConnectionHandler, IServerTransport

__all__ = [
    "Server",
    "IConnectionHandler",
    "IServerTransport",
    "ConnectionHandler",
    "EchoHandler",
    "HttpHandler",
    "Phase",
    "MOVES",
    "HTTP_HEADER_LIMIT",
    "HIGH_WATER",
    "LOW_WATER",
    "WRITE_LIMIT",
    "MEMORY_BOUND",
    "format_endpoint",
]
