"""SPEC 7 on TLS sessions: the non-blocking send buffer, sendWait, delivery.

Every send() and sendBuffer() below goes through a ``SendLedger``, which
checks the count, the invariant and the sendWait events after each call.
"""

from __future__ import annotations

import pytest

from .driver import stuff
from .makers import BLOCKING, NONBLOCKING
from ._support import payload

OK, FAIL, WAIT_READ, WAIT_WRITE = 1, 0, 2, 3

def finish(pair, data: bytes) -> None:
    """Let the server read and the client flush; check every byte arrived once, in order."""
    client, server = pair.endpoint("client"), pair.endpoint("server")
    pair.driver.run_until(lambda: len(server.received) >= len(data) and client.idle, f"{len(data)} bytes to arrive")
    pair.driver.run_until(lambda: client.socket.getBufferUnsent() == 0, "the socket's queue to empty")
    assert len(server.received) == len(data), "bytes arrived more than once"
    assert bytes(server.received) == data, "bytes arrived out of order or changed"
    assert pair.client.getBufferUnsent() == 0


@pytest.mark.clause("7.send-count")
def test_send_queues_what_the_kernel_does_not_take(harness):
    pair = harness.tls_pair(NONBLOCKING)
    client = pair.endpoint("client")
    data = stuff(client)
    assert pair.client.getBufferUnsent() > 0
    assert pair.client.getStatus() == WAIT_WRITE, "send() leaving bytes queued: getStatus() is WAIT_WRITE"
    finish(pair, data)


@pytest.mark.clause("7.send-wait")
def test_send_wait_fires_once_per_call_with_its_data(harness):
    pair = harness.tls_pair(NONBLOCKING)
    client = pair.endpoint("client")
    removed: list[object] = []
    pair.client.sendWait.subscribe(removed.append)
    pair.client.sendWait.unsubscribe(removed.append)
    data = stuff(client, extra=5)
    assert len(client.ledger.events) == 1, "one sendWait for the send() that found the queue empty, none for the rest"
    assert client.ledger.events[0].details == "client"
    assert client.ledger.events[0].source is pair.client
    finish(pair, data)
    assert removed == [], "an unsubscribed listener was called"


@pytest.mark.clause("7.send-wait")
def test_send_wait_listener_rules(harness):
    """IEvent and SPEC 7: a listener subscribed twice is called once; listeners
    run in subscription order, before the call that fired returns, with no
    lock held (each calls methods of the session: a lock held would
    deadlock them); unsubscribing one never
    subscribed does nothing."""
    pair = harness.tls_pair(NONBLOCKING)
    client = pair.endpoint("client")
    session = pair.client
    calls: list[tuple[str, int, object]] = []

    def first(event):
        calls.append(("first", session.getBufferUnsent(), session.getStatus()))

    def second(event):
        calls.append(("second", session.getBufferUnsent(), session.getSocket()))

    session.sendWait.subscribe(first)
    session.sendWait.subscribe(first)
    session.sendWait.subscribe(second)
    session.sendWait.unsubscribe(lambda event: None)
    pair.endpoint("server").unwatch()
    data = stuff(client, extra=0)
    assert [name for name, *_ in calls] == ["first", "second"], f"listeners called {calls}"
    assert calls[0][1] > 0, "the listener runs before send() returns, with the bytes still queued"
    assert calls[0][2] in (OK, WAIT_READ, WAIT_WRITE), "getStatus() from a listener answers"
    assert calls[1][2] is pair.client_socket
    session.sendWait.unsubscribe(first)
    session.sendWait.unsubscribe(second)
    pair.endpoint("server").watch()
    finish(pair, data)


@pytest.mark.clause("7.delivery")
def test_bulk_transfer_to_a_late_reader(harness):
    pair = harness.tls_pair(NONBLOCKING)
    client = pair.endpoint("client")
    data = stuff(client) + payload(4 << 20, 9)
    client.feed(data[len(data) - (4 << 20) :])
    finish(pair, data)


@pytest.mark.clause("7.delivery")
def test_both_directions_at_once(harness):
    pair = harness.tls_pair(NONBLOCKING)
    client, server = pair.endpoint("client"), pair.endpoint("server")
    up, down = payload(3 << 20, 10), payload(3 << 20, 11)
    client.feed(up)
    server.feed(down)
    pair.driver.run_until(
        lambda: len(server.received) >= len(up) and len(client.received) >= len(down) and client.idle and server.idle,
        "both transfers",
    )
    assert bytes(server.received) == up and bytes(client.received) == down


@pytest.mark.clause("7.blocking")
def test_blocking_mode_queues_nothing(harness):
    pair = harness.tls_pair(BLOCKING)
    for session in (pair.client, pair.server):
        assert session.sendBuffer() == 0 and session.getBufferUnsent() == 0
    pair.exchange(payload(200_000, 12), payload(200_000, 13))
    for session in (pair.client, pair.server):
        assert session.sendBuffer() == 0 and session.getBufferUnsent() == 0
