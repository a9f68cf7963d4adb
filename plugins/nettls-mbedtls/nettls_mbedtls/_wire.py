"""The peer's bytes on their way to mbed TLS, and what the clear part of its handshake says.

mbed TLS 2.28, as python-mbedtls builds it, takes a handshake message only
whole and in one record of at most 16 KiB (``MBEDTLS_SSL_IN_CONTENT_LEN``,
fixed at build time): it reassembles no message split across records
("handshake fragmentation not supported"), and wants a ClientHello alone
in its record. Peers may split any message (RFC 5246, 6.2.1), and must
split one larger than a record. ``Inbound`` therefore re-frames the clear
part of the peer's handshake: each handshake message, once whole, goes to
mbed TLS in a record of its own. Nothing mbed TLS checks changes (the
Finished messages cover the messages, not their records). A message too
large for mbed TLS is refused as soon as its header says so (``refusal``),
rather than failing later on an error code, or waiting for the rest.

TLS 1.2, the newest version mbed TLS 2.28 speaks, sends its handshake in
the clear up to ChangeCipherSpec, so the same pass notes what python-mbedtls
does not hand out: the peer's chain as sent (its Certificate message, RFC
5246 7.4.2) and the name a client asks for (its ClientHello's server_name,
RFC 6066 3), which a server has no other way to learn (python-mbedtls has
no SNI callback).

After the peer's ChangeCipherSpec the records pass unchanged, but their
boundaries are followed: ``take`` can stop before an alert record (its
content type is in the clear in TLS 1.2), so that the engine can write its
own close_notify while mbed TLS can still write one. Input that is not TLS
1.2 (an unknown content type, a record longer than TLS allows, application
data before ChangeCipherSpec) passes unchanged from where it starts, for
mbed TLS to refuse itself.
"""

from __future__ import annotations

from nettls.hostname import server_name

__all__ = ["Inbound", "MAX_MESSAGE"]

_CHANGE_CIPHER_SPEC, _ALERT, _HANDSHAKE = 20, 21, 22
_CLIENT_HELLO, _CERTIFICATE = 1, 11
#: RFC 6066: the server_name extension, and its host_name entry.
_SERVER_NAME, _HOST_NAME = 0, 0
_HEADER = 5
#: The largest handshake message mbed TLS takes, header included: one record
#: of MBEDTLS_SSL_IN_CONTENT_LEN (python-mbedtls builds mbed TLS with 16 KiB).
MAX_MESSAGE = 16384
#: RFC 5246 6.2.1: a record in the clear carries at most 2^14 bytes.
_MAX_CLEAR_RECORD = 16384
#: Handshake messages by type, for the reasons (RFC 5246 7.4).
_NAMES = {
    1: "ClientHello",
    2: "ServerHello",
    4: "NewSessionTicket",
    11: "Certificate",
    12: "ServerKeyExchange",
    13: "CertificateRequest",
    14: "ServerHelloDone",
    15: "CertificateVerify",
    16: "ClientKeyExchange",
}


class Inbound:
    """The peer's ciphertext, re-framed for mbed TLS, and what its handshake says.

    ``certificates``: the DER certificates of the peer's Certificate
    message as sent, once it passed (None before, or if malformed).
    ``server_name``: the host name of a ClientHello's server_name, in
    nettls's normal form (None if none, or not a valid host name).
    ``refusal``: why the peer's input cannot go to mbed TLS (a message too
    large), or None. ``opened``: the first handshake message is whole, or
    the input turned out not to be a handshake (a server waits for this
    before it chooses its certificate).
    """

    __slots__ = ("certificates", "server_name", "refusal", "opened", "_raw", "_ready", "_message", "_version", "_phase", "_boundary")

    #: _phase: handshake records re-framed; records followed (encrypted); bytes as they come.
    _CLEAR, _RECORDS, _OPAQUE = 0, 1, 2

    def __init__(self) -> None:
        self.certificates: list[bytes] | None = None
        self.server_name: str | None = None
        self.refusal: str | None = None
        self.opened = False
        self._raw = bytearray()  # the clear phase's input short of a whole record
        self._ready = bytearray()  # bytes for mbed TLS, in order
        self._message = bytearray()  # a handshake message still arriving, across records
        self._version = b"\x03\x03"  # the record version the peer uses
        self._phase = self._CLEAR
        self._boundary = 0  # _RECORDS: bytes of _ready before the next record header

    # -- input --------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Take the next ``data`` the peer sent."""
        if self.refusal is not None:
            return  # the handshake has failed: nothing more goes to mbed TLS
        if self._phase != self._CLEAR:
            self._ready += data
            return
        raw = self._raw
        raw += data
        pos = 0
        while self._phase == self._CLEAR and len(raw) - pos >= _HEADER:
            kind, length = raw[pos], int.from_bytes(raw[pos + 3 : pos + 5], "big")
            if kind not in (_CHANGE_CIPHER_SPEC, _ALERT, _HANDSHAKE) or length > _MAX_CLEAR_RECORD or (kind == _HANDSHAKE and not length):
                # Not TLS 1.2 as a peer may send it (RFC 5246 6.2.1 forbids an
                # empty handshake record): mbed TLS sees it as it came and refuses it.
                self._flush_message()
                self._phase = self._OPAQUE
                self.opened = True
                break
            end = pos + _HEADER + length
            if end > len(raw):
                break
            if kind == _HANDSHAKE:
                self._version = bytes(raw[pos + 1 : pos + 3])
                self._message += raw[pos + _HEADER : end]
                self._messages()
                if self.refusal is not None:
                    raw.clear()
                    return
            else:
                self._flush_message()  # no message goes on after another record: mbed TLS will say so
                self._ready += raw[pos:end]
                self.opened = True
                if kind == _CHANGE_CIPHER_SPEC:
                    self._phase = self._RECORDS
                    self._boundary = len(self._ready)  # whole records so far; encrypted ones follow
            pos = end
        if self._phase == self._CLEAR:
            del raw[:pos]
        else:
            self._ready += raw[pos:]
            raw.clear()

    def _messages(self) -> None:
        """Move each whole handshake message to ``_ready``, in a record of its own."""
        message = self._message
        while len(message) >= 4:
            kind, length = message[0], int.from_bytes(message[1:4], "big")
            if 4 + length > MAX_MESSAGE:
                self.refusal = (
                    f"the peer's {_NAMES.get(kind, f'type {kind}')} handshake message is {4 + length} bytes; "
                    f"mbed TLS 2.28 takes one of at most {MAX_MESSAGE} bytes (MBEDTLS_SSL_IN_CONTENT_LEN, "
                    "fixed when python-mbedtls was built)"
                )
                message.clear()
                return
            if len(message) < 4 + length:
                return
            whole = bytes(message[: 4 + length])
            del message[: 4 + length]
            self._note(kind, whole[4:])
            self._ready += bytes((_HANDSHAKE,)) + self._version + len(whole).to_bytes(2, "big") + whole
            self.opened = True

    def _flush_message(self) -> None:
        """Pass on the part of a message that another record interrupts, as it is."""
        if self._message:
            part = bytes(self._message)
            self._message.clear()
            self._ready += bytes((_HANDSHAKE,)) + self._version + len(part).to_bytes(2, "big") + part

    def _note(self, kind: int, body: bytes) -> None:
        if kind == _CERTIFICATE and self.certificates is None:
            self.certificates = _certificate_list(body)
        elif kind == _CLIENT_HELLO and self.server_name is None:
            self.server_name = _client_hello_name(body)

    # -- output -------------------------------------------------------------------

    def take(self, room: int, hold_alert: bool) -> bytes:
        """At most ``room`` bytes for mbed TLS. After ChangeCipherSpec a record
        header goes only whole, and with ``hold_alert`` nothing goes from the
        start of an alert record on (see ``alert_ahead``)."""
        ready = self._ready
        if self._phase != self._RECORDS:
            count = min(room, len(ready))
        else:
            count = 0
            while count < room:
                if self._boundary == 0:
                    if len(ready) - count < _HEADER or (hold_alert and ready[count] == _ALERT):
                        break
                    self._boundary = _HEADER + int.from_bytes(ready[count + 3 : count + 5], "big")
                step = min(room - count, self._boundary, len(ready) - count)
                if step == 0:
                    break
                count += step
                self._boundary -= step
        if not count:
            return b""
        out = bytes(ready[:count])
        del ready[:count]
        return out

    def alert_ahead(self) -> bool:
        """Whether what comes next (after ChangeCipherSpec) is an alert record."""
        ready = self._ready
        return self._phase == self._RECORDS and self._boundary == 0 and len(ready) >= _HEADER and ready[0] == _ALERT

    def take_alert(self) -> bytes | None:
        """The alert record ``alert_ahead`` saw, once it is whole; else None."""
        if not self.alert_ahead():
            return None
        end = _HEADER + int.from_bytes(self._ready[3:5], "big")
        if len(self._ready) < end:
            return None
        record = bytes(self._ready[:end])
        del self._ready[:end]
        return record


def _certificate_list(body: bytes) -> list[bytes] | None:
    """The DER certificates of a TLS 1.2 Certificate message body; None if malformed."""
    if len(body) < 3 or 3 + int.from_bytes(body[:3], "big") != len(body):
        return None
    certs, pos = [], 3
    while pos < len(body):
        size = int.from_bytes(body[pos : pos + 3], "big")
        pos += 3
        if pos + size > len(body):
            return None
        certs.append(body[pos : pos + size])
        pos += size
    return certs


def _client_hello_name(body: bytes) -> str | None:
    """The host name of a ClientHello body's server_name extension, normalised
    (``nettls.hostname.server_name``); None if there is none or it is not one."""
    pos = 2 + 32  # client_version, random
    pos = _skip(body, pos, 1)  # session_id
    pos = _skip(body, pos, 2)  # cipher_suites
    pos = _skip(body, pos, 1)  # compression_methods
    if pos < 0 or pos + 2 > len(body):
        return None
    end = min(len(body), pos + 2 + int.from_bytes(body[pos : pos + 2], "big"))
    pos += 2
    while pos + 4 <= end:
        kind, size = int.from_bytes(body[pos : pos + 2], "big"), int.from_bytes(body[pos + 2 : pos + 4], "big")
        pos += 4
        if kind == _SERVER_NAME:
            return _host_name(body[pos : min(end, pos + size)])
        pos += size
    return None


def _skip(body: bytes, pos: int, width: int) -> int:
    """The position after a vector with a ``width``-byte length at ``pos``; -1 past the end."""
    if pos < 0 or pos + width > len(body):
        return -1
    return pos + width + int.from_bytes(body[pos : pos + width], "big")


def _host_name(extension: bytes) -> str | None:
    """The first host_name of a server_name extension's ServerNameList."""
    pos = 2
    while pos + 3 <= len(extension):
        kind, size = extension[pos], int.from_bytes(extension[pos + 1 : pos + 3], "big")
        pos += 3
        if kind == _HOST_NAME:
            try:
                name = server_name(extension[pos : pos + size].decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                return None
            return None if name.is_ip else name.text
        pos += size
    return None
