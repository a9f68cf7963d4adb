"""SPEC 4 and 6 on TLS sessions: recv/send semantics, status, full duplex,
broken connections."""

from __future__ import annotations

import array
import time

import pytest

from nettls import TLSConnectionError
from nettls.interfaces import ISessionInfo

from ._support import payload, reset, settle
from .makers import BLOCKING, NONBLOCKING, Background, recv_exactly

OK, FAIL, WAIT_READ, WAIT_WRITE = 1, 0, 2, 3


@pytest.mark.clause("7.delivery")
def test_exchange_both_ways(harness, mode):
    pair = harness.tls_pair(mode)
    request, response = payload(100_000, 1), payload(300_000, 2)
    assert pair.exchange(request, response) == (request, response)
    assert pair.exchange(b"x", b"y") == (b"x", b"y")


@pytest.mark.clause("4.send-blocking")
def test_blocking_send_writes_everything(harness):
    pair = harness.tls_pair(BLOCKING)
    data = payload(1 << 20, 3)  # more than the kernel buffers hold without a reader
    reader = Background(recv_exactly, pair.server, len(data), name="server recv")
    assert pair.client.send(data) == len(data)
    assert reader.join() == data


@pytest.mark.clause("4.recv-blocking")
def test_blocking_recv_waits_for_n_bytes(harness):
    pair = harness.tls_pair(BLOCKING)

    def trickle():
        for piece in (b"a" * 100, b"b" * 150, b"c" * 50):
            pair.server.send(piece)
            time.sleep(0.02)

    bg = Background(trickle, name="server trickle")
    assert pair.client.recv(300) == b"a" * 100 + b"b" * 150 + b"c" * 50
    bg.join()


@pytest.mark.clause("4.recv-blocking")
def test_blocking_recv_returns_less_only_at_end(harness):
    pair = harness.tls_pair(BLOCKING)
    pair.server.send(b"0123456789")
    assert pair.close("server") == OK
    assert pair.client.recv(100) == b"0123456789"
    assert pair.client.recv(100) == b""


@pytest.mark.clause("4.recv-nonblocking")
def test_nonblocking_recv_returns_at_once(harness):
    pair = harness.tls_pair(NONBLOCKING)
    settle(pair.client)  # what the server sent on its own (TLS 1.3 tickets) is read
    for _ in range(3):
        started = time.monotonic()
        assert pair.client.recv(100) == b""
        assert time.monotonic() - started < 1.0, "a non-blocking recv() with nothing to read waited"
        assert pair.client.getStatus() == WAIT_READ
    got = pair.transfer("server", b"now something")
    assert got == b"now something"


@pytest.mark.clause("4.recv-args")
@pytest.mark.parametrize("bad", ["zero", "negative", "float", "str", "none"])
def test_recv_argument_errors(harness, mode, bad):
    pair = harness.tls_pair(mode)
    value, error = {
        "zero": (0, ValueError),
        "negative": (-1, ValueError),
        "float": (1.5, TypeError),
        "str": ("10", TypeError),
        "none": (None, TypeError),
    }[bad]
    with pytest.raises(error):
        pair.client.recv(value)
    assert pair.transfer("server", b"still fine") == b"still fine"


@pytest.mark.clause("4.send-types")
@pytest.mark.parametrize("kind", ["bytes", "bytearray", "memoryview", "memoryview-slice", "memoryview-of-ints"])
def test_send_takes_bytes_like(harness, mode, kind):
    pair = harness.tls_pair(mode)
    data = payload(4096, 4)
    value = {
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview": memoryview(data),
        "memoryview-slice": memoryview(b"xx" + data + b"yy")[2:-2],
        "memoryview-of-ints": memoryview(array.array("I", data[: 4096 // 4 * 4])),  # not itemsize 1
    }[kind]
    if mode == BLOCKING:
        assert pair.client.send(value) == len(data)
        assert recv_exactly(pair.server, len(data)) == data
    else:
        ep = pair.endpoint("client")
        ep.ledger.send(value)
        pair.driver.run_until(lambda: len(pair.endpoint("server").received) >= len(data) and ep.idle, "the data")
        assert bytes(pair.endpoint("server").received) == data


@pytest.mark.clause("4.send-types")
def test_send_str_is_type_error(harness, mode):
    pair = harness.tls_pair(mode)
    with pytest.raises(TypeError):
        pair.client.send("text")
    assert pair.transfer("client", b"bytes") == b"bytes"


@pytest.mark.clause("4.full-duplex")
def test_recv_in_one_thread_send_in_another(harness):
    pair = harness.tls_pair(BLOCKING)
    chunk, count = 16384, 64
    data = payload(chunk * count, 5)

    def echo():
        for _ in range(count):
            piece = pair.server.recv(chunk)
            if len(piece) != chunk:
                raise AssertionError(f"echo got {len(piece)} bytes")
            pair.server.send(piece)

    echoer = Background(echo, name="server echo")
    reader = Background(recv_exactly, pair.client, len(data), name="client recv")
    time.sleep(0.05)  # let the reader block in recv() first
    for i in range(count):
        assert pair.client.send(data[i * chunk : (i + 1) * chunk]) == chunk
    assert reader.join() == data
    echoer.join()


@pytest.mark.clause("6.nonblocking-reads")
def test_data_waiting_inside_the_session(harness):
    """Small recv() sizes leave whole records inside the session; reading
    until b"" after each recv-ready event must still get everything."""
    pair = harness.tls_pair(NONBLOCKING)
    client = pair.endpoint("client")
    client.recv_size = 100
    data = payload(200_000, 6)
    assert pair.transfer("server", data) == data


# -- broken connections ---------------------------------------------------------


@pytest.mark.clause("4.broken-recv")
def test_recv_after_peer_reset_is_end_of_stream(harness, mode):
    pair = harness.tls_pair(mode)
    pair.transfer("server", b"before the reset")
    reset(pair.server_socket)
    if mode == BLOCKING:
        assert pair.client.recv(100) == b""
        assert pair.client.recv(100) == b""
    else:
        pair.read_to_end("client")
        assert pair.client.recv(100) == b""
    assert pair.client.getStatus() == FAIL
    if ISessionInfo.providedBy(pair.client):
        reason = pair.client.getFailureReason()
        assert isinstance(reason, str) and reason.strip(), "no failure reason after a reset (SPEC 4, 11)"


@pytest.mark.clause("4.broken-send")
def test_send_after_peer_reset_raises(harness, mode):
    pair = harness.tls_pair(mode)
    reset(pair.server_socket)
    time.sleep(0.01)
    chunk = payload(16384, 7)
    with pytest.raises(TLSConnectionError) as info:
        for _ in range(200):
            if mode == BLOCKING:
                pair.client.send(chunk)
            else:
                pair.client.send(chunk)
                pair.client.sendBuffer()
    assert isinstance(info.value, ConnectionError)
    assert pair.client.getStatus() == FAIL
