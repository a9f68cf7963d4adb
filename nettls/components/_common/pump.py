"""The pump: the one loop that moves bytes between an engine and a socket.

A TLS library is driven as a sans-IO engine (``engine.Engine``): ciphertext
in (``feed``), ciphertext out (``output``); its handshake, read, write and
shutdown never touch a socket. ``Pump`` (the base of ``TLSSession``) is the
only code that moves bytes between the engine and the ``ITCPSocket`` the
session was given, and every engine call goes through one retry loop,
``Pump._run``, in trio's manner (``trio._ssl._retry``).

Reading. How a session reads its socket is chosen once, when it starts (and
again if its mode changes), and held as an object, a *reader*:

- ``NonBlockingReader``: one ``recv(NONBLOCKING_READ)`` per call (SPEC 14:
  64 KiB of ciphertext per non-blocking call, whatever comes of it). A read
  that came back short emptied the kernel's buffer, so the next pull
  reports "nothing yet" without a system call; anything arriving later
  makes the socket readable again. A call that made its read and still
  needs input ends there (``recv`` gives ``b""`` and ``WAIT_READ``), and
  leaves the next call to read: what the engine has not processed is still
  in the kernel's buffer, so a level-triggered monitor reports the socket
  again.
- ``DescriptorReader``: a blocking socket that provides ``ISelectable``
  (where ``poll`` and ``os.read`` on sockets exist): what has already
  arrived is read straight from the descriptor, up to ``FAST_READ`` at a
  time (many records per system call); only when nothing is there does it
  wait through the interface, ``recv(1)``, which keeps the socket's timeout,
  end of stream and reset handling (SPEC 6 allows the fast path). A
  ``recv(1)`` that times out consumed nothing.
- ``RecordReader``: the socket's interface alone. A blocking ``recv(n)``
  waits for exactly ``n`` bytes (Dana), so it reads whole records: the
  5-byte header, then the body it announces. A header that cannot start a
  record (a peer that is not TLS) goes to the engine with end of stream,
  so the engine fails with its own reason.

Input with nothing coming of it. ``_ct_idle`` counts ciphertext fed since
plaintext last came out (or since the handshake began). Past
``IDLE_INPUT_LIMIT`` the session refuses the rest and hands the peer a
fatal alert (``engine.fail_with_alert``): a peer sending only
post-handshake messages (KeyUpdates back to back: about 9,700 of them), or
a handshake that never ends, costs bounded work in blocking mode too.
Legitimate peers stay far below it: between two pieces of plaintext there
is at most a partial record (18 KiB), one read (64 KiB) and the odd
post-handshake message; a handshake's largest flight is a certificate chain
(OpenSSL caps it at 100 KiB).

Writing. Every byte the engine produces goes to ``socket.send()`` at once,
in the order produced; in non-blocking mode the socket queues what the
kernel did not take, and the session's ``SendLedger`` (``ledger.py``) turns
the socket's ciphertext counts into the caller's plaintext counts.

Locks. ``_elock`` guards the engine and is held only around engine calls.
``_wlock`` orders ciphertext to the socket and guards the ledger; it is
held across ``socket.send()``, never while waiting to read. A writer takes
``_wlock`` then ``_elock``, never the other way round. A reader that
produced output (a key update's reply) does not wait for ``_wlock``: a
blocking writer holds it while the peer does not read, and if the peer did
the same, no one would read. It flags the output (``_output_waiting``) and
whoever holds ``_wlock`` pushes it before letting go (``_release_w``). On
the hot paths the locks are taken with explicit ``acquire()``/``release()``
(half the cost of ``with`` in CPython 3.11).
"""

from __future__ import annotations

import threading
from typing import Callable, TypeVar

from .engine import RECORD_PLAINTEXT, Engine, EngineError, fail_with_alert
from .ledger import SendLedger
from .readers import FAST_READ, NONBLOCKING_READ, NonBlockingReader, Reader, Socket, reader_for
from .state import State

__all__ = ["Pump", "Socket", "NONBLOCKING_READ", "IDLE_INPUT_LIMIT", "FAST_READ", "MAX_ENGINE_READ", "BLOCKING_CHUNK"]

#: Ciphertext the engine may take with no plaintext coming of it before the
#: session refuses the peer (see the module docstring).
IDLE_INPUT_LIMIT = 256 * 1024
#: Plaintext asked of one engine read: one record's worth, since a read
#: returns at most one record (and ``recv(10**9)`` must allocate nothing huge).
MAX_ENGINE_READ = RECORD_PLAINTEXT
#: A blocking send() larger than this is encrypted and sent in pieces of it.
BLOCKING_CHUNK = 4 * RECORD_PLAINTEXT

T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R", bytes | None, int | None)


def _copying_read_into(engine: Engine) -> Callable[[memoryview], int | None]:
    """``read_into`` for an engine without one: its ``read``, then a copy."""
    read = engine.read

    def read_into(view: memoryview) -> int | None:
        data = read(len(view))
        if data is None:
            return None
        view[: len(data)] = data
        return len(data)

    return read_into


class Pump:
    """The engine, the socket and the one loop between them (the base of
    ``TLSSession``, which adds the ITLS face and the state moves)."""

    __slots__ = (
        "_engine", "_sock", "_pending", "_into", "_reader", "_elock", "_wlock", "_ledger",
        "_ct_idle", "_starved", "_output_waiting",
    )  # fmt: skip

    _state: State  # (the session's; read here to word a refusal)

    def __init__(self) -> None:
        self._engine: Engine = None  # type: ignore[assignment]  # set by connect()/accept()
        self._sock: Socket = None  # type: ignore[assignment]  # set by connect()/accept()
        self._pending: Callable[[], bool] | None = None  # the engine's pending(), where it has one
        self._into: Callable[[memoryview], int | None] | None = None  # its read_into, or a copy
        self._reader: Reader = NonBlockingReader()  # chosen again when the session starts
        self._elock = threading.Lock()  # the engine itself
        self._wlock = threading.Lock()  # the order of ciphertext to the socket; the ledger
        self._ledger = SendLedger()
        self._ct_idle = 0  # ciphertext fed since plaintext last came out (IDLE_INPUT_LIMIT)
        self._starved = False  # the engine's last read wanted input and none came since
        self._output_waiting = False  # a reader left engine output for the _wlock holder

    def _attach(self, engine: Engine, sock: Socket, nonblocking: bool) -> None:
        """Take ``engine`` and ``sock``, and choose how to read (once)."""
        self._engine, self._sock = engine, sock
        self._pending = getattr(engine, "pending", None)
        self._into = getattr(engine, "read_into", None) or _copying_read_into(engine)
        self._reader = reader_for(sock, nonblocking)

    # -- the loop ---------------------------------------------------------------------

    def _run(self, step: Callable[[A], T | None], arg: A) -> T | None:
        """Run ``step(arg)`` (one engine call) until it has a result.

        Invariant: a step hands whatever its engine call produced to the
        socket before it returns (or leaves it to the ``_wlock`` holder, see
        ``_push_soon``); a step returns None only when the engine needs
        input and holds no output; the loop feeds input only then, and at
        most ``reader.per_call`` times per call. So when ``_run`` returns
        None the engine has consumed everything it was given and the
        socket has nothing yet, or the call's read is spent (SPEC 14).
        Handshake and read steps may need input; write and shutdown steps
        never do (memory buffers take all, and renegotiation is off), so
        for them the loop is one step.
        """
        reader = self._reader
        left = reader.per_call
        while True:
            result = step(arg)
            if result is not None:
                return result
            if left == 0:
                reader.call_ended()
                return None
            if not reader.pull(self._sock, self):
                return None
            if left is not None:
                left -= 1

    def _handshake_step(self, _: None) -> bool | None:
        elock = self._elock
        elock.acquire()
        try:
            done = self._engine.handshake()
        finally:
            elock.release()
        self._push()
        return True if done else None

    def _read_step(self, n: int) -> bytes | None:
        """Up to ``n`` plaintext bytes (one record at most); b"" at close_notify."""
        if self._starved:
            return None  # nothing but new input can change the engine's answer
        elock = self._elock
        elock.acquire()
        try:
            data = self._engine.read(n)
        finally:
            elock.release()
        return self._after_read(data)

    def _read_into_step(self, view: memoryview) -> int | None:
        """``_read_step`` into ``view``: the count (0 at close_notify)."""
        if self._starved:
            return None
        elock = self._elock
        elock.acquire()
        try:
            count = self._into(view)  # type: ignore[misc]  # (set with the engine)
        finally:
            elock.release()
        return self._after_read(count)

    def _after_read(self, result: R) -> R:
        """What follows an engine read that gave ``result`` (data, the end, or
        None: needs input): note what the next read would say, and push
        what the read may have produced (a key update's reply)."""
        if result:
            self._ct_idle = 0
            if self._pending is not None and not self._pending():
                self._starved = True  # the next read would only say so
                self._push_soon()
        elif result is None:
            self._starved = True
            self._push_soon()
        return result

    def _blocking_write_step(self, data: bytes | memoryview) -> bool:
        """Encrypt ``data`` and hand it to the blocking socket, ``BLOCKING_CHUNK``
        at a time, so buffers stay small whatever the size (caller holds ``_wlock``)."""
        engine, elock, send = self._engine, self._elock, self._sock.send
        if len(data) <= BLOCKING_CHUNK:
            pieces: object = (data,)
        else:
            view = memoryview(data)
            pieces = (view[pos : pos + BLOCKING_CHUNK] for pos in range(0, len(view), BLOCKING_CHUNK))
        for piece in pieces:  # type: ignore[attr-defined]
            elock.acquire()
            try:
                engine.write(piece)
                self._output_waiting = False
                out = engine.output()
            finally:
                elock.release()
            send(out)
        return True

    def _write_step(self, data: bytes | memoryview) -> bool:
        """Encrypt ``data`` a record at a time, hand it all to the non-blocking
        socket in one ``send()`` and ledger it (caller holds ``_wlock``)."""
        n = len(data)
        if not n:
            return True  # send(b""): no record to write
        engine, elock = self._engine, self._elock
        records: list[tuple[int, int]] | None = None
        elock.acquire()
        try:
            self._output_waiting = False
            if n <= RECORD_PLAINTEXT:
                engine.write(data)  # type: ignore[arg-type]
                out = engine.output()
            else:
                view = memoryview(data)
                records, pieces = [], []
                for pos in range(0, n, RECORD_PLAINTEXT):
                    chunk = view[pos : pos + RECORD_PLAINTEXT]
                    engine.write(chunk)
                    piece = engine.output()
                    pieces.append(piece)
                    records.append((len(piece), len(chunk)))
                out = b"".join(pieces)
        finally:
            elock.release()
        ledger = self._ledger
        ledger.give(len(out), n, records)
        ledger.took(self._sock.send(out))
        return True

    def _shutdown_step(self, _: None) -> bool:
        """Put close_notify into the engine's output and hand it over (caller
        holds ``_wlock``). An EngineError still leaves what the library wrote
        (close_notify, an alert) for the push."""
        elock = self._elock
        elock.acquire()
        try:
            self._engine.shutdown()
        finally:
            elock.release()
            self._push_locked()
        return True

    # -- output ------------------------------------------------------------------------

    def _push(self) -> None:
        """Hand the engine's pending output to the socket (takes ``_wlock``)."""
        self._wlock.acquire()
        try:
            self._push_locked()
        finally:
            self._release_w()

    def _push_locked(self) -> None:
        """``_push`` for a caller that holds ``_wlock``."""
        elock = self._elock
        elock.acquire()
        try:
            self._output_waiting = False
            out = self._engine.output()
        finally:
            elock.release()
        if out:
            ledger = self._ledger
            ledger.give(len(out))
            ledger.took(self._sock.send(out))

    def _push_soon(self) -> None:
        """Push what a read produced without waiting behind a writer: flag it,
        and push it now if no one holds ``_wlock`` (see Locks, above)."""
        self._output_waiting = True
        if self._wlock.acquire(blocking=False):
            try:
                self._push_locked()
            finally:
                self._release_w()

    def _release_w(self) -> None:
        """Release ``_wlock``, first pushing output a reader left for its holder."""
        wlock = self._wlock
        wlock.release()
        while self._output_waiting and wlock.acquire(blocking=False):
            try:
                self._push_locked()
            finally:
                wlock.release()

    def _flush(self) -> None:
        """Write on what the socket queued (non-blocking; caller holds
        ``_wlock``). The ledger knows whether anything is queued, so an empty
        queue costs no call."""
        ledger = self._ledger
        if ledger.sent != ledger.given:
            sock = self._sock
            ledger.took(sock.sendBuffer())
            if not sock.getBufferUnsent():
                ledger.emptied()

    # -- input -------------------------------------------------------------------------

    def _feed(self, data: bytes) -> None:
        idle = self._ct_idle + len(data)
        if idle > IDLE_INPUT_LIMIT:
            self._refuse_input()
        self._ct_idle = idle
        elock = self._elock
        elock.acquire()
        try:
            self._engine.feed(data)
        finally:
            elock.release()
        self._starved = False

    def _feed_eof(self) -> None:
        with self._elock:
            self._engine.feed_eof()
        self._starved = False

    def _refuse_input(self) -> None:
        """Refuse a peer past ``IDLE_INPUT_LIMIT``: the engine ends the
        connection with a fatal alert, and the EngineError raised here gives
        the reason (its caller fails the session and hands the alert over)."""
        handshaking = self._state is State.HANDSHAKING
        with self._elock:
            fail_with_alert(self._engine, handshaking)
        limit = f"{IDLE_INPUT_LIMIT // 1024} KiB"
        if handshaking:
            raise EngineError(f"the handshake did not complete within {limit} of the peer's ciphertext")
        raise EngineError(
            f"the peer sent {limit} of ciphertext with no application data in it (post-handshake "
            "messages only, such as KeyUpdate back to back): refused"
        )
