"""SPEC 6: close() and end of stream."""

from __future__ import annotations

import pytest

from nettls import TLSError

from ._support import payload
from .checks import check_close_by_send_buffer
from .makers import BLOCKING, NONBLOCKING, read_to_end
from .driver import stuff

OK, FAIL, WAIT_READ, WAIT_WRITE = 1, 0, 2, 3


def _assert_ended(session, mode):
    for _ in range(3):
        assert session.recv(100) == b"", "recv() returns b'' on every call after the end of stream"
    assert session.getStatus() == FAIL


@pytest.mark.clause("6.close")
def test_close_is_ok_and_leaves_the_socket_connected(harness, mode):
    pair = harness.tls_pair(mode)
    assert pair.close("client") == OK
    assert pair.client_socket.connected(), "close() disconnected the TCP socket"
    assert pair.client.getStatus() == FAIL
    assert pair.read_to_end("server") == b""
    _assert_ended(pair.server, mode)


@pytest.mark.clause("6.close")
def test_send_after_close_is_tls_error(harness, mode):
    pair = harness.tls_pair(mode)
    assert pair.close("client") == OK
    with pytest.raises(TLSError):
        pair.client.send(b"too late")


@pytest.mark.clause("6.close")
def test_close_twice_fails(harness, mode):
    pair = harness.tls_pair(mode)
    assert pair.close("client") == OK
    assert pair.client.close() == FAIL


@pytest.mark.clause("6.close")
def test_close_without_handshake_fails(harness):
    kit = harness.kit
    assert kit.TLS(kit.client_context()).close() == FAIL
    pair = harness.tls_pair(BLOCKING, do_handshake=False)
    assert pair.client.close() == FAIL


@pytest.mark.clause("6.close")
def test_close_after_the_peer_closed_is_ok(harness, mode):
    pair = harness.tls_pair(mode)
    assert pair.close("server") == OK
    assert pair.read_to_end("client") == b""
    assert pair.close("client") == OK


@pytest.mark.clause("6.close")
def test_nonblocking_close_writes_the_queue_first(harness):
    pair = harness.tls_pair(NONBLOCKING)
    client = pair.endpoint("client")
    data = stuff(client, extra=64)  # 4 MiB queued: more than the kernel can take at once
    first = pair.client.close()
    assert first == WAIT_WRITE, "close() with bytes queued returns WAIT_WRITE"
    client.close(first=first)
    got = pair.read_to_end("server")
    pair.driver.run_until(lambda: not client.pending, "close() to finish")
    assert client.result == OK
    assert got == data, "close() lost or reordered queued bytes"


@pytest.mark.clause("6.close")
def test_nonblocking_close_finished_by_send_buffer_alone(harness):
    check_close_by_send_buffer(harness)


@pytest.mark.clause("6.eof")
def test_end_of_stream_after_close_notify(harness, mode):
    pair = harness.tls_pair(mode)
    tail = payload(5000, 20)
    if mode == BLOCKING:
        assert pair.server.send(tail[:1000]) == 1000
        assert pair.server.send(tail[1000:]) == 4000
        assert pair.close("server") == OK
        assert pair.client.recv(1000) == tail[:1000]
        assert read_to_end(pair.client) == tail[1000:]
    else:
        pair.endpoint("server").feed(tail)
        assert pair.close("server") == OK
        assert pair.read_to_end("client") == tail
    _assert_ended(pair.client, mode)


@pytest.mark.clause("6.eof")
def test_end_of_stream_after_tcp_close_without_close_notify(harness, mode):
    pair = harness.tls_pair(mode)
    tail = payload(3000, 21)
    if mode == BLOCKING:
        assert pair.server.send(tail) == len(tail)
    else:
        pair.endpoint("server").feed(tail)
        pair.driver.run_until(lambda: pair.endpoint("server").idle, "the server's data to leave")
    pair.server_socket.disconnect()
    assert pair.read_to_end("client") == tail
    _assert_ended(pair.client, mode)
