"""The peer's Certificate message read off the wire (``nettls_mbedtls._wire``)."""

from __future__ import annotations

import pytest

pytest.importorskip("nettls_mbedtls", reason="the nettls-mbedtls plugin is not installed: pip install -e plugins/nettls-mbedtls")

from nettls_mbedtls._wire import LIMIT, PeerCertificates

CERTS = [b"\x30\x82leaf" + bytes(300), b"\x30\x82intermediate" + bytes(70000), b"\x30root"]


def _u24(n: int) -> bytes:
    return n.to_bytes(3, "big")


def _message(kind: int, body: bytes) -> bytes:
    return bytes([kind]) + _u24(len(body)) + body


def _certificate_message(certs: list[bytes]) -> bytes:
    body = b"".join(_u24(len(c)) + c for c in certs)
    return _message(11, _u24(len(body)) + body)


def _records(kind: int, payload: bytes, size: int = 16384) -> bytes:
    out = b""
    for pos in range(0, len(payload), size):
        chunk = payload[pos : pos + size]
        out += bytes([kind, 3, 3]) + len(chunk).to_bytes(2, "big") + chunk
    return out


SERVER_HELLO = _message(2, bytes(70))
FLIGHT = _records(22, SERVER_HELLO + _certificate_message(CERTS) + _message(14, b""))


def test_chain_in_order_across_records():
    wire = PeerCertificates()
    wire.feed(FLIGHT)
    assert wire.done and wire.certificates == CERTS


@pytest.mark.parametrize("piece", [1, 5, 7, 1000])
def test_any_split_of_the_bytes(piece):
    wire = PeerCertificates()
    for pos in range(0, len(FLIGHT), piece):
        wire.feed(FLIGHT[pos : pos + piece])
    assert wire.certificates == CERTS


def test_empty_certificate_message():
    wire = PeerCertificates()
    wire.feed(_records(22, _certificate_message([])))
    assert wire.certificates == []


def test_stops_at_change_cipher_spec():
    wire = PeerCertificates()
    wire.feed(_records(22, SERVER_HELLO) + _records(20, b"\x01") + _records(22, _certificate_message(CERTS)))
    assert wire.done and wire.certificates is None


def test_malformed_list_is_none():
    body = _u24(10) + _u24(50) + b"short"  # says 50 bytes, has 5
    wire = PeerCertificates()
    wire.feed(_records(22, _message(11, body)))
    assert wire.done and wire.certificates is None


def test_gives_up_after_the_limit():
    wire = PeerCertificates()
    wire.feed(_records(22, _message(4, bytes(LIMIT))))
    assert wire.done and wire.certificates is None
