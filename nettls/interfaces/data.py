"""Plain records exchanged through the interfaces (Dana ``data`` types)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

__all__ = ["NetworkEndpoint", "MonitorEvent", "VerifyStatus", "EventData", "VERIFY_PROFILE"]

#: What ``verifyCertificate`` checks on every component (SPEC 6), in one line.
VERIFY_PROFILE = (
    "strict and purpose-free: RFC 5280 with the web PKI's structural rules, no EKU, SAN or host name asked "
    "of the leaf; RSA < 2048 bits, EC < 256 bits, DSA, serial 0 and SHA-1 refused; bounded work"
)


@dataclass(frozen=True)
class NetworkEndpoint:
    """An IP address (v4 or v6, as text) and a port number."""

    address: str
    port: int


@dataclass(slots=True)  # one per event a monitor reports: cheaper to make without a __dict__
class MonitorEvent:
    """What ``ITCPMonitor.wait()`` reports for one socket.

    ``recvReady``: data (or, on a server socket, a connection) is waiting.
    ``sendReady``: the socket is writable after ``armSendNotify()``.
    ``close``: the peer closed or reset the connection.
    """

    socket: Any
    userData: Any
    recvReady: bool = False
    sendReady: bool = False
    close: bool = False


@dataclass(frozen=True)
class VerifyStatus:
    """The outcome of ``ITLS.verifyCertificate()``: test it with ``.ok`` or
    its truth value (true only when verified).

    ``status`` is ``VerifyStatus.OK`` (0) or ``VerifyStatus.FAIL`` (1): the
    inverse of ``TLS.OK``/``TLS.FAIL``, as in Dana. On failure
    ``failedCertificate`` is the PEM of the certificate at fault (None only
    when the library cannot tell which) and ``failedReason`` says why.
    """

    OK: ClassVar[int] = 0
    FAIL: ClassVar[int] = 1

    status: int
    failedCertificate: str | None = None
    failedReason: str | None = None

    @property
    def ok(self) -> bool:
        """True when the certificate verified: the safe test, since
        ``status == session.OK`` is True for a FAIL (Dana's inverted values)."""
        return self.status == self.OK

    def __bool__(self) -> bool:
        """True when the certificate verified (``if session.verifyCertificate(...):``)."""
        return self.status == self.OK


@dataclass(frozen=True)
class EventData:
    """What an event listener receives: who fired, which event, its data."""

    source: Any
    type: str
    details: Any = None
