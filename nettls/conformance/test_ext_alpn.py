"""TLS extensions: ALPN and the minimum protocol version.

The minimum-version cases need a peer that stops at TLS 1.2; Python's own
``ssl`` module plays it (as the SPEC 11 alert case does), over loopback.
"""

from __future__ import annotations

import socket as _socket
import ssl

import pytest

import nettls
from nettls.interfaces import IMinimumVersion, INegotiatedProtocol, IProtocolNegotiation, ISessionInfo

from ._support import require_interface
from .makers import BLOCKING, LOOPBACK, Background, bind_server, set_timeout

OK, FAIL = 1, 0


def _alpn_pair(harness, mode, client_protocols, server_protocols):
    kit = harness.kit
    server_ctx = kit.server_context(harness.pki.ec)
    client_ctx = kit.client_context()
    require_interface(client_ctx, IProtocolNegotiation, "ALPN settings")
    if client_protocols is not None:
        assert client_ctx.setApplicationProtocols(client_protocols) is True
    if server_protocols is not None:
        assert server_ctx.setApplicationProtocols(server_protocols) is True
    pair = harness.tls_pair(mode, server_context=server_ctx, client_context=client_ctx, do_handshake=False)
    require_interface(pair.client, INegotiatedProtocol, "the negotiated protocol")
    assert pair.client.getApplicationProtocol() is None and pair.server.getApplicationProtocol() is None
    pair.handshake()
    return pair


@pytest.mark.clause("11.alpn")
def test_server_selects_in_its_own_order(harness, mode):
    pair = _alpn_pair(harness, mode, ["http/1.1", "h2"], ["h2", "http/1.1"])
    assert pair.client.getApplicationProtocol() == "h2"
    assert pair.server.getApplicationProtocol() == "h2"
    assert pair.exchange(b"ping", b"pong") == (b"ping", b"pong")


@pytest.mark.clause("11.alpn")
@pytest.mark.parametrize(
    "client, server, chosen",
    [
        (["acme-tls/1", "imap"], ["pop3", "imap"], "imap"),
        (["spdy/1"], ["h2"], None),
        (["h2"], None, None),
        (None, ["h2"], None),
        (["h2"], [], None),
    ],
    ids=["common", "none-in-common", "server-off", "client-off", "server-empty"],
)
def test_negotiation_outcomes(harness, client, server, chosen):
    pair = _alpn_pair(harness, BLOCKING, client, server)
    assert pair.client.getApplicationProtocol() == chosen
    assert pair.server.getApplicationProtocol() == chosen


@pytest.mark.clause("11.alpn")
def test_alpn_settings_are_configuration(harness):
    kit = harness.kit
    ctx = kit.client_context()
    require_interface(ctx, IProtocolNegotiation, "ALPN settings")
    assert ctx.applicationProtocols == (), "off by default"
    ctx.setApplicationProtocols(("h2", "http/1.1"))
    assert ctx.applicationProtocols == ("h2", "http/1.1")
    ctx.setApplicationProtocols([])
    assert ctx.applicationProtocols == ()
    with pytest.raises(AttributeError):
        ctx.applicationProtocols = ("h2",)
    for bad in ("h2", [b"h2"], ["h2", 2], None):
        with pytest.raises(TypeError):
            ctx.setApplicationProtocols(bad)
    for bad in ([""], ["x" * 256], ["h2", "h2"], ["bücher"], ["a\nb"]):
        with pytest.raises(ValueError):
            ctx.setApplicationProtocols(bad)
    assert ctx.applicationProtocols == (), "a refused call changes nothing"


# --- 11.minimum-version -----------------------------------------------------------------------


def _python_tls12_client(port: int) -> str:
    """A Python ``ssl`` client offering TLS 1.2 only; returns what happened."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with _socket.create_connection((LOOPBACK, port), timeout=5) as raw:
        try:
            with ctx.wrap_socket(raw) as tls:
                return f"handshake succeeded: {tls.version()}"
        except (ssl.SSLError, OSError) as exc:
            return str(exc)


def _accept_one(harness):
    """A server socket on loopback, and a function that accepts one connection."""
    listener, port = bind_server(harness.tcp)

    def accept():
        sock = harness.tcp_kit.TCPSocket()
        try:
            assert sock.accept(listener) is True
        finally:
            listener.unbind()
        harness.callback(sock.disconnect)
        set_timeout(sock, 5.0)
        return sock

    return port, accept


@pytest.mark.clause("11.minimum-version")
def test_tls13_server_refuses_a_tls12_client(harness, pki):
    kit = harness.kit
    ctx = kit.server_context(pki.ec)
    require_interface(ctx, IMinimumVersion, "minimum version")
    assert ctx.setMinimumVersion("TLSv1.3") is True
    port, accept = _accept_one(harness)
    client = Background(_python_tls12_client, port, name="TLS 1.2 client")
    server = kit.TLS(ctx)
    with pytest.raises(nettls.TLSHandshakeError):
        server.accept(accept())
    outcome = client.join()
    assert "succeeded" not in outcome and "version" in outcome.lower(), outcome


@pytest.mark.clause("11.minimum-version")
def test_tls13_client_refuses_a_tls12_server(harness, pki):
    kit = harness.kit
    ctx = kit.client_context()
    require_interface(ctx, IMinimumVersion, "minimum version")
    ctx.setMinimumVersion("TLSv1.3")
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    server_ctx.load_cert_chain(*_key_files(harness, pki))
    listener = _socket.create_server((LOOPBACK, 0))
    harness.callback(listener.close)
    listener.settimeout(5)

    def serve() -> str:
        conn, _ = listener.accept()
        with conn:
            try:
                with server_ctx.wrap_socket(conn, server_side=True):
                    return "handshake succeeded"
            except (ssl.SSLError, OSError) as exc:
                return str(exc)

    peer = Background(serve, name="TLS 1.2 server")
    sock = harness.tcp_kit.TCPSocket()
    harness.callback(sock.disconnect)
    set_timeout(sock, 5.0)
    sock.connect(LOOPBACK, listener.getsockname()[1])
    client = kit.TLS(ctx)
    with pytest.raises(nettls.TLSHandshakeError) as info:
        client.connect(sock)
    assert "version" in str(info.value).lower()
    assert "succeeded" not in peer.join()


def _key_files(harness, pki):
    """The EC identity as two files, for Python's ``ssl`` (test material only)."""
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp(prefix="nettls-conformance-"))
    cert, key = folder / "cert.pem", folder / "key.pem"
    cert.write_text(pki.ec.cert_pem + "".join(pki.ec.chain_pems))
    key.write_text(pki.ec.key_pem())

    def remove() -> None:
        for path in (cert, key):
            path.unlink(missing_ok=True)
        folder.rmdir()

    harness.callback(remove)
    return str(cert), str(key)


@pytest.mark.clause("11.minimum-version")
def test_tls13_minimum_still_connects(harness, pki, mode):
    kit = harness.kit
    server_ctx, client_ctx = kit.server_context(pki.rsa), kit.client_context()
    require_interface(client_ctx, IMinimumVersion, "minimum version")
    server_ctx.setMinimumVersion("TLSv1.3")
    client_ctx.setMinimumVersion("TLSv1.3")
    pair = harness.tls_pair(mode, server_context=server_ctx, client_context=client_ctx)
    if ISessionInfo.providedBy(pair.client):
        assert pair.client.getProtocolVersion() == "TLSv1.3"
    assert pair.exchange(b"ping", b"pong") == (b"ping", b"pong")


@pytest.mark.clause("11.minimum-version")
def test_minimum_version_values(harness):
    kit = harness.kit
    ctx = kit.client_context()
    require_interface(ctx, IMinimumVersion, "minimum version")
    assert ctx.minimumVersion == "TLSv1.2", "SPEC 8: TLS 1.2 minimum by default"
    ctx.setMinimumVersion("TLSv1.3")
    assert ctx.minimumVersion == "TLSv1.3"
    ctx.setMinimumVersion("TLSv1.2")
    assert ctx.minimumVersion == "TLSv1.2"
    for bad in ("TLSv1.1", "TLSv1", "SSLv3", "tlsv1.3", "1.3", 1.3, None):
        with pytest.raises(ValueError):
            ctx.setMinimumVersion(bad)
    with pytest.raises(AttributeError):
        ctx.minimumVersion = "TLSv1.3"
