"""Non-blocking I/O the Dana way, with SPEC 7 checked after every call.

A ``Driver`` runs non-blocking streams from one thread on an
``EventLoop`` over the TCP component's monitor: the loop watches every
socket; each stream's ``sendWait`` listener arms a send notification; on
send-ready the driver calls ``sendBuffer()``, on
recv-ready it calls ``recv()`` until it returns ``b""`` and then asks
``getStatus()`` (a TLS session) or ``connected()`` (a TCP socket) whether
the stream ended. Every ``send()`` and ``sendBuffer()`` goes through a
``SendLedger`` that checks SPEC section 7 after the call: the count, the
invariant ``sum(returns) + getBufferUnsent() == sum(len(data))``, and how
many ``sendWait`` events the call fired, with what data. Every wait is
bounded in seconds; a stall raises AssertionError
describing each end. ``makers`` re-exports these classes.
"""

from __future__ import annotations

import collections
import contextlib
import time
from typing import Any, Callable

from nettls.eventloop import EventLoop
from nettls.interfaces import ITLS

from ._support import payload
from .kits import _STATUS_NAMES, _UNSET, DEFAULT_TIMEOUT, FAIL, OK, WAIT_WRITE, TCPKit, status_name

__all__ = ["SendLedger", "Endpoint", "Driver", "stuff"]

# A recv() loop that never returns b"" is a bug; this many reads prove it.
_MAX_READS_PER_DRAIN = 100_000
#: Longest one turn of the loop waits for events (s): the driver's stall
#: checks (a handshake's grace after a FAIL) look at the clock this often.
_TURN = 0.02


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
        self.driver.loop.want_write(self.watched_socket)

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
            self.driver.loop.unwatch(self.watched_socket)
            self.watched = False

    def watch(self) -> None:
        """Watch this end's socket again."""
        if not self.watched:
            self.driver.loop.watch(self.watched_socket, self.on_event)
            self.watched = True

    # -- events ------------------------------------------------------------

    def on_event(self, event: Any) -> None:
        """The loop's handler for this end's socket (an event already waiting
        when the end stopped being watched is ignored)."""
        self.driver.events += 1
        if not self.watched:
            return
        if self._pending is not None:
            self._call_pending()
            return
        if event.sendReady:
            self.ledger.send_buffer()
            self.flush()
        if (event.recvReady or event.close) and not self.ended and not self.ledger.closing:
            self.drain()  # (a closing session is not read: its FAIL status says closed, not ended)

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
    """Drives non-blocking streams from one thread on an ``EventLoop``.

    ``add()`` a stream (a TLS session with its socket, or a TCP socket) and
    ``run_until()`` a condition; the driver reacts to events as a Dana
    non-blocking program does (see the module docstring). Each wait is
    bounded by ``timeout`` seconds.
    """

    def __init__(self, tcp: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        # Not wakeable: nothing but this thread drives it, and the monitor
        # under test watches the streams' sockets only.
        self.loop = EventLoop(TCPKit.of(tcp).TCPMonitor(), wakeable=False, tick=_TURN)
        self.timeout = timeout
        self.endpoints: list[Endpoint] = []
        #: events handled so far (``step`` reports how many it handled)
        self.events = 0

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
        self.loop.watch(monitored, ep.on_event)
        self.endpoints.append(ep)
        return ep

    def step(self, ms: int = 20) -> int:
        """Wait up to ``ms`` for events and handle them; returns how many."""
        before = self.events
        self.loop.run_once(ms / 1000.0)
        return self.events - before

    def run_until(self, condition: Callable[[], bool], what: str, timeout: float | None = None) -> None:
        """Handle events until ``condition()``; AssertionError after the timeout."""
        limit = self.timeout if timeout is None else timeout
        if self.loop.run(until=condition, timeout=limit):
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


#: Give up stuffing after this much: the kernel should have pushed back long before.
STUFF_LIMIT = 64 << 20


def stuff(ep: Endpoint, *, extra: int = 3, chunk: int = 65536) -> bytes:
    """Send from ``ep`` while the peer does not read, until a send() leaves
    bytes queued; then ``extra`` more sends, which only add to the queue.
    Returns everything given to send()."""
    sent = bytearray()
    seed = 100
    while ep.ledger.unsent == 0:
        if len(sent) >= STUFF_LIMIT:
            raise AssertionError(f"send() wrote {len(sent)} bytes to a peer that does not read: nothing was queued")
        data = payload(chunk, seed)
        seed += 1
        ep.ledger.send(data)
        sent += data
    for _ in range(extra):
        data = payload(chunk, seed)
        seed += 1
        assert ep.ledger.send(data) == 0 or ep.tls, "send() with bytes queued returned more than 0"
        sent += data
    return bytes(sent)
