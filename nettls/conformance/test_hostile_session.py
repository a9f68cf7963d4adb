"""SPEC 14 (work per call, post-handshake floods) and SPEC 6 (close() while
another thread sends): what every session promises a hostile or careless peer.

The peer is ``rawpeer.RawClient``, a real TLS client whose wire bytes the
test controls; after a TLS 1.3 handshake it floods the session under test
with KeyUpdate messages (``rawpeer.RecordWriter``), each a record of 27
bytes that carries no application data. The session's socket is wrapped in
a counting ``ITCPSocket`` (``SocketWrapper``), so the test sees how much
ciphertext each call took from it.
"""

from __future__ import annotations

import random
import ssl
import threading
import time
from typing import Any

import pytest

from nettls import TLSConnectionError, TLSError
from nettls.eventloop import EventLoop
from nettls.interfaces import ISessionInfo

from ._support import SocketWrapper
from .makers import NONBLOCKING, Background, bind_server, set_timeout
from .rawpeer import (
    ALERT,
    APPLICATION_DATA,
    KEY_UPDATE_SIZE,
    RawClient,
    RecordWriter,
    records,
)

OK, FAIL, WAIT_READ, WAIT_WRITE = 1, 0, 2, 3
#: The clauses of this module (SPEC 14).
WORK_PER_CALL = "14.work-per-call"
FLOOD = "14.post-handshake-flood"
#: SPEC 14: ciphertext a non-blocking call may take from the socket (64 KiB),
#: plus one record (header and TLS 1.3's largest body), which a component
#: may take whole.
CALL_BOUND = 65536 + 5 + 2**14 + 256
#: Three calls' worth of flood: under nettls's own limit (256 KiB); a component
#: that refuses it sooner, with a reason, passes too.
SHORT_FLOOD = 3 * 65536
#: A flood no session may take whole: the documented limits are far below.
LONG_FLOOD = 1 << 20
#: KeyUpdates crafted and sent at a time.
_BATCH = 256
#: Seconds the peer waits for the alert, which is on its way when the session reports the failure.
_ALERT_WAIT = 2.0
#: The last application record of a flood: delivered only if the flood was.
_AFTER = b"after the flood"


def _served(
    harness: Any, pki: Any, mode: str, version: ssl.TLSVersion | None = None
) -> tuple[RawClient, Any, SocketWrapper]:
    """A session of the component under test that accepted a ``RawClient``
    (pinned to ``version``), over a counting socket; both cleaned up by the harness."""
    listener, port = bind_server(harness.tcp)
    try:
        client = RawClient(port, version=version, timeout=harness.timeout)
        inner = harness.tcp_kit.TCPSocket()
        assert inner.accept(listener) is True
    finally:
        listener.unbind()
    harness.callback(client.close)
    harness.callback(inner.disconnect)
    set_timeout(inner, harness.timeout)
    sock = SocketWrapper(inner)
    session = harness.kit.TLS(harness.kit.server_context(pki.ec))
    shaker = Background(client.handshake, name="raw client handshake")
    if mode == NONBLOCKING:
        assert session.setNonBlocking() is True
        driver = harness.driver()
        ep = driver.add(session, sock, watch=inner, name="server")
        assert driver.complete(ep, lambda: session.accept(sock), "accept()") == OK
        ep.unwatch()
    else:
        assert session.accept(sock) == OK
    shaker.join()
    return client, session, sock


def _flooder(harness: Any, pki: Any, mode: str) -> tuple[RawClient, RecordWriter, Any, SocketWrapper]:
    client, session, sock = _served(harness, pki, mode)
    if client.version() != "TLSv1.3":
        pytest.skip(f"the session negotiated {client.version()}: a KeyUpdate flood needs TLS 1.3")
    return client, RecordWriter(client), session, sock


def _flood(client: RawClient, writer: RecordWriter, total: int, stop: threading.Event) -> int:
    """Send KeyUpdates until ``total`` bytes, ``stop`` or the session stops
    taking them, then one application record (``_AFTER``); returns the
    flood's size."""
    sent = 0
    try:
        while sent < total and not stop.is_set():
            batch = b"".join(writer.key_update() for _ in range(_BATCH))
            client.sock.sendall(batch)
            sent += len(batch)
        client.sock.sendall(writer.application_data(_AFTER))
    except OSError:  # the session's end is closed or gone: it refused the flood
        pass
    return sent


def _read_nonblocking(harness: Any, session: Any, sock: SocketWrapper, until: bytes) -> tuple[bytes, list[int]]:
    """Read as the Dana non-blocking server does: on each recv-ready event,
    ``recv()`` until ``b""``; stop once ``until`` has arrived or the stream
    ended (``getStatus()`` FAIL). Returns what arrived and the ciphertext
    each ``recv()`` took from the socket. Data left inside the session with
    nothing more coming on the socket stalls this loop (AssertionError)."""
    got = bytearray()
    taken: list[int] = []
    done = False

    def on_event(_event: object) -> None:
        nonlocal done
        for _ in range(100_000):
            before = sock.received
            data = session.recv(65536)
            taken.append(sock.received - before)
            if not data:
                break
            got.extend(data)
        status = session.getStatus()
        assert status in (WAIT_READ, WAIT_WRITE, FAIL), f"getStatus() {status} after recv() returned b''"
        done = until in got or status == FAIL

    with EventLoop(harness.tcp_kit.TCPMonitor(), wakeable=False, tick=0.05) as loop:
        loop.watch(sock.inner, on_event)
        try:
            if loop.run(until=lambda: done, timeout=harness.timeout):
                return bytes(got), taken
        finally:
            loop.unwatch(sock.inner)
    raise AssertionError(
        f"stalled: {len(got)} bytes of plaintext, {sock.received} of ciphertext taken in {len(taken)} recv() calls, "
        f"getStatus() {session.getStatus()}; the socket reported nothing more to read"
    )


def _assert_bounded(taken: list[int]) -> None:
    worst = max(taken)
    assert worst <= CALL_BOUND, f"one recv() took {worst} bytes of ciphertext (SPEC 14: 64 KiB a call)"


def _reason(session: Any) -> str:
    if not ISessionInfo.providedBy(session):
        return ""
    reason = session.getFailureReason()
    assert isinstance(reason, str) and reason.strip(), f"the session failed without a reason: {reason!r}"
    return reason


@pytest.mark.clause(WORK_PER_CALL)
def test_each_nonblocking_recv_takes_a_bounded_share_of_a_flood(harness, pki):
    """KeyUpdates back to back, three calls' worth, then application data:
    no ``recv()`` takes more than 64 KiB (and a record) from the socket,
    and reading until ``b""`` on each recv-ready event still brings the
    data after the flood (or the session refused the flood, with a reason
    and an alert)."""
    client, writer, session, sock = _flooder(harness, pki, NONBLOCKING)
    flood = b"".join(writer.key_update() for _ in range(SHORT_FLOOD // KEY_UPDATE_SIZE))
    sender = Background(client.sock.sendall, flood + writer.application_data(_AFTER), name="KeyUpdate flood")
    for _ in range(100):  # let the flood reach the session's socket before it reads
        if sender.done():
            break
        time.sleep(0.01)
    got, taken = _read_nonblocking(harness, session, sock, _AFTER)
    _assert_bounded(taken)
    if session.getStatus() == FAIL:  # the component refused the flood itself, before its end
        _reason(session)
    else:
        assert got == _AFTER
    sock.inner.disconnect()
    sender.join()


@pytest.mark.clause(FLOOD)
def test_a_long_post_handshake_flood_ends_the_session_with_an_alert(harness, pki, mode):
    """KeyUpdates for ever (1 MiB of them): the session gives up before it
    has taken them all, fails with a reason and hands a fatal alert to the
    socket; the application data after the flood never arrives. A blocking
    ``recv()`` too ends (``b""``) rather than spin."""
    client, writer, session, sock = _flooder(harness, pki, mode)
    stop = threading.Event()
    sender = Background(_flood, client, writer, LONG_FLOOD, stop, name="KeyUpdate flood")
    try:
        if mode == NONBLOCKING:
            got, taken = _read_nonblocking(harness, session, sock, _AFTER)
            _assert_bounded(taken)
        else:
            got = session.recv(len(_AFTER))
    finally:
        stop.set()
    assert got == b"", f"the session took the whole flood and delivered {got!r}"
    assert session.getStatus() == FAIL
    reason = _reason(session)
    assert sock.received < LONG_FLOOD, f"the session took {sock.received} bytes of a post-handshake flood"
    outcome = client.outcome(timeout=_ALERT_WAIT)
    assert outcome.startswith("alert"), f"the peer saw {outcome}, not a fatal alert ({reason})"
    assert session.recv(10) == b"" and session.getStatus() == FAIL, "a session that refused a flood stays failed"
    with pytest.raises(TLSError):
        session.send(b"x")
    sock.inner.disconnect()
    sender.join()


# -- close() while another thread sends (SPEC 6) ---------------------------------------------------

#: Rounds of the race, and the seconds they may take together.
_RACE_ROUNDS = 40
_RACE_SECONDS = 3.0


def _race_once(harness: Any, pki: Any, mode: str, rng: random.Random) -> None:
    client, session, sock = _served(harness, pki, mode, version=ssl.TLSVersion.TLSv1_2)
    wire = bytearray()
    reader = Background(_read_all, client, wire, name="peer reader")
    given: list[bytes] = []
    refused: list[BaseException] = []
    started = threading.Event()
    sends_before_close = rng.randrange(0, 30)

    def send_until_refused() -> None:
        for i in range(100_000):
            chunk = b"%08d" % i * rng.choice((1, 16, 300))
            if i == sends_before_close:
                started.set()
            try:
                session.send(chunk)
            except TLSError as exc:
                refused.append(exc)
                return
            given.append(chunk)
        started.set()

    sender = Background(send_until_refused, name="sender")
    assert started.wait(harness.timeout)
    status = session.close()
    deadline = time.monotonic() + harness.timeout
    while status == WAIT_WRITE and time.monotonic() < deadline:
        time.sleep(0.001)
        status = session.close()
    assert status == OK, f"close() returned {status}"
    sender.join()
    assert refused, "send() after close() did not raise"
    assert not isinstance(refused[0], TLSConnectionError), (
        f"send() after close() raised {type(refused[0]).__name__}: {refused[0]} (SPEC 6: the closed TLSError)"
    )
    sock.inner.disconnect()
    reader.join()
    kinds = [kind for kind, _ in records(bytes(wire))]
    assert ALERT in kinds, "no close_notify reached the peer"
    after = kinds[kinds.index(ALERT) + 1 :]
    assert APPLICATION_DATA not in after, f"application data after close_notify: records {kinds[-10:]}"
    client.incoming.write(bytes(wire))
    plaintext = bytearray()
    try:
        while chunk := client.obj.read(65536):
            plaintext += chunk
    except ssl.SSLZeroReturnError:
        pass
    assert bytes(plaintext) == b"".join(given), "what close() let through is not what send() accepted before it"


def _read_all(client: RawClient, into: bytearray) -> None:
    """The peer's raw reader: every byte until the connection closes."""
    while chunk := client.sock.recv(65536):
        into += chunk


@pytest.mark.clause("6.close")
def test_close_while_another_thread_sends(harness, pki, mode):
    """One thread sends in a loop while another calls ``close()``: close()
    waits for a send in flight, every later send raises the closed
    ``TLSError`` (not a connection failure), and the peer sees every byte
    of the sends that returned, then close_notify, and no application data
    after it (TLS 1.2, where the record types are in the clear)."""
    rng = random.Random(16)
    deadline = time.monotonic() + _RACE_SECONDS
    for _ in range(_RACE_ROUNDS):
        if time.monotonic() > deadline:
            break
        _race_once(harness, pki, mode, rng)
