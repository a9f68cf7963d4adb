"""SPEC 6's status rules as a table: ``getStatus()`` after every kind of
call, in every state, in both modes (``test_status`` runs it per row,
``checks.check_status_rules`` all of it).

The rules, straight from SPEC 6, one row of ``RULES`` each:

- ``FAIL`` before the handshake, and for good once the session failed,
  was closed (``close()`` called, even while it still returns
  ``WAIT_WRITE``), or its stream ended (close_notify or a TCP close);
- otherwise the outcome of the last call on the session: ``OK`` when it
  completed; ``WAIT_READ`` when a ``recv()`` had nothing to return;
  ``WAIT_WRITE`` when a ``send()``/``sendBuffer()`` left bytes queued;
  during a non-blocking handshake, what ``connect()``/``accept()`` returned.

Each row names the state it reaches (a function below) and the modes it
applies to; the test asks ``getStatus()`` of the session the row acts on.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from nettls import TLSError

from ._support import recv_some, settle
from .kits import BLOCKING, FAIL, MODES, NONBLOCKING, OK, WAIT_READ, WAIT_WRITE, status_name
from .driver import stuff

# -- the states ---------------------------------------------------------------------------
# Each takes (harness, mode) and returns the session whose status the row
# checks (or the session and the status expected, where the state decides).


def _fresh(harness: Any, mode: str) -> Any:
    session = harness.kit.TLS(harness.kit.client_context())
    if mode == NONBLOCKING:
        session.setNonBlocking()
    return session


def _fresh_server(harness: Any, mode: str) -> Any:
    session = harness.kit.TLS(harness.kit.server_context(harness.pki.ec))
    if mode == NONBLOCKING:
        session.setNonBlocking()
    return session


def _handshaking(harness: Any, mode: str) -> Any:
    pair = harness.tls_pair(mode, do_handshake=False)
    pair.client.setNonBlocking("client")
    first = pair.client.connect(pair.client_socket)  # the server has not answered yet
    assert first in (WAIT_READ, WAIT_WRITE), f"connect() before the server answered returned {status_name(first)}"
    return pair.client, first


def _handshake_done(harness: Any, mode: str) -> Any:
    return harness.tls_pair(mode).client


def _handshake_done_server(harness: Any, mode: str) -> Any:
    return harness.tls_pair(mode).server


def _send_complete(harness: Any, mode: str) -> Any:
    pair = harness.tls_pair(mode)
    assert pair.client.send(b"a few bytes") == 11
    return pair.client


def _send_partial(harness: Any, mode: str) -> Any:
    pair = harness.tls_pair(mode)
    pair.endpoint("server").unwatch()  # the server does not read: the queue fills
    stuff(pair.endpoint("client"), extra=0)
    return pair.client


def _send_adding_to_queue(harness: Any, mode: str) -> Any:
    pair = harness.tls_pair(mode)
    pair.endpoint("server").unwatch()
    stuff(pair.endpoint("client"), extra=1)
    return pair.client


def _send_buffer_partial(harness: Any, mode: str) -> Any:
    pair = harness.tls_pair(mode)
    pair.endpoint("server").unwatch()
    client = pair.endpoint("client")
    stuff(client, extra=2)
    client.ledger.send_buffer()
    assert pair.client.getBufferUnsent() > 0, "the peer reads nothing: bytes stay queued"
    return pair.client


def _send_buffer_complete(harness: Any, mode: str) -> Any:
    pair = harness.tls_pair(mode)
    client, server = pair.endpoint("client"), pair.endpoint("server")
    server.unwatch()
    stuff(client, extra=0)
    client.unwatch()  # from here on this test alone calls the client
    server.watch()
    deadline = time.monotonic() + harness.timeout
    while pair.client.getBufferUnsent() or pair.client_socket.getBufferUnsent():
        assert time.monotonic() < deadline, "the queue did not drain"
        pair.driver.step(10)
        client.ledger.send_buffer()
    return pair.client


def _send_buffer_idle(harness: Any, mode: str) -> Any:
    pair = harness.tls_pair(mode)
    settle(pair.client)
    assert pair.client.sendBuffer() == 0
    return pair.client


def _recv_data(harness: Any, mode: str) -> Any:
    pair = harness.tls_pair(mode)
    if mode == BLOCKING:
        pair.server.send(b"hello")
        assert pair.client.recv(5) == b"hello"
    else:
        settle(pair.client)
        assert pair.server.send(b"hello") == 5
        assert recv_some(pair.client, 5) == b"hello"
    return pair.client


def _recv_nothing(harness: Any, mode: str) -> Any:
    pair = harness.tls_pair(mode)
    settle(pair.client)
    assert pair.client.recv(10) == b""
    return pair.client


def _wait_then_send(harness: Any, mode: str) -> Any:
    """The last call counts: a send() that completes after a recv() that had nothing."""
    pair = harness.tls_pair(mode)
    settle(pair.client)
    assert pair.client.getStatus() == WAIT_READ
    assert pair.client.send(b"x") == 1
    return pair.client


def _peer_closed(harness: Any, mode: str) -> Any:
    pair = harness.tls_pair(mode)
    assert pair.close("server") == OK
    assert pair.read_to_end("client") == b""
    return pair.client


def _peer_closed_then_calls(harness: Any, mode: str) -> Any:
    """FAIL for good: calls after the end that would otherwise complete."""
    session = _peer_closed(harness, mode)
    assert session.recv(10) == b""
    session.sendBuffer()
    return session


def _peer_disconnected(harness: Any, mode: str) -> Any:
    pair = harness.tls_pair(mode)
    pair.server_socket.disconnect()
    assert pair.read_to_end("client") == b""
    return pair.client


def _closed(harness: Any, mode: str) -> Any:
    pair = harness.tls_pair(mode)
    assert pair.close("client") == OK
    return pair.client


def _closing(harness: Any, mode: str) -> Any:
    pair = harness.tls_pair(mode)
    pair.endpoint("server").unwatch()
    stuff(pair.endpoint("client"), extra=0)
    assert pair.client.close() == WAIT_WRITE, "close() with bytes queued returns WAIT_WRITE"
    return pair.client


def _handshake_failed(harness: Any, mode: str) -> Any:
    client_sock, server_sock = harness.tcp_pair()
    server_sock.send(b"HTTP/1.0 400 Bad Request\r\n\r\n")
    server_sock.disconnect()
    session = harness.kit.TLS(harness.kit.client_context())
    if mode == BLOCKING:
        try:
            session.connect(client_sock)
        except TLSError:
            pass
        else:
            raise AssertionError("connect() to a peer that is not TLS returned")
    else:
        driver = harness.driver()
        ep = driver.add(session, client_sock, name="client", data="client")
        assert driver.complete(ep, lambda: session.connect(client_sock), "connect()") == FAIL
    return session


#: (row id, modes, state, expected status; None: the state says)
RULES: list[tuple[str, tuple[str, ...], Callable[[Any, str], Any], int | None]] = [
    ("new-client", MODES, _fresh, FAIL),
    ("new-server", MODES, _fresh_server, FAIL),
    ("handshaking", (NONBLOCKING,), _handshaking, None),
    ("handshake-done", MODES, _handshake_done, OK),
    ("handshake-done-server", MODES, _handshake_done_server, OK),
    ("send-complete", MODES, _send_complete, OK),
    ("send-partial", (NONBLOCKING,), _send_partial, WAIT_WRITE),
    ("send-adding-to-queue", (NONBLOCKING,), _send_adding_to_queue, WAIT_WRITE),
    ("sendbuffer-partial", (NONBLOCKING,), _send_buffer_partial, WAIT_WRITE),
    ("sendbuffer-complete", (NONBLOCKING,), _send_buffer_complete, OK),
    ("sendbuffer-idle", (NONBLOCKING,), _send_buffer_idle, OK),
    ("recv-data", MODES, _recv_data, OK),
    ("recv-nothing", (NONBLOCKING,), _recv_nothing, WAIT_READ),
    ("wait-then-send", (NONBLOCKING,), _wait_then_send, OK),
    ("peer-close-notify", MODES, _peer_closed, FAIL),
    ("peer-closed-then-calls", MODES, _peer_closed_then_calls, FAIL),
    ("peer-tcp-close", MODES, _peer_disconnected, FAIL),
    ("closed", MODES, _closed, FAIL),
    ("closing", (NONBLOCKING,), _closing, FAIL),
    ("handshake-failed", MODES, _handshake_failed, FAIL),
]

_ROWS = {row: (state, expected) for row, _modes, state, expected in RULES}
#: Every (row id, mode) the table holds.
CASES = [(row, mode) for row, modes, _state, _expected in RULES for mode in modes]


def check_status_rule(harness: Any, row: str, mode: str) -> None:
    """Reach the state of ``row`` in ``mode`` with ``harness``'s component and
    check ``getStatus()`` there (AssertionError saying what differs)."""
    state, expected = _ROWS[row]
    reached = state(harness, mode)
    session, expected = reached if isinstance(reached, tuple) else (reached, expected)
    got = session.getStatus()
    assert got == expected, f"{row} ({mode}): getStatus() is {status_name(got)}, SPEC 6 says {status_name(expected)}"
