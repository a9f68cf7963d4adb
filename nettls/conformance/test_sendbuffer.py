"""SPEC 7 on TLS sessions: the non-blocking send buffer, sendWait, delivery.

Every send() and sendBuffer() below goes through a ``SendLedger``, which
checks the count, the invariant and the sendWait events after each call.
"""

from __future__ import annotations

import pytest

from .makers import BLOCKING, NONBLOCKING, Endpoint
from ._support import payload

OK, FAIL, WAIT_READ, WAIT_WRITE = 1, 0, 2, 3

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
