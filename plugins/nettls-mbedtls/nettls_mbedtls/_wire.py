"""The peer's certificate chain, read off the wire.

python-mbedtls hands out only the peer's leaf (``getpeercert``); the rest
of the chain mbed TLS received stays inside it. TLS 1.2, the newest
version mbed TLS 2.28 speaks, sends its handshake in the clear up to
ChangeCipherSpec, so the chain can be read from the very bytes the engine
feeds to mbed TLS: records of type handshake (22) carry handshake
messages, possibly split across records or several to a record, and the
Certificate message (type 11) is the chain in the order the peer sent it
(RFC 5246, 7.4.2). Reading stops at the peer's ChangeCipherSpec, at an
application-data record, or after ``LIMIT`` bytes, whichever comes first.

mbed TLS remains the parser that decides: the engine uses what is found
here only when its first certificate is the leaf mbed TLS accepted.
"""

from __future__ import annotations

__all__ = ["PeerCertificates"]

_HANDSHAKE, _CHANGE_CIPHER_SPEC, _APPLICATION_DATA = 22, 20, 23
_CERTIFICATE = 11
#: Bytes of the peer's handshake looked at, at most (a chain of a few large certificates fits easily).
LIMIT = 1 << 20


class PeerCertificates:
    """Collects the DER certificates of the peer's Certificate message.

    ``certificates`` is None until the message has been seen (or if it never
    is), else the list as sent, possibly empty. ``done`` is True once
    nothing more will be read.
    """

    __slots__ = ("certificates", "done", "_records", "_messages", "_seen")

    def __init__(self) -> None:
        self.certificates: list[bytes] | None = None
        self.done = False
        self._records = bytearray()
        self._messages = bytearray()
        self._seen = 0

    def feed(self, data: bytes) -> None:
        """Look at the next ``data`` the peer sent."""
        if self.done:
            return
        self._seen += len(data)
        if self._seen > LIMIT:
            self._finish()
            return
        records = self._records
        records += data
        while len(records) >= 5 and not self.done:
            kind, length = records[0], (records[3] << 8) | records[4]
            if len(records) < 5 + length:
                break
            body = bytes(records[5 : 5 + length])
            del records[: 5 + length]
            if kind == _HANDSHAKE:
                self._messages += body
                self._read_messages()
            elif kind in (_CHANGE_CIPHER_SPEC, _APPLICATION_DATA):
                self._finish()

    def _read_messages(self) -> None:
        messages = self._messages
        while len(messages) >= 4 and not self.done:
            kind = messages[0]
            length = int.from_bytes(messages[1:4], "big")
            if len(messages) < 4 + length:
                return
            body = bytes(messages[4 : 4 + length])
            del messages[: 4 + length]
            if kind == _CERTIFICATE:
                self.certificates = _certificate_list(body)
                self._finish()

    def _finish(self) -> None:
        self.done = True
        self._records = bytearray()
        self._messages = bytearray()


def _certificate_list(body: bytes) -> list[bytes] | None:
    """The DER certificates of a TLS 1.2 Certificate message body; None if malformed."""
    if len(body) < 3:
        return None
    end = 3 + int.from_bytes(body[:3], "big")
    if end != len(body):
        return None
    certs, pos = [], 3
    while pos < end:
        if pos + 3 > end:
            return None
        size = int.from_bytes(body[pos : pos + 3], "big")
        pos += 3
        if pos + size > end:
            return None
        certs.append(body[pos : pos + size])
        pos += size
    return certs
