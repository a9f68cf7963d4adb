"""A TLS 1.2 impostor: a server that presents a genuine certificate it holds no key for.

SPEC 6 lets ``connect()`` leave the chain to ``verifyCertificate()``, but
only because the handshake itself proves that the peer holds the private
key of the certificate it presents. This module is the peer that proves
nothing: it sends a real certificate chain (the suite's, for
``localhost``) and signs its ServerKeyExchange with another key, as an
attacker on the path would with a certificate copied from the real server.

It speaks just enough TLS 1.2 for that (ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
P-256, ecdsa_secp256r1_sha256) and then listens to the client's answer, all
in plaintext, since nothing after ServerHelloDone can be encrypted before
the client's own key exchange:

- a client that checks the signature answers with a fatal alert (or closes);
- a client that does not sends its ClientKeyExchange: it would go on to
  finish the handshake and send its data to whoever holds the other key.

``run_impostor`` serves one connection on a listening socket and returns
what the client answered. With ``honest=True`` it signs with the
certificate's own key, so the same client must answer with its key
exchange: the control that shows the impostor speaks TLS well enough for
its verdict to mean something.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["ImpostorOutcome", "run_impostor", "ALERT", "KEY_EXCHANGE", "CLOSED"]

#: What the client answered the impostor's ServerHelloDone with.
ALERT = "alert"
KEY_EXCHANGE = "key exchange"
CLOSED = "closed"

_HANDSHAKE, _ALERT_TYPE = 22, 21
_TLS12 = 0x0303
#: TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: offered by every component's default list.
_SUITE = 0xC02B
_SECP256R1 = 23
_ECDSA_SHA256 = 0x0403
#: A ClientHello larger than this is not one the impostor needs to read.
_MAX_HELLO = 1 << 16


@dataclass
class ImpostorOutcome:
    """What the client did after the impostor's flight.

    ``answer`` is ``ALERT``, ``KEY_EXCHANGE`` or ``CLOSED``; ``detail`` says
    more (the alert's description code, or why the impostor stopped early).
    """

    answer: str
    detail: str = ""


class _Refused(Exception):
    """The client's hello is one the impostor cannot answer (no shared suite)."""


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def _read_record(sock: socket.socket) -> tuple[int, bytes]:
    kind, _version, length = struct.unpack("!BHH", _recv_exact(sock, 5))
    return kind, _recv_exact(sock, length)


def _read_client_hello(sock: socket.socket) -> bytes:
    """The ClientHello's body (handshake records joined until it is whole)."""
    buffer = b""
    while True:
        kind, body = _read_record(sock)
        if kind != _HANDSHAKE:
            raise _Refused(f"the client sent record type {kind} first")
        buffer += body
        if len(buffer) >= 4:
            length = int.from_bytes(buffer[1:4], "big")
            if buffer[0] != 1 or length > _MAX_HELLO:
                raise _Refused("the first handshake message is not a ClientHello")
            if len(buffer) >= 4 + length:
                return buffer[4 : 4 + length]


def _offers_suite(hello: bytes) -> bool:
    pos = 2 + 32  # client_version, random
    pos += 1 + hello[pos]  # session_id
    count = int.from_bytes(hello[pos : pos + 2], "big")
    suites = hello[pos + 2 : pos + 2 + count]
    return any(int.from_bytes(suites[i : i + 2], "big") == _SUITE for i in range(0, len(suites), 2))


def _message(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + len(body).to_bytes(3, "big") + body


def _vector(data: bytes, size: int) -> bytes:
    return len(data).to_bytes(size, "big") + data


def _server_flight(client_random: bytes, chain_der: list[bytes], signer: ec.EllipticCurvePrivateKey) -> bytes:
    """ServerHello, Certificate, ServerKeyExchange, ServerHelloDone."""
    server_random = os.urandom(32)
    # renegotiation_info (RFC 5746): OpenSSL 3 clients refuse a server without it.
    extensions = struct.pack("!HH", 0xFF01, 1) + b"\x00"
    hello = struct.pack("!H", _TLS12) + server_random + b"\x00" + struct.pack("!HB", _SUITE, 0) + _vector(extensions, 2)
    certificates = _vector(b"".join(_vector(der, 3) for der in chain_der), 3)
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    point = ephemeral.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    params = struct.pack("!BH", 3, _SECP256R1) + _vector(point, 1)  # named_curve
    signature = signer.sign(client_random + server_random + params, ec.ECDSA(hashes.SHA256()))
    key_exchange = params + struct.pack("!H", _ECDSA_SHA256) + _vector(signature, 2)
    messages = _message(2, hello) + _message(11, certificates) + _message(12, key_exchange) + _message(14, b"")
    return struct.pack("!BHH", _HANDSHAKE, _TLS12, len(messages)) + messages


def _client_answer(sock: socket.socket) -> ImpostorOutcome:
    try:
        kind, body = _read_record(sock)
    except (EOFError, ConnectionError):
        return ImpostorOutcome(CLOSED, "the client closed the connection")
    if kind == _ALERT_TYPE:
        description = body[1] if len(body) >= 2 else -1
        return ImpostorOutcome(ALERT, f"alert description {description}")
    if kind == _HANDSHAKE and body[:1] == b"\x10":
        return ImpostorOutcome(KEY_EXCHANGE, "the client sent its ClientKeyExchange")
    return ImpostorOutcome(KEY_EXCHANGE if kind == _HANDSHAKE else CLOSED, f"record type {kind}")


def run_impostor(
    listener: socket.socket, chain_der: list[bytes], leaf_key: Any, *, honest: bool = False, timeout: float = 10.0
) -> ImpostorOutcome:
    """Serve one connection on ``listener`` as an impostor (see the module docstring).

    ``chain_der`` is the chain presented, leaf first (its leaf must hold a
    P-256 key); ``leaf_key`` is that leaf's private key, used only when
    ``honest``. Raises ``TimeoutError`` if no client comes within ``timeout``.
    """
    listener.settimeout(timeout)
    conn, _ = listener.accept()
    with conn:
        conn.settimeout(timeout)
        try:
            hello = _read_client_hello(conn)
            if not _offers_suite(hello):
                return ImpostorOutcome(CLOSED, "the client offered no ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
        except (_Refused, EOFError, ConnectionError) as exc:
            return ImpostorOutcome(CLOSED, f"no usable ClientHello: {exc}")
        signer = leaf_key if honest else ec.generate_private_key(ec.SECP256R1())
        conn.sendall(_server_flight(hello[2:34], chain_der, signer))
        return _client_answer(conn)
