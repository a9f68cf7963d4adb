"""The peer's bytes on their way to mbed TLS (``nettls_mbedtls._wire.Inbound``):
re-framing, the size limit, and what the clear handshake says."""

from __future__ import annotations

import ssl

import pytest

pytest.importorskip("nettls_mbedtls", reason="the nettls-mbedtls plugin is not installed: pip install -e plugins/nettls-mbedtls")

from nettls_mbedtls._wire import MAX_MESSAGE, Inbound

CERTS = [b"\x30\x82leaf" + bytes(300), b"\x30\x82intermediate" + bytes(7000), b"\x30root"]


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


def _take_all(wire: Inbound, hold_alert: bool = False) -> bytes:
    out = b""
    while more := wire.take(1000, hold_alert):
        out += more
    return out


SERVER_HELLO = _message(2, bytes(70))
DONE = _message(14, b"")
FLIGHT = _records(22, SERVER_HELLO + _certificate_message(CERTS) + DONE)


def test_chain_in_order_across_records():
    wire = Inbound()
    wire.feed(_records(22, SERVER_HELLO + _certificate_message(CERTS) + DONE, size=100))
    assert wire.certificates == CERTS


@pytest.mark.parametrize("piece", [1, 5, 7, 1000])
def test_any_split_of_the_bytes(piece):
    wire = Inbound()
    for pos in range(0, len(FLIGHT), piece):
        wire.feed(FLIGHT[pos : pos + piece])
    assert wire.certificates == CERTS


def test_each_message_goes_whole_in_a_record_of_its_own():
    wire = Inbound()
    wire.feed(_records(22, SERVER_HELLO + _certificate_message(CERTS) + DONE, size=333))
    expected = _records(22, SERVER_HELLO) + _records(22, _certificate_message(CERTS)) + _records(22, DONE)
    assert _take_all(wire) == expected


def test_nothing_goes_before_a_message_is_whole():
    wire = Inbound()
    whole = _records(22, _certificate_message(CERTS), size=500)
    wire.feed(whole[:-1])
    assert wire.take(1 << 20, False) == b"" and not wire.opened
    wire.feed(whole[-1:])
    assert wire.opened and _take_all(wire) == _records(22, _certificate_message(CERTS))


def test_empty_certificate_message():
    wire = Inbound()
    wire.feed(_records(22, _certificate_message([])))
    assert wire.certificates == []


def test_records_after_change_cipher_spec_pass_unchanged():
    after = _records(22, _certificate_message(CERTS), size=50) + _records(23, b"x" * 40)
    wire = Inbound()
    wire.feed(_records(22, SERVER_HELLO) + _records(20, b"\x01") + after)
    assert wire.certificates is None, "an encrypted message is not read"
    assert _take_all(wire) == _records(22, SERVER_HELLO) + _records(20, b"\x01") + after


def test_malformed_list_is_none():
    body = _u24(10) + _u24(50) + b"short"  # says 50 bytes, has 5
    wire = Inbound()
    wire.feed(_records(22, _message(11, body)))
    assert wire.certificates is None


@pytest.mark.parametrize("size", [MAX_MESSAGE - 4 + 1, 70_000])
def test_a_message_too_large_is_refused_from_its_header(size):
    wire = Inbound()
    records = _records(22, _message(1, bytes(size)))
    wire.feed(records[:16389])  # the first record: the rest is never needed
    assert wire.refusal is not None and f"ClientHello handshake message is {4 + size} bytes" in wire.refusal
    assert wire.take(1 << 20, False) == b""
    wire.feed(records[16389:])
    assert wire.take(1 << 20, False) == b"", "nothing goes to mbed TLS after a refusal"


def test_the_largest_message_passes():
    wire = Inbound()
    wire.feed(_records(22, _message(1, bytes(MAX_MESSAGE - 4))))
    assert wire.refusal is None and len(_take_all(wire)) == 5 + MAX_MESSAGE


@pytest.mark.parametrize("name, expected", [("WWW.Example.com", "www.example.com"), ("xn--bcher-kva.example", "xn--bcher-kva.example"), (None, None)])
def test_server_name_of_a_real_client_hello(name, expected):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname=name)
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    wire = Inbound()
    wire.feed(outgoing.read())
    assert wire.opened and wire.server_name == expected


@pytest.mark.parametrize("sent", [b"127.0.0.1", b"bad name", b"caf\xc3\xa9.example", b""])
def test_a_name_that_is_no_host_name_is_none(sent):
    entry = b"\x00" + len(sent).to_bytes(2, "big") + sent
    extension = (len(entry)).to_bytes(2, "big") + entry
    extensions = b"\x00\x00" + len(extension).to_bytes(2, "big") + extension
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\xc0\x2f" + b"\x01\x00" + len(extensions).to_bytes(2, "big") + extensions
    wire = Inbound()
    wire.feed(_records(22, _message(1, body)))
    assert wire.opened and wire.server_name is None


def test_truncated_client_hello_has_no_name():
    wire = Inbound()
    wire.feed(_records(22, _message(1, b"\x03\x03" + bytes(20))))
    assert wire.opened and wire.server_name is None


def test_an_alert_record_is_held_after_change_cipher_spec():
    data, alert = _records(23, b"d" * 3000), _records(21, b"\x99" * 26)
    wire = Inbound()
    wire.feed(_records(20, b"\x01") + data + alert + data)
    assert _take_all(wire, hold_alert=True) == _records(20, b"\x01") + data
    assert wire.alert_ahead()
    assert wire.take_alert() == alert
    assert _take_all(wire, hold_alert=True) == data


def test_a_partial_alert_is_not_handed_out():
    alert = _records(21, b"\x99" * 26)
    wire = Inbound()
    wire.feed(_records(20, b"\x01") + alert[:3])
    assert _take_all(wire, hold_alert=True) == _records(20, b"\x01")
    assert not wire.alert_ahead(), "the header is not whole yet"
    wire.feed(alert[3:10])
    assert wire.alert_ahead() and wire.take_alert() is None
    wire.feed(alert[10:])
    assert wire.take_alert() == alert


def test_input_that_is_not_tls_passes_as_it_is():
    garbage = b"SSH-2.0-OpenSSH_9.6\r\n" + bytes(100)
    wire = Inbound()
    wire.feed(garbage)
    assert wire.opened and _take_all(wire) == garbage


def test_empty_handshake_records_pass_as_they_are():
    """RFC 5246 6.2.1 forbids them: re-framing would swallow them and leave the
    handshake waiting for ever; as they came, mbed TLS refuses them."""
    empty = b"\x16\x03\x01\x00\x00" * 64
    wire = Inbound()
    wire.feed(empty)
    assert wire.opened and _take_all(wire) == empty
