"""Helpers the suite's test modules share (private: the public makers are
in ``makers.py``)."""

from __future__ import annotations

import os
import random
import socket as _socket
import struct
from typing import Any

import pytest
from zope.interface import implementer

from nettls.interfaces import ISelectable, ITCPSocket

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
    """Disconnect ``sock`` with a TCP reset (SO_LINGER 0) instead of a FIN.

    Needs ``ISelectable.fileno()``; skips the test otherwise.
    """
    require_interface(sock, ISelectable, "fileno() is needed to reset a connection")
    fd = sock.fileno()
    # A second descriptor of the same socket: the option applies to the
    # socket, and closing the duplicate leaves the connection open.
    with _socket.socket(fileno=os.dup(fd)) as dup:
        dup.setsockopt(_socket.SOL_SOCKET, _socket.SO_LINGER, struct.pack("ii", 1, 0))
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
