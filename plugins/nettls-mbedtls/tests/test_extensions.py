"""The extensions against OpenSSL peers (Python's ``ssl`` over loopback):
what the conformance suite, which pairs mbedtls with itself for most of
them, does not show. The engine's own checks answer with alerts in the
clear; an OpenSSL peer must read them as such."""

from __future__ import annotations

import datetime
import socket
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

pytest.importorskip("nettls_mbedtls", reason="the nettls-mbedtls plugin is not installed: pip install -e plugins/nettls-mbedtls")
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import nettls
from nettls import CertificateError
from nettls.conformance import make_pki, same_certificate
from nettls.conformance.makers import named_identity
from nettls.components.kit import der_to_pem
from nettls.interfaces import VerifyStatus
from nettls.pki import issue, new_key

from nettls_mbedtls import TLSCertStore, TLSContext

#: Every wait on a peer is bounded.
WAIT = 10.0
TLS = nettls.resolve("net.TLS", component="mbedtls")
TCPSocket = nettls.resolve("net.TCPSocket")
TCPServerSocket = nettls.resolve("net.TCPServerSocket")


@pytest.fixture(scope="module")
def pki():
    return make_pki()


@pytest.fixture
def files() -> Iterator[Callable[..., str]]:
    """Writes PEM text to a file of a private folder, removed after the test (test material only)."""
    folder = Path(tempfile.mkdtemp(prefix="nettls-mbedtls-"))

    def write(*pems: str) -> str:
        path = folder / f"{len(list(folder.iterdir()))}.pem"
        path.write_text("".join(pems))
        return str(path)

    yield write
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()


def _store(*pems: str) -> TLSCertStore:
    store = TLSCertStore()
    for pem in pems:
        assert store.addCertificate(pem)
    return store


def _in_thread(fn: Callable[[], Any]) -> Callable[[], Any]:
    """Runs ``fn`` in a thread; the returned call joins it (bounded) and gives its result or error."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except (ssl.SSLError, OSError) as exc:
            outcome["value"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def join() -> Any:
        thread.join(WAIT)
        assert not thread.is_alive(), "the OpenSSL peer did not finish"
        return outcome["value"]

    return join


def _serve(ctx: TLSContext, client: Callable[[int], Any]) -> tuple[Any, Any]:
    """An mbedtls server session accepting one connection from ``client(port)``:
    (the session, or the TLSError its accept() raised; the client's outcome)."""
    listener = TCPServerSocket()
    listener.bind("127.0.0.1", 0)
    join = _in_thread(lambda: client(listener.getLocalEndpoint().port))
    sock = TCPSocket()
    try:
        assert sock.accept(listener) is True
        sock.setTimeout(WAIT)
        session = TLS(ctx)
        try:
            session.accept(sock)
            result: Any = session
        except nettls.TLSError as exc:
            result = (session, exc)
    finally:
        listener.unbind()
    try:
        return result, join()
    finally:
        sock.disconnect()


def _python_client(name: str | None = None, protocols: list[str] | None = None, identity: Any = None, files: Any = None) -> Callable[[int], Any]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    if protocols:
        ctx.set_alpn_protocols(protocols)
    if identity is not None:
        ctx.load_cert_chain(files(identity.key_pem(), identity.cert_pem, *identity.chain_pems))

    def connect(port: int) -> Any:
        with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as raw:
            with ctx.wrap_socket(raw, server_hostname=name) as tls:
                tls.sendall(b"hello")
                return tls.getpeercert(binary_form=True), tls.selected_alpn_protocol()

    return connect


def test_server_reads_the_name_and_presents_its_certificate(pki, files):
    ctx = TLSContext(TLSContext.SERVER)
    ctx.setCertificate(pki.rsa.cert_pem, pki.rsa.key_pem())
    www = named_identity(pki, ("www.example.com",))
    ctx.setCertificateForName("www.example.com", www.cert_pem, www.key_pem(), www.chain_pems)
    session, (leaf, _) = _serve(ctx, _python_client("WWW.example.com"))
    assert session.getServerName() == "www.example.com"
    assert same_certificate(der_to_pem(leaf), www.cert_pem), "the certificate set for the name"
    session, (leaf, _) = _serve(ctx, _python_client("other.example"))
    assert session.getServerName() == "other.example"
    assert same_certificate(der_to_pem(leaf), pki.rsa.cert_pem), "a name without its own certificate gets the context's"


def test_alpn_with_an_openssl_client_is_the_servers_choice(pki):
    ctx = TLSContext(TLSContext.SERVER)
    ctx.setCertificate(pki.ec.cert_pem, pki.ec.key_pem())
    ctx.setApplicationProtocols(["http/1.1", "h2"])
    session, (_, chosen) = _serve(ctx, _python_client(protocols=["h2", "http/1.1"]))
    assert chosen == "http/1.1" == session.getApplicationProtocol()


def test_request_policy_refuses_a_certificate_that_does_not_verify(pki, files):
    """CLIENT_CERT_REQUEST: mbed TLS lets a failed client certificate pass
    (VERIFY_OPTIONAL); the engine refuses it with bad_certificate."""
    ctx = TLSContext(TLSContext.SERVER)
    ctx.setCertificate(pki.ec.cert_pem, pki.ec.key_pem())
    ctx.setClientCertificatePolicy(ctx.CLIENT_CERT_REQUEST, _store(pki.rsa.root.cert_pem))
    (session, error), outcome = _serve(ctx, _python_client(identity=pki.client, files=files))
    assert "certificate verify failed" in str(error)
    assert isinstance(outcome, ssl.SSLError) and "BAD_CERTIFICATE" in str(outcome).upper(), outcome
    result = session.getVerifyResult()
    assert result.status == VerifyStatus.FAIL and result.failedReason


def test_request_policy_takes_a_certificate_that_verifies(pki, files):
    ctx = TLSContext(TLSContext.SERVER)
    ctx.setCertificate(pki.ec.cert_pem, pki.ec.key_pem())
    ctx.setClientCertificatePolicy(ctx.CLIENT_CERT_REQUEST, _store(pki.client.root.cert_pem))
    session, _ = _serve(ctx, _python_client(identity=pki.client, files=files))
    chain = session.getPeerCertChain()
    assert [same_certificate(a, b) for a, b in zip(chain, [pki.client.cert_pem, *pki.client.chain_pems])] == [True, True]
    assert session.getVerifyResult() == VerifyStatus(VerifyStatus.OK)


def _python_server(identity: Any, files: Any) -> tuple[socket.socket, Callable[[], Any]]:
    """An OpenSSL server for one connection: its listening socket and the join of its outcome."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(files(identity.key_pem(), identity.cert_pem, *identity.chain_pems))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(WAIT)

    def serve() -> Any:
        conn, _ = listener.accept()
        with conn, ctx.wrap_socket(conn, server_side=True) as tls:
            return tls.recv(5)

    return listener, _in_thread(serve)


def _connect(ctx: TLSContext, name: str, port: int) -> tuple[Any, Any]:
    sock = TCPSocket()
    sock.connect("127.0.0.1", port)
    sock.setTimeout(WAIT)
    session = TLS(ctx)
    session.setServerName(name)
    try:
        session.connect(sock)
        session.send(b"hello")
        return session, None
    except nettls.TLSError as exc:
        return session, exc
    finally:
        sock.disconnect()


def test_common_name_fallback_is_refused_with_an_alert(pki, files):
    """mbed TLS would take the subject's common name for the host name; nettls's
    rules do not (RFC 6125), and the OpenSSL server gets bad_certificate."""
    cn_only = named_identity(pki, (), common_name="localhost")
    listener, join = _python_server(cn_only, files)
    with listener:
        ctx = TLSContext(TLSContext.CLIENT)
        ctx.setVerifyOnConnect(_store(pki.ec.root.cert_pem))
        session, error = _connect(ctx, "localhost", listener.getsockname()[1])
        outcome = join()
    assert "host name mismatch" in str(error) and "no subject alternative names" in str(error)
    assert isinstance(outcome, ssl.SSLError) and "BAD_CERTIFICATE" in str(outcome).upper(), outcome
    result = session.getVerifyResult()
    assert result.status == VerifyStatus.FAIL and same_certificate(result.failedCertificate, cn_only.cert_pem)


def test_verified_connect_to_an_openssl_server_by_address(pki, files):
    """An IP address is not sent as SNI, nor given to mbed TLS: nettls checks it."""
    listener, join = _python_server(pki.ec, files)
    with listener:
        ctx = TLSContext(TLSContext.CLIENT)
        ctx.setVerifyOnConnect(_store(pki.ec.root.cert_pem))
        session, error = _connect(ctx, "127.0.0.1", listener.getsockname()[1])
        assert error is None, error
        assert join() == b"hello"
    assert session.getVerifyResult() == VerifyStatus(VerifyStatus.OK)


def test_more_protocols_than_python_mbedtls_holds_are_refused():
    ctx = TLSContext(TLSContext.CLIENT)
    with pytest.raises(ValueError, match="at most 8 application protocols"):
        ctx.setApplicationProtocols([f"p{i}" for i in range(9)])
    assert ctx.applicationProtocols == ()


def test_roots_mbed_tls_cannot_read_are_left_out(pki):
    """An Ed25519 root (mbed TLS 2.28 has no Ed25519) anchors nothing mbed TLS
    verifies: it is left out, and a store of nothing else is refused."""
    odd = issue("ed25519 root", ca=True, key=ed25519.Ed25519PrivateKey.generate())
    ctx = TLSContext(TLSContext.CLIENT)
    assert ctx.setVerifyOnConnect(_store(odd.cert_pem, pki.ec.root.cert_pem)) is True
    with pytest.raises(CertificateError, match="can read none of the 1 trusted certificates"):
        ctx.setVerifyOnConnect(_store(odd.cert_pem))


def _certificate(name: str, key: Any, issuer: Any, signer: Any, extensions: list[tuple[Any, bool]]) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signer, hashes.SHA256())


class _ConstrainedLeaf:
    """A leaf for www.example.com under an intermediate whose name
    constraints (not marked critical) permit example.org only."""

    def __init__(self) -> None:
        root_key, inter_key, self._key = new_key(), new_key(), new_key()
        ca = [(x509.BasicConstraints(ca=True, path_length=None), True), (x509.KeyUsage(False, False, False, False, False, True, True, False, False), True)]
        root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "constraining root")])
        root = _certificate("constraining root", root_key, root_name, root_key, ca)
        issuer_id = x509.AuthorityKeyIdentifier.from_issuer_public_key
        only_example_org = x509.NameConstraints(permitted_subtrees=[x509.DNSName("example.org")], excluded_subtrees=None)
        inter = _certificate("constrained intermediate", inter_key, root.subject, root_key,
                             [*ca, (issuer_id(root_key.public_key()), False), (only_example_org, False)])  # fmt: skip
        leaf = _certificate("www.example.com", self._key, inter.subject, inter_key,
                            [(x509.BasicConstraints(ca=False, path_length=None), True), (issuer_id(inter_key.public_key()), False),
                             (x509.SubjectAlternativeName([x509.DNSName("www.example.com")]), False),
                             (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)])  # fmt: skip
        self.root_pem, self.cert_pem = (c.public_bytes(Encoding.PEM).decode() for c in (root, leaf))
        self.chain_pems = [inter.public_bytes(Encoding.PEM).decode()]

    def key_pem(self) -> str:
        return self._key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


def test_name_constraints_mbed_tls_ignores_are_enforced(files):
    """mbed TLS 2.28 knows no name constraints and skips a non-critical one;
    nettls's verifier, which the engine runs on every chain mbed TLS
    accepts, refuses a leaf outside them."""
    leaf = _ConstrainedLeaf()
    listener, join = _python_server(leaf, files)
    with listener:
        ctx = TLSContext(TLSContext.CLIENT)
        ctx.setVerifyOnConnect(_store(leaf.root_pem))
        session, error = _connect(ctx, "www.example.com", listener.getsockname()[1])
        outcome = join()
    assert error is not None and "certificate verify failed" in str(error), error
    assert isinstance(outcome, ssl.SSLError) and "BAD_CERTIFICATE" in str(outcome).upper(), outcome
    assert session.getVerifyResult().status == VerifyStatus.FAIL


@pytest.mark.parametrize("refusal", ["mbed TLS's own", "nettls's verifier"])
def test_a_refused_chain_is_handed_out_as_sent(pki, files, refusal):
    """After a verification failure the session still shows what the peer
    sent (as the other components do): getPeerCertChain() is the chain, leaf
    first, whichever verifier refused it (an unknown CA: mbed TLS; name
    constraints mbed TLS skips: nettls's)."""
    if refusal == "nettls's verifier":
        identity: Any = _ConstrainedLeaf()
        trusted, name = identity.root_pem, "www.example.com"
    else:
        identity, trusted, name = pki.ec, pki.rsa.root.cert_pem, "localhost"  # not its root
    listener, join = _python_server(identity, files)
    with listener:
        ctx = TLSContext(TLSContext.CLIENT)
        ctx.setVerifyOnConnect(_store(trusted))
        session, error = _connect(ctx, name, listener.getsockname()[1])
        join()
    assert error is not None and session.getVerifyResult().status == VerifyStatus.FAIL
    sent = [identity.cert_pem, *identity.chain_pems]
    chain = session.getPeerCertChain()
    assert len(chain) == len(sent) and all(same_certificate(a, b) for a, b in zip(chain, sent)), chain
