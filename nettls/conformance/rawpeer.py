"""A TLS client whose wire bytes the suite controls, for the hostile-peer
clauses (SPEC 14) and the close race (SPEC 6).

``RawClient`` is Python's ``ssl.SSLObject`` over memory buffers on a plain
socket: the handshake is real, and afterwards the test decides what goes on
the wire. ``RecordWriter`` writes the client's own TLS 1.3 records once the
handshake is done, from the client's traffic secret (read from the key log
``ssl`` writes): records no library would send on request, such as
KeyUpdate messages back to back (RFC 8446 section 4.6.3). It changes only
the client's sending keys, so the ``SSLObject`` still reads what the
server sends (``outcome()``).

The record layer is RFC 8446 section 5.2, the key schedule section 7.1
(HKDF-Expand-Label) and 7.2 (the key update), on ``cryptography``. Nothing
here is a component: nettls sessions are the peers of these clients.
"""

from __future__ import annotations

import os
import socket
import ssl
import tempfile
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from .makers import DEFAULT_TIMEOUT, LOOPBACK

__all__ = ["ALERT", "APPLICATION_DATA", "KEY_UPDATE_SIZE", "RawClient", "RecordWriter", "memory_handshake", "records"]

#: Record content types (RFC 8446 section 5.1).
ALERT, HANDSHAKE, APPLICATION_DATA = 21, 22, 23
#: TLS 1.3 cipher suites: AEAD class, key length, hash.
_SUITES: dict[str, tuple[Any, int, Any]] = {
    "TLS_AES_128_GCM_SHA256": (AESGCM, 16, hashes.SHA256),
    "TLS_AES_256_GCM_SHA384": (AESGCM, 32, hashes.SHA384),
    "TLS_CHACHA20_POLY1305_SHA256": (ChaCha20Poly1305, 32, hashes.SHA256),
}
#: A KeyUpdate message, update_not_requested (RFC 8446 section 4.6.3), and the
#: inner content type that follows it in the record.
_KEY_UPDATE = b"\x18\x00\x00\x01\x00" + bytes([HANDSHAKE])
#: Bytes on the wire of one KeyUpdate record: header, message, type, AEAD tag.
KEY_UPDATE_SIZE = 5 + len(_KEY_UPDATE) + 16


def records(data: bytes) -> list[tuple[int, bytes]]:
    """The TLS records in ``data`` as ``(content type, body)``; a partial last one is left out."""
    out = []
    pos = 0
    while pos + 5 <= len(data):
        end = pos + 5 + int.from_bytes(data[pos + 3 : pos + 5], "big")
        if end > len(data):
            break
        out.append((data[pos], data[pos + 5 : end]))
        pos = end
    return out



def memory_handshake(obj: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, sock: socket.socket) -> None:
    """Complete ``obj``'s handshake over a blocking ``sock``: its flights out,
    the peer's in, at most 100 round trips (AssertionError if the peer ends
    it, or past the bound)."""
    for _ in range(100):
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            out = outgoing.read()
            if out:
                sock.sendall(out)
            data = sock.recv(65536)
            if not data:
                raise AssertionError("the server closed during the handshake") from None
            incoming.write(data)
    else:
        raise AssertionError("no handshake after 100 round trips")
    out = outgoing.read()
    if out:
        sock.sendall(out)

class RawClient:
    """A TLS client on ``ssl.SSLObject`` over memory buffers and a plain socket.

    ``version`` pins the protocol (both minimum and maximum). ``secret()``
    gives the client's first application traffic secret after a TLS 1.3
    handshake. Close it with ``close()``.
    """

    def __init__(self, port: int, *, version: ssl.TLSVersion | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._keys = tempfile.TemporaryDirectory(prefix="nettls-keylog-")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the peer is the session under test, not a server to trust
        if version is not None:
            ctx.minimum_version = ctx.maximum_version = version
        ctx.keylog_filename = os.path.join(self._keys.name, "keys")
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_hostname="localhost")
        self.sock = socket.create_connection((LOOPBACK, port), timeout=timeout)

    def handshake(self) -> None:
        """Complete the handshake (AssertionError if the server ends it)."""
        memory_handshake(self.obj, self.incoming, self.outgoing, self.sock)

    def version(self) -> str | None:
        return self.obj.version()

    def secret(self) -> bytes:
        """CLIENT_TRAFFIC_SECRET_0 from the key log (TLS 1.3, after the handshake)."""
        with open(os.path.join(self._keys.name, "keys"), encoding="ascii") as log:
            for line in log:
                label, _random, secret = (line.split() + ["", "", ""])[:3]
                if label == "CLIENT_TRAFFIC_SECRET_0":
                    return bytes.fromhex(secret)
        raise AssertionError("no CLIENT_TRAFFIC_SECRET_0 in the key log (not a TLS 1.3 handshake?)")

    def outcome(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Read what the server sends until its stream ends: "alert: REASON"
        for a fatal alert, "close_notify", "eof" (a TCP close without
        either), or "timeout". Application data and tickets are skipped."""
        self.sock.settimeout(timeout)
        for _ in range(10_000):
            try:
                while self.obj.read(65536):
                    pass
                raise AssertionError("unreachable: read() returned b'' without SSLZeroReturnError")
            except ssl.SSLZeroReturnError:
                return "close_notify"
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError as exc:
                return f"alert: {exc.reason or exc}"
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return "timeout"
            except OSError:
                return "eof"
            if not data:
                return "eof"
            self.incoming.write(data)
        return "timeout"

    def close(self) -> None:
        self.sock.close()
        self._keys.cleanup()


def _expand_label(hash_cls: Any, secret: bytes, label: bytes, length: int) -> bytes:
    """HKDF-Expand-Label(secret, label, "", length) (RFC 8446 section 7.1)."""
    full = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes([len(full)]) + full + b"\x00"
    return HKDFExpand(hash_cls(), length, info).derive(secret)


class RecordWriter:
    """Writes a TLS 1.3 client's records itself, after its handshake.

    Takes over the client's sending direction: from then on everything the
    client sends must come from here (its ``SSLObject`` no longer writes).
    """

    def __init__(self, client: RawClient) -> None:
        cipher = client.obj.cipher()
        if client.version() != "TLSv1.3" or cipher is None or cipher[0] not in _SUITES:
            raise AssertionError(f"RecordWriter needs a TLS 1.3 client, not {client.version()} {cipher}")
        self._aead, self._key_length, self._hash = _SUITES[cipher[0]]
        self._secret = client.secret()
        self._install()

    def _install(self) -> None:
        self._cipher = self._aead(_expand_label(self._hash, self._secret, b"key", self._key_length))
        self._iv = int.from_bytes(_expand_label(self._hash, self._secret, b"iv", 12), "big")
        self._sequence = 0

    def _record(self, inner: bytes) -> bytes:
        header = bytes([APPLICATION_DATA, 3, 3]) + (len(inner) + 16).to_bytes(2, "big")
        nonce = (self._iv ^ self._sequence).to_bytes(12, "big")
        self._sequence += 1
        return header + self._cipher.encrypt(nonce, inner, header)

    def key_update(self) -> bytes:
        """One KeyUpdate record (update_not_requested); the keys move on after it."""
        record = self._record(_KEY_UPDATE)
        self._secret = _expand_label(self._hash, self._secret, b"traffic upd", self._hash.digest_size)
        self._install()
        return record

    def application_data(self, data: bytes) -> bytes:
        """One application data record carrying ``data`` (16 KiB at most)."""
        return self._record(data + bytes([APPLICATION_DATA]))
