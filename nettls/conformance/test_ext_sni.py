"""TLS extensions: what a client's server name puts on the wire, and the
alert a host-name mismatch sends.

SNI is read off the wire: the client's ClientHello is taken from the raw
TCP socket and its server_name extension parsed here, so the cases see
what a library sends, not what a session says it sent. The alert is read
by ``openssl s_server -msg``. Each case runs where the component provides
the extension interfaces it uses.
"""

from __future__ import annotations

import pytest

import nettls
from nettls.interfaces import IServerName, IVerifyOnConnect

from ._openssl import s_server, write_identity
from ._support import require_interface
from .makers import DEFAULT_TIMEOUT, Background, recv_exactly

#: TLS record type handshake and handshake message ClientHello (RFC 8446, 5 and 4).
_HANDSHAKE, _CLIENT_HELLO = 22, 1
#: The server_name extension and its host_name entry (RFC 6066, 3).
_SERVER_NAME, _HOST_NAME = 0, 0
#: A ClientHello is far smaller than this; more is not a ClientHello.
_MAX_HELLO = 1 << 16


def _take(data: bytes, pos: int, size: int) -> tuple[bytes, int]:
    """``size`` bytes of ``data`` at ``pos``, and the position after them."""
    if pos + size > len(data):
        raise AssertionError("the ClientHello ends inside a field")
    return data[pos : pos + size], pos + size


def _vector(data: bytes, pos: int, width: int) -> tuple[bytes, int]:
    """A TLS vector with a ``width``-byte length at ``pos``."""
    length, pos = _take(data, pos, width)
    return _take(data, pos, int.from_bytes(length, "big"))


def sni_of(hello: bytes) -> list[bytes] | None:
    """The host names in a ClientHello body's server_name extension; None without one."""
    pos = 2 + 32  # legacy_version, random
    for width in (1, 2, 1):  # legacy_session_id, cipher_suites, legacy_compression_methods
        _, pos = _vector(hello, pos, width)
    extensions, _ = _vector(hello, pos, 2)
    pos = 0
    while pos < len(extensions):
        kind, pos = _take(extensions, pos, 2)
        body, pos = _vector(extensions, pos, 2)
        if int.from_bytes(kind, "big") != _SERVER_NAME:
            continue
        names, entry, found = _vector(body, 0, 2)[0], 0, []
        while entry < len(names):
            name_type, entry = _take(names, entry, 1)
            name, entry = _vector(names, entry, 2)
            if name_type[0] == _HOST_NAME:
                found.append(name)
        return found
    return None


def _read_client_hello(sock) -> bytes:
    """The body of the first handshake message read from nettls TCP ``sock``
    (handshake records joined until it is whole)."""
    messages = b""
    while True:
        header = recv_exactly(sock, 5)
        assert len(header) == 5 and header[0] == _HANDSHAKE, f"the client sent {header!r} before a whole ClientHello"
        messages += recv_exactly(sock, int.from_bytes(header[3:5], "big"))
        if len(messages) >= 4:
            assert messages[0] == _CLIENT_HELLO, "the client's first handshake message is not a ClientHello"
            length = int.from_bytes(messages[1:4], "big")
            assert length < _MAX_HELLO, "a ClientHello too large to be one"
            if len(messages) >= 4 + length:
                return messages[4 : 4 + length]


def _sent_sni(harness, name: str) -> list[bytes] | None:
    """The SNI names a client of the component under test sends for ``name``."""
    kit = harness.kit
    client_sock, server_sock = harness.tcp_pair()
    session = kit.TLS(kit.client_context())
    require_interface(session, IServerName, "server names")
    assert session.setServerName(name) is True

    def connect() -> object:
        try:
            return session.connect(client_sock)
        except nettls.TLSError as exc:  # the peer below closes: the handshake fails
            return exc

    client = Background(connect, name="client connect()")
    try:
        hello = _read_client_hello(server_sock)
    finally:
        server_sock.disconnect()
        client.join(DEFAULT_TIMEOUT)
    return sni_of(hello)


# --- 11.server-name: on the wire --------------------------------------------------------------


@pytest.mark.clause("11.server-name")
@pytest.mark.parametrize(
    "name, sent",
    [
        ("localhost", b"localhost"),
        ("WWW.Example.COM.", b"www.example.com"),
        ("Bücher.example", b"xn--bcher-kva.example"),
        ("127.0.0.1", None),
        ("127.0.0.1.", None),
        ("::1", None),
        ("[::1]", None),
        ("::1.", None),
        ("[::1].", None),
    ],
)
def test_sni_on_the_wire(harness, name, sent):
    """A DNS name goes out normalised, once; an IP address, with or without
    a trailing dot, never (RFC 6066: SNI carries host names only)."""
    assert _sent_sni(harness, name) == (None if sent is None else [sent])


@pytest.mark.clause("11.server-name")
def test_an_address_with_a_trailing_dot_is_an_address(harness):
    kit = harness.kit
    session = kit.TLS(kit.client_context())
    require_interface(session, IServerName, "server names")
    session.setServerName("127.0.0.1.")
    assert session.getServerName() == "127.0.0.1"
    session = kit.TLS(kit.client_context())
    session.setServerName("[::1].")
    assert session.getServerName() == "::1"


#: Names that some resolver would read as an IPv4 address (inet_aton's forms)
#: but that are not one written out: refused, never guessed at nor sent.
NUMERIC_NAMES = ["2130706433", "127.1", "0x7f.1", "0177.0.0.1", "0x7f000001", "127.0.0.01", "1.2.3.4.5", "example.123", "example.0x1f"]


@pytest.mark.clause("11.server-name")
@pytest.mark.parametrize("name", NUMERIC_NAMES)
def test_numeric_names_are_refused(harness, name):
    kit = harness.kit
    session = kit.TLS(kit.client_context())
    require_interface(session, IServerName, "server names")
    with pytest.raises(ValueError) as info:
        session.setServerName(name)
    assert name in str(info.value), "the error names what was refused"
    assert session.getServerName() is None


# --- 11.verify-on-connect: the alert --------------------------------------------------------


@pytest.mark.clause("11.verify-on-connect")
@pytest.mark.parametrize("protocol", ["default", "tls1_2"])
def test_host_name_mismatch_sends_bad_certificate(harness, pki, tmp_path, protocol):
    """RFC 8446 6.2 and RFC 5246 7.2.2: a certificate refused for its names is
    a bad_certificate, the alert OpenSSL's own check and rustls send."""
    kit = harness.kit
    ctx = kit.client_context()
    require_interface(ctx, IVerifyOnConnect, "verification on connect")
    ctx.setVerifyOnConnect(kit.store(pki.ec.root.cert_pem))
    extra = ["-msg"] + ([f"-{protocol}"] if protocol != "default" else [])
    proc, port = s_server(write_identity(tmp_path, pki.ec), *extra)
    with proc:
        sock = harness.tcp_kit.TCPSocket()
        harness.callback(sock.disconnect)
        sock.connect("127.0.0.1", port)
        session = kit.TLS(ctx)
        require_interface(session, IServerName, "server names")
        session.setServerName("www.example.com")
        with pytest.raises(nettls.TLSHandshakeError) as info:
            session.connect(sock)
        assert "www.example.com" in str(info.value)
        alert = proc.wait_for(r"<<< TLS [\d.]+, Alert \[length 0002\], (\w+ \w+)").group(1)
    assert alert == "fatal bad_certificate"
