"""Host names under hostile input (issue 19, findings 10 and 11).

- One rule for what a name is (``nettls.hostname.server_name``): an IP
  address, with or without a trailing dot, is an address; a name whose last
  label is a number is refused rather than read as some IPv4 address.
- A certificate whose names ``cryptography`` cannot read (an x400Address or
  ediPartyName entry, two subject-alternative-name extensions) is a
  mismatch with a reason, never an exception: in ``check_host_name``, in
  the pyopenssl component's verification on connect (which sends
  bad_certificate, as a name mismatch does everywhere), and in ``nettls
  connect``.

The conformance suite checks what goes on the wire (``test_ext_sni``).
"""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

import nettls
from nettls.cli import main
from nettls.conformance import BLOCKING, Harness, TLSKit, make_pki
from nettls.conformance._openssl import s_server, write_identity
from nettls.conformance.makers import named_identity
from nettls.conformance.pki import Credential, Identity
from nettls.hostname import check_host_name, name_pattern, server_name
from nettls.interfaces import VerifyStatus

OK = 1
NUMERIC = ["2130706433", "127.1", "0x7f.1", "0177.0.0.1", "0X7F.0.0.1", "1.2.3.4.5", "www.example.123", "１２７.１"]
_LOCALHOST = b"\x82\x09localhost"  # dNSName "localhost"
#: subjectAltName values (DER) that cryptography cannot read, each with a DNS name a library could match.
UNREADABLE = {
    # [3] x400Address holding an empty ORAddress.
    "x400Address": b"\x30\x0f" + _LOCALHOST + b"\xa3\x02\x30\x00",
    # [5] ediPartyName with partyName "x".
    "ediPartyName": b"\x30\x12" + _LOCALHOST + b"\xa5\x05\xa1\x03\x0c\x01x",
    # A plain SAN, written twice (see _two_san_extensions).
    "two-SAN-extensions": b"\x30\x0b" + _LOCALHOST,
}
#: The DER of the OIDs issuerAltName and subjectAltName: as long as each other.
_ISSUER_ALT_NAME, _SUBJECT_ALT_NAME = b"\x06\x03\x55\x1d\x12", b"\x06\x03\x55\x1d\x11"
#: The DER AlgorithmIdentifier of ecdsa-with-SHA256.
_ECDSA_SHA256 = bytes.fromhex("300a06082a8648ce3d040302")


@pytest.fixture(scope="module")
def pki():
    return make_pki()


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def _two_san_extensions(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """``cert`` with its issuerAltName extension renamed subjectAltName (the
    same length, so the DER stays whole), signed again: cryptography's
    builder will not write an extension twice."""
    tbs = cert.tbs_certificate_bytes
    assert tbs.count(_ISSUER_ALT_NAME) == 1
    tbs = tbs.replace(_ISSUER_ALT_NAME, _SUBJECT_ALT_NAME)
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return x509.load_der_x509_certificate(_der(0x30, tbs + _ECDSA_SHA256 + _der(0x03, b"\x00" + signature)))


def unreadable(pki, case: str) -> Identity:
    """A serverAuth leaf under the suite's EC intermediate whose subject
    alternative names cryptography cannot read, as ``case`` says."""
    inter = pki.ec.intermediates[0]
    now = datetime.datetime.now(datetime.timezone.utc)
    san = UNREADABLE[case]
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"localhost ({case})")]))
        .issuer_name(inter.cert.subject)
        .public_key(pki.ec.leaf.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(inter.key.public_key()), critical=False)
        .add_extension(x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, san), critical=False)
    )
    if case == "two-SAN-extensions":
        builder = builder.add_extension(x509.UnrecognizedExtension(ExtensionOID.ISSUER_ALTERNATIVE_NAME, san), critical=False)
    cert = builder.sign(inter.key, hashes.SHA256())
    if case == "two-SAN-extensions":
        cert = _two_san_extensions(cert, inter.key)
    return Identity(Credential(cert, pki.ec.leaf.key), pki.ec.intermediates, pki.ec.root)


# --- what a name is -----------------------------------------------------------------------


@pytest.mark.parametrize("name", NUMERIC)
def test_numeric_names_are_refused_everywhere(pki, name):
    for call in (server_name, name_pattern, lambda n: name_pattern("*." + n), lambda n: check_host_name(pki.ec.cert_pem, n)):
        with pytest.raises(ValueError, match="numeric"):
            call(name)


@pytest.mark.parametrize(
    "name, text", [("127.0.0.1.", "127.0.0.1"), ("::1.", "::1"), ("[::1].", "::1"), ("[0:0::1]", "::1"), ("10.0.0.1", "10.0.0.1")]
)
def test_addresses_with_or_without_a_trailing_dot(pki, name, text):
    parsed = server_name(name)
    assert parsed.is_ip and parsed.text == text and parsed.sni is None
    with pytest.raises(ValueError):
        name_pattern(name)  # a server selects certificates by host names only


def test_ip_literal_with_a_trailing_dot_is_checked_against_ip_entries(pki):
    assert check_host_name(pki.ec.cert_pem, "127.0.0.1.") is None  # the suite's leaves list IP:127.0.0.1
    reason = check_host_name(named_identity(pki, ("127.0.0.1",)).cert_pem, "127.0.0.2.")
    assert reason is not None and "IP addresses" in reason


def test_names_that_are_not_numeric_stay_names():
    for name in ("1.example", "0x7f.example", "example.x1", "a1", "123abc.example", "xn--80ak6aa92e.com"):
        assert server_name(name).is_ip is False


# --- certificates whose names cannot be read -----------------------------------------------


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_check_host_name_says_why_instead_of_raising(pki, case):
    leaf = unreadable(pki, case)
    for name in ("localhost", "127.0.0.1"):
        reason = check_host_name(leaf.cert_pem, name)
        assert reason is not None and "cannot be read" in reason and name in reason


@pytest.mark.parametrize("case", ["x400Address", "ediPartyName"])
def test_pyopenssl_refuses_unreadable_names_with_the_reason_and_bad_certificate(pki, case):
    """Verification on connect refuses in the handshake, with the reason; the
    server (here a stdlib one) receives bad_certificate, not internal_error."""
    kit = TLSKit.of("pyopenssl")
    identity = unreadable(pki, case)
    with Harness("pyopenssl", pki=pki) as harness:
        ctx = kit.client_context()
        ctx.setVerifyOnConnect(kit.store(pki.ec.root.cert_pem))
        server_kit = TLSKit.of("stdlib")
        pair = harness.tls_pair(
            BLOCKING, server_kit=server_kit, server_context=server_kit.server_context(identity), client_context=ctx, do_handshake=False
        )
        pair.client.setServerName("localhost")
        server, client = pair.try_handshake()
        assert isinstance(client, nettls.TLSHandshakeError) and "cannot be read" in str(client)
        result = pair.client.getVerifyResult()
        assert result.status == VerifyStatus.FAIL and "cannot be read" in result.failedReason
        assert result.failedCertificate is not None
        assert server != OK and "bad certificate" in (pair.server.getFailureReason() or "")


def test_pyopenssl_without_its_own_verify_callback_still_refuses(pki, monkeypatch):
    """Where pyOpenSSL's binding lacks what the C callback needs, its own
    wrapper serves: the refusal stands (the alert is then internal_error)."""
    from nettls.components import pyopenssl

    monkeypatch.setattr(pyopenssl, "_NATIVE_VERIFY", None)
    pyopenssl.native_context.cache_clear()
    try:
        kit = TLSKit.of("pyopenssl")
        with Harness("pyopenssl", pki=pki) as harness:
            ctx = kit.client_context()
            ctx.setVerifyOnConnect(kit.store(pki.ec.root.cert_pem))
            pair = harness.tls_pair(BLOCKING, server_context=kit.server_context(pki.ec), client_context=ctx, do_handshake=False)
            pair.client.setServerName("www.example.com")
            server, client = pair.try_handshake()
            assert isinstance(client, nettls.TLSHandshakeError) and "www.example.com" in str(client)
    finally:
        pyopenssl.native_context.cache_clear()


@pytest.mark.parametrize("component", ["stdlib", "pyopenssl"])
def test_connect_reports_unreadable_names_and_exits_1(pki, tmp_path, capsys, component):
    files = write_identity(tmp_path, unreadable(pki, "x400Address"))
    proc, port = s_server(files)
    with proc:
        code = main(
            ["connect", f"127.0.0.1:{port}", "--hostname", "localhost", "--cafile", files["root"], "--verify",
             "--component", component, "--timeout", "0.3"]
        )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1
    assert "unexpected" not in err and len(err.strip().splitlines()) == 1
    assert "cannot be read" in out + err
