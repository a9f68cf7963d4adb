"""SPEC 13: ``recvInto(buffer)`` (``IRecvInto``) decrypts into the caller's
memory and returns what has already arrived, up to the buffer's length,
without waiting for more (``recv(n)`` keeps Dana's exact-n rule)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from nettls import TLSError, TLSNotHandshakenError
from nettls.interfaces.tlsext import IRecvInto

from ._support import payload, require_interface
from .kits import DEFAULT_TIMEOUT
from .makers import BLOCKING, NONBLOCKING, Background

OK, FAIL = 1, 0


def _pair(harness: Any, mode: str) -> Any:
    """A handshaken pair whose server sends blocking and whose client is in ``mode``."""
    pair = harness.tls_pair(BLOCKING)
    require_interface(pair.client, IRecvInto, "recvInto")
    if mode == NONBLOCKING:
        pair.client.setNonBlocking()
    return pair


def _read_into(session: Any, buffer: Any, nonblocking: bool) -> int:
    """One recvInto() that returns something (non-blocking: polled, bounded), or 0 at the end."""
    deadline = time.monotonic() + DEFAULT_TIMEOUT
    while True:
        n = session.recvInto(buffer)
        if n or not nonblocking or session.getStatus() == FAIL:
            return int(n)
        if time.monotonic() > deadline:
            raise AssertionError(f"recvInto() returned nothing for {DEFAULT_TIMEOUT} s")
        time.sleep(0.002)


@pytest.mark.clause("13.recv-into")
def test_recv_into_returns_what_has_arrived_without_waiting_for_more(harness, mode):
    pair = _pair(harness, mode)
    assert pair.server.send(b"x" * 100) == 100
    buffer = bytearray(4096)
    n = _read_into(pair.client, buffer, mode == NONBLOCKING)
    assert n == 100, f"recvInto() of a 4096-byte buffer with 100 bytes sent returned {n}"
    assert buffer[:100] == b"x" * 100 and buffer[100:] == bytes(3996), "recvInto() wrote past what it returned"


@pytest.mark.clause("13.recv-into")
def test_recv_into_keeps_every_byte_in_order(harness, mode):
    pair = _pair(harness, mode)
    data = payload(300_000, 31)
    sender = Background(pair.server.send, data, name="server send()")
    got = bytearray()
    buffers = [bytearray(65536), memoryview(bytearray(1000)), bytearray(17000)]
    for turn in range(10_000):  # bounded: at least one byte per turn
        if len(got) >= len(data):
            break
        buffer = buffers[turn % len(buffers)]
        n = _read_into(pair.client, buffer, mode == NONBLOCKING)
        assert 0 < n <= len(buffer), f"recvInto() returned {n} for a buffer of {len(buffer)}"
        got += buffer[:n]
        if turn % 7 == 0 and len(got) < len(data):  # recv() between them takes its turn in order
            got += pair.client.recv(1) if mode == BLOCKING else _recv_some(pair.client)
    assert sender.join() == len(data)
    assert bytes(got) == data


def _recv_some(session: Any) -> bytes:
    deadline = time.monotonic() + DEFAULT_TIMEOUT
    while time.monotonic() < deadline:
        data = session.recv(1)
        if data:
            return bytes(data)
        time.sleep(0.002)
    raise AssertionError("a non-blocking recv() found nothing")


@pytest.mark.clause("13.recv-into")
def test_recv_into_at_end_of_stream_is_zero_and_fail(harness, mode):
    pair = _pair(harness, mode)
    pair.server.send(b"tail")
    assert pair.server.close() == OK
    buffer = bytearray(100)
    got = b""
    for _ in range(100):
        n = _read_into(pair.client, buffer, mode == NONBLOCKING)
        if not n:
            break
        got += bytes(buffer[:n])
    assert got == b"tail"
    assert pair.client.recvInto(buffer) == 0 and pair.client.getStatus() == FAIL


@pytest.mark.clause("13.recv-into")
@pytest.mark.parametrize(
    "bad, error",
    [(b"read-only", TypeError), ("text", TypeError), (memoryview(b"abc"), TypeError), (bytearray(), ValueError)],
    ids=["bytes", "str", "read-only-view", "empty"],
)
def test_recv_into_argument_errors(harness, bad, error):
    pair = _pair(harness, BLOCKING)
    with pytest.raises(error):
        pair.client.recvInto(bad)
    assert pair.exchange(b"still", b"fine") == (b"still", b"fine")


@pytest.mark.clause("13.recv-into")
def test_recv_into_before_the_handshake_raises_not_handshaken(harness):
    kit = harness.kit
    session = kit.TLS(kit.client_context())
    require_interface(session, IRecvInto, "recvInto")
    with pytest.raises(TLSNotHandshakenError):
        session.recvInto(bytearray(10))
    assert issubclass(TLSNotHandshakenError, TLSError)
