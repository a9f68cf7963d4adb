"""Helpers the suite's test modules share (private: the public makers are
in ``makers.py``)."""

from __future__ import annotations

import os
import random
import socket as _socket
import contextlib
import struct
import time
from typing import Any, Iterator

import pytest
from zope.interface import implementer

from nettls.interfaces import ISelectable, ITCPSocket, TLSConstants

from .kits import LOOPBACK
from .pki import PKI

#: Ids of the malformed inputs tried everywhere a PEM is taken.
MALFORMED = ("empty", "text", "binary", "bad-base64", "truncated", "der", "non-ascii", "wrong-type")


def malformed(pki: PKI, case: str, *, want: str = "certificate") -> str | bytes:
    """Input that is not a PEM ``want`` ("certificate" or "key"), by case id."""
    cert = pki.ec.cert_pem
    lines = cert.strip().splitlines()
    cases: dict[str, str | bytes] = {
        "empty": "",
        "text": "this is not a PEM block",
        "binary": b"\x00\xff\xfe\x80 garbage \x01",
        "bad-base64": "-----BEGIN CERTIFICATE-----\n!!!! not base64 ****\n-----END CERTIFICATE-----\n",
        # Valid base64, DER cut short: the header promises more than follows.
        "truncated": "\n".join(lines[:4] + lines[-1:]) + "\n",
        "der": pki.ec.leaf.der,
        "non-ascii": "-----BEGIN CERTIFICATE-----\nüñí©ødé\n-----END CERTIFICATE-----\n",
        # A well-formed PEM of the other kind.
        "wrong-type": pki.ec.key_pem() if want == "certificate" else cert,
    }
    if want == "key":
        key_lines = pki.ec.key_pem().strip().splitlines()
        cases["bad-base64"] = "-----BEGIN PRIVATE KEY-----\n!!!! not base64 ****\n-----END PRIVATE KEY-----\n"
        cases["truncated"] = "\n".join(key_lines[:2] + key_lines[-1:]) + "\n"
        cases["non-ascii"] = "-----BEGIN PRIVATE KEY-----\nüñí©ødé\n-----END PRIVATE KEY-----\n"
        cases["der"] = b"\x30\x81\x87\x02\x01\x00"
    return cases[case]


def payload(n: int, seed: int = 0) -> bytes:
    """``n`` reproducible pseudo-random bytes (so reordering shows)."""
    return random.Random(seed).randbytes(n)


def require_interface(obj: Any, iface: Any, what: str) -> None:
    """Skip unless ``obj`` provides the extension interface ``iface``."""
    if not iface.providedBy(obj):
        pytest.skip(f"{type(obj).__name__} does not provide {iface.__name__} ({what})")


def reset(sock: Any) -> None:
    """Disconnect ``sock`` with a TCP reset (RST) instead of a FIN.

    Needs ``ISelectable.fileno()``; skips the test otherwise. The
    connection is dropped behind the component's back: a second descriptor
    of it gets SO_LINGER 0, the component's descriptor is pointed at
    ``/dev/null``, and closing the second one then ends the connection with
    a reset alone (a ``disconnect()`` that shuts the socket down first
    would send a FIN ahead of it). ``sock`` is disconnected after that.
    """
    require_interface(sock, ISelectable, "fileno() is needed to reset a connection")
    fd = sock.fileno()
    with _socket.socket(fileno=os.dup(fd)) as dup:
        dup.setsockopt(_socket.SOL_SOCKET, _socket.SO_LINGER, struct.pack("ii", 1, 0))
        null = os.open(os.devnull, os.O_RDWR)
        try:
            os.dup2(null, fd)  # the component's descriptor no longer holds the connection
        finally:
            os.close(null)
    # The last descriptor is closed: the kernel sent the reset.
    sock.disconnect()


@implementer(ITCPSocket)
class SocketWrapper:
    """An ``ITCPSocket`` that only delegates, and provides no extension.

    A session must run over it through the interface alone (SPEC 6); the
    counters show that it did.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sent = 0
        self.received = 0
        self.send_calls = 0
        self.recv_calls = 0

    @property
    def sendWait(self) -> Any:
        return self.inner.sendWait

    def send(self, data: Any) -> int:
        self.send_calls += 1
        n = self.inner.send(data)
        self.sent += n
        return n

    def recv(self, n: int) -> bytes:
        self.recv_calls += 1
        data = self.inner.recv(n)
        self.received += len(data)
        return data

    def connect(self, address: str, port: int) -> bool:
        return self.inner.connect(address, port)

    def accept(self, server: Any) -> bool:
        return self.inner.accept(server)

    def disconnect(self) -> None:
        self.inner.disconnect()

    def getRemoteEndpoint(self) -> Any:
        return self.inner.getRemoteEndpoint()

    def getLocalEndpoint(self) -> Any:
        return self.inner.getLocalEndpoint()

    def setNonBlocking(self, sendWaitData: Any = None) -> bool:
        return self.inner.setNonBlocking(sendWaitData)

    def sendBuffer(self) -> int:
        return self.inner.sendBuffer()

    def getBufferUnsent(self) -> int:
        return self.inner.getBufferUnsent()

    def connected(self) -> bool:
        return self.inner.connected()


#: Bound of a loop that waits for data to arrive (calls, each ~10 ms apart).
_POLLS = 500


def drain(session: Any) -> None:
    """A non-blocking ``recv()`` until it returns ``b""`` (bounded)."""
    for _ in range(_POLLS):
        if not session.recv(65536):
            return
    raise AssertionError(f"recv() did not return b'' in {_POLLS} calls")


def recv_some(session: Any, n: int) -> bytes:
    """Non-blocking ``recv(n)`` until it returns data (bounded); the data."""
    for _ in range(_POLLS):
        data = session.recv(n)
        if data:
            return bytes(data)
        if session.getStatus() == TLSConstants.FAIL:
            raise AssertionError("the stream ended while waiting for data")
        time.sleep(0.01)
    raise AssertionError(f"no data after {_POLLS} recv() calls")


def settle(session: Any) -> None:
    """Let the peer's post-handshake messages (TLS 1.3 tickets) arrive and be
    read, so that a later ``recv()`` finds nothing."""
    time.sleep(0.05)
    drain(session)


def monitor_events(monitor: Any, ms: int = 200, *, want: Any = None, timeout: float = 3.0) -> list[Any]:
    """wait() until an event matching ``want`` (or any) shows; returns the events."""
    deadline = time.monotonic() + timeout
    while True:
        events = monitor.wait(ms)
        if events and (want is None or any(want(e) for e in events)):
            return events
        if time.monotonic() > deadline:
            return events


def ipv6_loopback() -> bool:
    if not _socket.has_ipv6:
        return False
    try:
        with _socket.socket(_socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@contextlib.contextmanager
def unanswering_listener(fillers: int = 4) -> Iterator[int]:
    """A loopback port whose listener never answers a new connection: its
    accept queue (backlog 0) is full, so the kernel drops further SYNs.
    Yields the port; skips where the queue cannot be filled."""
    listener = _socket.socket()
    queued = []
    try:
        listener.bind((LOOPBACK, 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        for _ in range(fillers):
            filler = _socket.socket()
            queued.append(filler)
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect((LOOPBACK, port))
        with _socket.socket() as probe:
            probe.settimeout(0.3)
            try:
                probe.connect((LOOPBACK, port))
                pytest.skip("this kernel answers connections past a full accept queue")
            except TimeoutError:
                pass
        yield port
    finally:
        for sock in (*queued, listener):
            sock.close()
