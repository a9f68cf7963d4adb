"""The TLS extensions beyond what the conformance suite can say of any
component: the shared configuration (foreign contexts, snapshots, the
honour check), and each built-in component's library-specific paths.
"""

from __future__ import annotations

import gc

import pytest
from zope.interface import implementer

import nettls
from nettls.components._common.config import ContextConfig, check_honoured, context_config
from nettls.components._common.session import TLSSession
from nettls.conformance import BLOCKING, Harness, make_pki
from nettls.conformance.makers import named_identity
from nettls.interfaces import (
    IClientCertificates,
    IMinimumVersion,
    IProtocolNegotiation,
    IServerNameCertificates,
    ITLSContext,
    IVerifyOnConnect,
    NameCertificate,
)

BUILTIN = ("stdlib", "pyopenssl")
OK = 1


@pytest.fixture(scope="module")
def pki():
    return make_pki()


@implementer(ITLSContext, IProtocolNegotiation, IMinimumVersion, IClientCertificates, IServerNameCertificates, IVerifyOnConnect)
class ForeignContext:
    """A third party's context: plain attributes, no nettls base class."""

    CLIENT, SERVER, CIPHER_DEFAULT, CIPHER_ALL = 1, 2, 1, 2
    CLIENT_CERT_NONE, CLIENT_CERT_REQUEST, CLIENT_CERT_REQUIRE = 0, 1, 2

    def __init__(self, mode, certificate=None, key=None, chain=()):
        self.mode, self.certificate, self.privateKey, self.chain, self.cipherSet = mode, certificate, key, tuple(chain), 1
        self.applicationProtocols = ()
        self.minimumVersion = "TLSv1.2"
        self.clientCertificatePolicy, self.clientCertificateTrust = 0, ()
        self.nameCertificates = ()
        self.verifyTrust, self.verifyHostName = None, False

    def setCertificate(self, cert, key):
        raise NotImplementedError

    def setCertificateChain(self, chain):
        raise NotImplementedError

    def setCipherSet(self, mode):
        raise NotImplementedError

    def setApplicationProtocols(self, protocols):
        raise NotImplementedError

    def setMinimumVersion(self, version):
        raise NotImplementedError

    def setClientCertificatePolicy(self, policy, store=None):
        raise NotImplementedError

    def setCertificateForName(self, name, cert, key, chain=None):
        raise NotImplementedError

    def setVerifyOnConnect(self, store, checkHostName=True):
        raise NotImplementedError


@pytest.mark.parametrize("component", BUILTIN)
def test_sessions_read_a_foreign_contexts_extensions(component, pki):
    """SPEC 8: a context is read through its public attributes, extension
    settings included."""
    www = named_identity(pki, ("www.example.com",))
    server = ForeignContext(2, pki.ec.cert_pem, pki.ec.key_pem(), pki.ec.chain_pems)
    server.applicationProtocols = ("h2",)
    server.nameCertificates = (NameCertificate("www.example.com", www.cert_pem, www.key_pem(), tuple(www.chain_pems)),)
    client = ForeignContext(1)
    client.applicationProtocols = ("h2",)
    client.verifyTrust, client.verifyHostName = (pki.ec.root.cert_pem,), True
    assert context_config(client).verifyTrust == (pki.ec.root.cert_pem,)
    with Harness(component, pki=pki) as harness:
        pair = harness.tls_pair(BLOCKING, server_context=server, client_context=client, do_handshake=False)
        pair.client.setServerName("www.example.com")
        assert pair.handshake() == (OK, OK)
        assert pair.client.getApplicationProtocol() == "h2"
        assert pair.client.getPeerCertificate() == www.cert_pem
        bad = harness.tls_pair(BLOCKING, server_context=server, client_context=client, do_handshake=False)
        bad.client.setServerName("other.example")
        server_result, client_result = bad.try_handshake()
        assert isinstance(client_result, nettls.TLSHandshakeError)


@pytest.mark.parametrize("component", BUILTIN)
def test_settings_after_the_session_do_not_reach_it(component, pki):
    """SPEC 6: changing a context later affects only sessions made afterwards."""
    kit = nettls.conformance.TLSKit.of(component)
    with Harness(component, pki=pki) as harness:
        server_ctx = kit.server_context(pki.ec)
        server_ctx.setApplicationProtocols(["h2"])
        client_ctx = kit.client_context()
        client_ctx.setApplicationProtocols(["h2"])
        pair = harness.tls_pair(BLOCKING, server_context=server_ctx, client_context=client_ctx, do_handshake=False)
        client_ctx.setApplicationProtocols([])
        client_ctx.setVerifyOnConnect(kit.store(pki.rsa.root.cert_pem))  # would refuse pki.ec
        assert pair.handshake() == (OK, OK)
        assert pair.client.getApplicationProtocol() == "h2"


def test_sessions_that_cannot_honour_a_setting_say_so(pki):
    class Unaware(TLSSession):  # a third party's session knowing no extension
        component = "unaware"

    base = ContextConfig(1, None, None, (), 1)
    check_honoured(Unaware.__new__(Unaware), base)
    for changes in ({"verifyTrust": (pki.ec.root.cert_pem,), "verifyHostName": True}, {"applicationProtocols": ("h2",)}, {"minimumVersion": "TLSv1.3"}):
        config = ContextConfig(1, None, None, (), 1, **changes)
        with pytest.raises(nettls.TLSError) as info:
            check_honoured(Unaware.__new__(Unaware), config)
        assert "unaware" in str(info.value) and next(iter(changes)) in str(info.value)
    stdlib = nettls.resolve("net.TLS", component="stdlib")
    check_honoured(stdlib.__new__(stdlib), ContextConfig(1, None, None, (), 1, verifyTrust=("x",), verifyHostName=True))


@pytest.mark.parametrize("component", BUILTIN)
def test_resumption_survives_a_connection_dropped_without_close(component, pki):
    """OpenSSL marks a session unresumable when its connection is freed
    without close_notify; the data handed out stays usable on both components."""
    kit = nettls.conformance.TLSKit.of(component)
    server_ctx, client_ctx = kit.server_context(pki.rsa), kit.client_context()
    with Harness(component, pki=pki) as harness:
        pair = harness.tls_pair(BLOCKING, server_context=server_ctx, client_context=client_ctx)
        assert pair.exchange(b"a", b"b") == (b"a", b"b")
        data = pair.client.getResumptionData()
        assert data is not None and component in repr(data)
        pair.client_socket.disconnect()
        pair.server_socket.disconnect()
        del pair
        gc.collect()
        again = harness.tls_pair(BLOCKING, server_context=server_ctx, client_context=client_ctx, do_handshake=False)
        again.client.setResumptionData(data)
        assert again.handshake() == (OK, OK)
        assert again.client.isResumed() is True


def test_pyopenssl_tells_resumption_without_the_private_binding(pki, monkeypatch):
    """Where pyOpenSSL's binding lacks SSL_session_reused, a client tells a
    resumed handshake by the server certificate it did not read."""
    from nettls.components.pyopenssl import _engine

    monkeypatch.setattr(_engine, "_SESSION_REUSED", None)
    kit = nettls.conformance.TLSKit.of("pyopenssl")
    server_ctx, client_ctx = kit.server_context(pki.rsa), kit.client_context()
    with Harness("pyopenssl", pki=pki) as harness:
        pair = harness.tls_pair(BLOCKING, server_context=server_ctx, client_context=client_ctx)
        assert pair.client.isResumed() is False
        assert pair.exchange(b"a", b"b") == (b"a", b"b")
        data = pair.client.getResumptionData()
        pair.close("client")
        again = harness.tls_pair(BLOCKING, server_context=server_ctx, client_context=client_ctx, do_handshake=False)
        again.client.setResumptionData(data)
        again.handshake()
        assert again.client.isResumed() is True


@pytest.mark.parametrize("component", BUILTIN)
def test_tls12_sessions_resume_too(component, pki, tmp_path):
    """Against a TLS 1.2 server (Python's ssl), a session is resumable right
    after the handshake, with no data read."""
    import socket
    import ssl

    (tmp_path / "cert.pem").write_text(pki.ec.cert_pem + "".join(pki.ec.chain_pems))
    (tmp_path / "key.pem").write_text(pki.ec.key_pem())
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    server_ctx.load_cert_chain(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    reused = []

    def serve(count: int) -> None:
        for _ in range(count):
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                reused.append(tls.session_reused)
                tls.sendall(b"hi")
                tls.recv(1)

    from nettls.conformance import Background, TCPKit, TLSKit

    worker = Background(serve, 2, name="TLS 1.2 server")
    kit, tcp = TLSKit.of(component), TCPKit.of(None)
    client_ctx = kit.client_context()
    data = None
    try:
        for round_ in range(2):
            sock = tcp.TCPSocket()
            sock.setTimeout(10)
            sock.connect("127.0.0.1", listener.getsockname()[1])
            session = kit.TLS(client_ctx)
            if data is not None:
                session.setResumptionData(data)
            assert session.connect(sock) == OK
            assert session.getProtocolVersion() == "TLSv1.2"
            if round_ == 0:
                data = session.getResumptionData()
                assert data is not None, "TLS 1.2: resumable right after the handshake"
                assert session.isResumed() is False
            else:
                assert session.isResumed() is True
            assert session.recv(2) == b"hi"
            session.close()
            sock.disconnect()
        worker.join()
    finally:
        listener.close()
    assert reused == [False, True]


def test_extension_interfaces_are_documented_and_dana_spelt():
    """Every name an extension interface declares has a docstring (the
    contract) and is camelCase, as CONTRIBUTING asks."""
    from nettls.interfaces import EXTENSION_INTERFACES, SPEC_INTERFACES

    for name, iface in EXTENSION_INTERFACES.items():
        assert iface.__name__ == name and (iface.__doc__ or "").strip(), name
        assert not any(iface.extends(spec) for spec in SPEC_INTERFACES.values()), f"{name} extends a spec interface"
        for attr, desc in iface.namesAndDescriptions():
            assert desc.getDoc().strip(), f"{name}.{attr} has no docstring"
            assert "_" not in attr and attr[0].islower(), f"{name}.{attr} is not Dana camelCase"
