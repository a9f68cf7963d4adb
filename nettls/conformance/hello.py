"""A legal TLS 1.3 ClientHello of any size, for the handshake clause.

A ClientHello larger than a library's input buffer (16 KiB is common) is
legal: it spans several records, and the padding extension (RFC 7685,
allowed in a TLS 1.3 ClientHello by RFC 8446 section 4.2) may be as large
as the extensions block allows. A server must answer it (a ServerHello,
or an alert if it will not take one so large), never wait for more input
than the client sent. ``client_hello(size)`` builds one of about ``size``
bytes, offering TLS 1.3 (X25519, the three mandatory suites) and TLS 1.2
(ECDHE with P-256 or X25519, AES-GCM), as records ready for the wire.
"""

from __future__ import annotations

import os
import struct

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

__all__ = ["client_hello", "HANDSHAKE", "ALERT", "SERVER_HELLO"]

#: Record content types and the handshake type a server answers with.
ALERT, HANDSHAKE = 21, 22
SERVER_HELLO = 2
#: TLS 1.3's three mandatory suites, then ECDHE_ECDSA/ECDHE_RSA_WITH_AES_128_GCM_SHA256 for TLS 1.2.
_SUITES = (0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F)
#: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256/384/512, rsa_pkcs1_sha256/384/512, ecdsa_secp384r1_sha384
_SIGNATURE_SCHEMES = (0x0403, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0503)
_X25519, _SECP256R1 = 0x001D, 0x0017
_MAX_RECORD = 16384


def _extension(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def _vector(body: bytes, length_bytes: int) -> bytes:
    return len(body).to_bytes(length_bytes, "big") + body


def client_hello(size: int) -> bytes:
    """Records carrying one TLS 1.3 ClientHello of about ``size`` bytes
    (at least the few hundred its real content takes; at most 64 KiB)."""
    public = x25519.X25519PrivateKey.generate().public_key()
    key = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    extensions = b"".join(
        (
            _extension(43, _vector(struct.pack("!HH", 0x0304, 0x0303), 1)),  # supported_versions
            _extension(10, _vector(struct.pack("!HH", _X25519, _SECP256R1), 2)),  # supported_groups
            _extension(11, _vector(b"\x00", 1)),  # ec_point_formats: uncompressed (TLS 1.2)
            _extension(13, _vector(b"".join(struct.pack("!H", s) for s in _SIGNATURE_SCHEMES), 2)),
            _extension(51, _vector(struct.pack("!H", _X25519) + _vector(key, 2), 2)),  # key_share
        )
    )
    fixed = 2 + 32 + 33 + 2 + 2 * len(_SUITES) + 2 + 2 + len(extensions) + 4
    padding = max(0, size - fixed - 4)
    if padding + fixed > 0xFFFF:
        raise ValueError(f"a ClientHello of {size} bytes does not fit its extensions' 16-bit length")
    extensions += _extension(21, bytes(padding))  # padding (RFC 7685)
    body = b"".join(
        (
            struct.pack("!H", 0x0303),  # legacy_version
            os.urandom(32),
            _vector(os.urandom(32), 1),  # legacy_session_id (middlebox compatibility)
            _vector(b"".join(struct.pack("!H", s) for s in _SUITES), 2),
            _vector(b"\x00", 1),  # legacy_compression_methods: null
            _vector(extensions, 2),
        )
    )
    message = bytes([1]) + len(body).to_bytes(3, "big") + body
    records = []
    for pos in range(0, len(message), _MAX_RECORD):
        fragment = message[pos : pos + _MAX_RECORD]
        records.append(struct.pack("!BHH", HANDSHAKE, 0x0301, len(fragment)) + fragment)
    return b"".join(records)
