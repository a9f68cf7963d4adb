"""Differential test of ``verify_chain`` against OpenSSL's ``X509_verify_cert``.

The reference is pyOpenSSL's ``X509Store`` + ``X509StoreContext`` with no
purpose set, the same as ``openssl verify`` without ``-purpose`` (SPEC
section 6, what Dana runs). Each scenario is a store, a leaf and an
untrusted chain built in memory with ``cryptography``; both verifiers judge
it, and they must agree on the verdict and, on failure, on the certificate
at fault and OpenSSL's reason string. A scenario where they do not is a
known deviation, listed with its reason in ``_x509verify.DEVIATIONS``
under ``"6.verify-ok:<scenario>"`` if OpenSSL accepts it, else
``"6.verify-fail:<scenario>"``; a listed scenario that agrees fails too,
so the table stays exact (the model is cryptography's x509-limbo test).
"""

from __future__ import annotations

import datetime
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import crypto

from nettls.components._common.pem import certificate_pem
from nettls.components._x509verify import DEVIATIONS, verify_chain
from nettls.conformance.clauses import CLAUSES
from nettls.interfaces import VerifyStatus

NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
#: The conformance clauses a deviation is keyed by, by OpenSSL's verdict.
CLAUSE = {True: "6.verify-ok", False: "6.verify-fail"}


# -- building certificates -----------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


_CA_KU = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
_LEAF_KU = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
_UNKNOWN = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")  # a private OID
_DEFAULT: Any = object()


def make(
    cn: str,
    key: Any,
    signer: tuple[x509.Certificate, Any] | None = None,
    *,
    ca: bool = False,
    bc: bool | None = True,
    bc_critical: bool = True,
    pathlen: int | None = None,
    ku: Any = _DEFAULT,
    eku: list[x509.ObjectIdentifier] | None = _DEFAULT,
    san: list[x509.GeneralName] | None = _DEFAULT,
    valid: tuple[int, int] = (-1, 365),
    digest: Any = _DEFAULT,
    key_ids: bool = True,
    aki: x509.AuthorityKeyIdentifier | None = None,
    extra: tuple[tuple[x509.ExtensionType, bool], ...] = (),
    extensions: bool = True,
) -> x509.Certificate:
    """A certificate for ``cn``: self-signed if ``signer`` is None, else issued by (cert, key).

    Defaults make a well-formed CA (``ca=True``) or leaf: basicConstraints,
    keyUsage, key identifiers, and for a leaf an EKU and a DNS SAN.
    """
    issuer_cert, issuer_key = signer if signer else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_cert.subject if issuer_cert else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + valid[0] * DAY)
        .not_valid_after(NOW + valid[1] * DAY)
    )
    exts: list[tuple[x509.ExtensionType, bool]] = []
    if extensions:
        if bc:
            exts.append((x509.BasicConstraints(ca=ca, path_length=pathlen if ca else None), bc_critical))
        ku = (_CA_KU if ca else _LEAF_KU) if ku is _DEFAULT else ku
        if ku is not None:
            exts.append((ku, True))
        if eku is _DEFAULT:
            eku = None if ca else [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        if eku:
            exts.append((x509.ExtendedKeyUsage(eku), False))
        san = (None if ca else [x509.DNSName(cn)]) if san is _DEFAULT else san
        if san:
            exts.append((x509.SubjectAlternativeName(san), False))
        if key_ids:
            exts.append((x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False))
            if aki is None:
                aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())
        if aki is not None:
            exts.append((aki, False))
        exts.extend(extra)
    for ext, critical in exts:
        builder = builder.add_extension(ext, critical)
    if digest is _DEFAULT:
        digest = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(issuer_key, digest)


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def _der_body(data: bytes) -> tuple[bytes, bytes]:
    """The body of the first DER element of ``data``, and what follows it."""
    n = data[1]
    start = 2
    if n & 0x80:
        start = 2 + (n & 0x7F)
        n = int.from_bytes(data[2:start], "big")
    return data[start : start + n], data[start + n :]


_ECDSA_SHA256 = b"\x30\x0a\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02"
_ECDSA_SHA1 = b"\x30\x09\x06\x07\x2a\x86\x48\xce\x3d\x04\x01"


def resign(
    cert: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    v1: bool = False,
    sha1: bool = False,
    replace: tuple[bytes, bytes] | None = None,
) -> x509.Certificate:
    """``cert`` re-encoded as X.509 v1 (it must have no extensions), signed
    with ECDSA-SHA1, or with bytes of its TBS replaced; re-signed.

    cryptography writes only v3 and refuses SHA-1 signatures, so the DER is
    edited here. An ECDSA-SHA1 signature is an ECDSA signature over the
    SHA-1 digest, which as a number is the same left-padded to SHA-256's size.
    """
    tbs_body, _ = _der_body(cert.tbs_certificate_bytes)
    sig_alg = _ECDSA_SHA256
    if replace:
        assert replace[0] in tbs_body, "bytes to replace not found"
        tbs_body = tbs_body.replace(*replace)
    if v1:
        assert tbs_body.startswith(b"\xa0\x03\x02\x01\x02"), "expected an explicit v3 version field"
        tbs_body = tbs_body[5:]
    if sha1:
        assert _ECDSA_SHA256 in tbs_body, "expected an ECDSA-SHA256 certificate"
        tbs_body, sig_alg = tbs_body.replace(_ECDSA_SHA256, _ECDSA_SHA1, 1), _ECDSA_SHA1
    tbs = _der(0x30, tbs_body)
    if sha1:
        sha = hashes.Hash(hashes.SHA1())
        sha.update(tbs)
        digest = bytes(12) + sha.finalize()
        signature = issuer_key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    else:
        signature = issuer_key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    return x509.load_der_x509_certificate(_der(0x30, tbs + sig_alg + _der(0x03, b"\x00" + signature)))


@dataclass(frozen=True)
class Keys:
    root: ec.EllipticCurvePrivateKey
    int: ec.EllipticCurvePrivateKey
    leaf: ec.EllipticCurvePrivateKey
    other: ec.EllipticCurvePrivateKey
    rsa2048: rsa.RSAPrivateKey
    rsa1024: rsa.RSAPrivateKey
    ed: ed25519.Ed25519PrivateKey


@dataclass(frozen=True)
class PKI:
    """Keys (few, reused) and one good hierarchy: root -> intermediate -> leaf."""

    keys: Keys
    root: x509.Certificate
    int: x509.Certificate
    leaf: x509.Certificate
    other_root: x509.Certificate

    def under_root(self) -> tuple[x509.Certificate, Any]:
        return self.root, self.keys.root

    def under_int(self) -> tuple[x509.Certificate, Any]:
        return self.int, self.keys.int


@dataclass(frozen=True)
class Scenario:
    store: tuple[x509.Certificate, ...]
    leaf: x509.Certificate
    chain: tuple[x509.Certificate, ...] = field(default=())


SCENARIOS: dict[str, Callable[[PKI], Scenario]] = {}


def scenario(func: Callable[[PKI], Scenario]) -> Callable[[PKI], Scenario]:
    SCENARIOS[func.__name__] = func
    return func


# -- the corpus ------------------------------------------------------------------------------
# Each function makes one Scenario; its name is the scenario id.


@scenario
def good_chain(p: PKI) -> Scenario:
    return Scenario((p.root,), p.leaf, (p.int,))


@scenario
def chain_with_leaf_and_root(p: PKI) -> Scenario:
    return Scenario((p.root,), p.leaf, (p.leaf, p.int, p.root))


@scenario
def chain_duplicates_and_unrelated(p: PKI) -> Scenario:
    stranger = make("stranger.example", p.keys.other, (p.other_root, p.keys.other))
    return Scenario((p.root,), p.leaf, (p.other_root, p.int, stranger, p.int))


@scenario
def chain_root_first(p: PKI) -> Scenario:
    return Scenario((p.root,), p.leaf, (p.root, p.int))


@scenario
def leaf_issued_by_root(p: PKI) -> Scenario:
    return Scenario((p.root,), make("direct.example", p.keys.leaf, p.under_root()))


@scenario
def root_verified_as_leaf(p: PKI) -> Scenario:
    return Scenario((p.root,), p.root)


@scenario
def missing_intermediate(p: PKI) -> Scenario:
    return Scenario((p.root,), p.leaf)


@scenario
def untrusted_root_in_chain(p: PKI) -> Scenario:
    return Scenario((p.other_root,), p.leaf, (p.int, p.root))


@scenario
def untrusted_root_absent(p: PKI) -> Scenario:
    return Scenario((p.other_root,), p.leaf, (p.int,))


@scenario
def root_same_name_other_key(p: PKI) -> Scenario:
    impostor = make("Root CA", p.keys.other, ca=True)
    return Scenario((impostor,), p.leaf, (p.int,))


@scenario
def expired_leaf(p: PKI) -> Scenario:
    return Scenario((p.root,), make("old.example", p.keys.leaf, p.under_int(), valid=(-30, -1)), (p.int,))


@scenario
def expired_intermediate(p: PKI) -> Scenario:
    old = make("Int CA", p.keys.int, p.under_root(), ca=True, valid=(-30, -1))
    return Scenario((p.root,), p.leaf, (old,))


@scenario
def expired_root(p: PKI) -> Scenario:
    old = make("Root CA", p.keys.root, ca=True, valid=(-30, -1))
    return Scenario((old,), p.leaf, (p.int,))


@scenario
def expired_intermediate_and_renewed(p: PKI) -> Scenario:
    old = make("Int CA", p.keys.int, p.under_root(), ca=True, valid=(-30, -1))
    return Scenario((p.root,), p.leaf, (old, p.int))


@scenario
def not_yet_valid_leaf(p: PKI) -> Scenario:
    return Scenario((p.root,), make("new.example", p.keys.leaf, p.under_int(), valid=(2, 30)), (p.int,))


@scenario
def not_yet_valid_intermediate(p: PKI) -> Scenario:
    new = make("Int CA", p.keys.int, p.under_root(), ca=True, valid=(2, 30))
    return Scenario((p.root,), p.leaf, (new,))


def _with_int(p: PKI, **kwargs: Any) -> Scenario:
    """The good chain with an intermediate made with ``kwargs`` (same name and key)."""
    inter = make("Int CA", p.keys.int, p.under_root(), **{"ca": True, **kwargs})
    return Scenario((p.root,), p.leaf, (inter,))


def _with_root(p: PKI, **kwargs: Any) -> Scenario:
    """The good chain under a root made with ``kwargs`` (same name and key)."""
    root = make("Root CA", p.keys.root, **{"ca": True, **kwargs})
    return Scenario((root,), p.leaf, (p.int,))


@scenario
def int_no_basic_constraints(p: PKI) -> Scenario:
    return _with_int(p, bc=None)


@scenario
def int_no_basic_constraints_no_key_usage(p: PKI) -> Scenario:
    return _with_int(p, bc=None, ku=None)


@scenario
def int_ca_false(p: PKI) -> Scenario:
    return _with_int(p, ca=False, ku=_CA_KU, eku=None, san=None)


@scenario
def int_basic_constraints_noncritical(p: PKI) -> Scenario:
    return _with_int(p, bc_critical=False)


@scenario
def int_no_key_usage(p: PKI) -> Scenario:
    return _with_int(p, ku=None)


@scenario
def int_key_usage_without_cert_sign(p: PKI) -> Scenario:
    return _with_int(p, ku=_LEAF_KU)


@scenario
def int_no_key_identifiers(p: PKI) -> Scenario:
    inter = make("Int CA", p.keys.int, p.under_root(), ca=True, key_ids=False)
    return Scenario((p.root,), make("plain.example", p.keys.leaf, (inter, p.keys.int), key_ids=False), (inter,))


@scenario
def int_eku_server_auth(p: PKI) -> Scenario:
    return _with_int(p, eku=[ExtendedKeyUsageOID.SERVER_AUTH])


@scenario
def int_eku_code_signing(p: PKI) -> Scenario:
    return _with_int(p, eku=[ExtendedKeyUsageOID.CODE_SIGNING])


@scenario
def int_critical_unknown_extension(p: PKI) -> Scenario:
    return _with_int(p, extra=((_UNKNOWN, True),))


@scenario
def int_critical_certificate_policies(p: PKI) -> Scenario:
    policies = x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier("2.5.29.32.0"), None)])
    return _with_int(p, extra=((policies, True),))


@scenario
def root_no_key_usage(p: PKI) -> Scenario:
    return _with_root(p, ku=None)


@scenario
def root_key_usage_without_cert_sign(p: PKI) -> Scenario:
    return _with_root(p, ku=_LEAF_KU)


@scenario
def root_ca_false(p: PKI) -> Scenario:
    return _with_root(p, ca=False, ku=_CA_KU, eku=None, san=None)


@scenario
def root_no_basic_constraints(p: PKI) -> Scenario:
    return _with_root(p, bc=None)


@scenario
def root_pathlen0_with_intermediate(p: PKI) -> Scenario:
    return _with_root(p, pathlen=0)


@scenario
def pathlen0_int_with_ca_below(p: PKI) -> Scenario:
    upper = make("Upper CA", p.keys.other, p.under_root(), ca=True, pathlen=0)
    lower = make("Int CA", p.keys.int, (upper, p.keys.other), ca=True)
    return Scenario((p.root,), p.leaf, (lower, upper))


@scenario
def pathlen0_int_above_leaf(p: PKI) -> Scenario:
    return _with_int(p, pathlen=0)


@scenario
def deep_chain(p: PKI) -> Scenario:
    signer, chain = p.under_root(), []
    for i in range(9):
        cert = make(f"Deep CA {i}" if i < 8 else "Int CA", p.keys.int, signer, ca=True)
        chain.append(cert)
        signer = (cert, p.keys.int)
    return Scenario((p.root,), p.leaf, tuple(chain))


@scenario
def leaf_no_san(p: PKI) -> Scenario:
    return Scenario((p.root,), make("nosan.example", p.keys.leaf, p.under_int(), san=None), (p.int,))


@scenario
def leaf_no_eku(p: PKI) -> Scenario:
    return Scenario((p.root,), make("noeku.example", p.keys.leaf, p.under_int(), eku=None), (p.int,))


@scenario
def leaf_no_extensions(p: PKI) -> Scenario:
    return Scenario((p.root,), make("bare.example", p.keys.leaf, p.under_int(), extensions=False), (p.int,))


@scenario
def leaf_eku_code_signing(p: PKI) -> Scenario:
    leaf = make("code.example", p.keys.leaf, p.under_int(), eku=[ExtendedKeyUsageOID.CODE_SIGNING])
    return Scenario((p.root,), leaf, (p.int,))


@scenario
def leaf_critical_unknown_extension(p: PKI) -> Scenario:
    leaf = make("odd.example", p.keys.leaf, p.under_int(), extra=((_UNKNOWN, True),))
    return Scenario((p.root,), leaf, (p.int,))


@scenario
def leaf_noncritical_unknown_extension(p: PKI) -> Scenario:
    leaf = make("odd.example", p.keys.leaf, p.under_int(), extra=((_UNKNOWN, False),))
    return Scenario((p.root,), leaf, (p.int,))


@scenario
def leaf_critical_authority_key_identifier(p: PKI) -> Scenario:
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(p.keys.int.public_key())
    leaf = make("aki.example", p.keys.leaf, p.under_int(), key_ids=False, extra=((aki, True),))
    return Scenario((p.root,), leaf, (p.int,))


@scenario
def leaf_is_ca(p: PKI) -> Scenario:
    return Scenario((p.root,), make("ca-leaf.example", p.keys.leaf, p.under_int(), ca=True), (p.int,))


@scenario
def self_signed_leaf(p: PKI) -> Scenario:
    return Scenario((p.root,), make("self.example", p.keys.leaf), (p.int,))


@scenario
def self_signed_leaf_in_store(p: PKI) -> Scenario:
    leaf = make("self.example", p.keys.leaf)
    return Scenario((p.root, leaf), leaf)


@scenario
def leaf_in_store_alone(p: PKI) -> Scenario:
    return Scenario((p.leaf,), p.leaf, (p.int,))


@scenario
def leaf_in_store_with_root(p: PKI) -> Scenario:
    return Scenario((p.leaf, p.root), p.leaf, (p.int,))


@scenario
def intermediate_in_store_as_anchor(p: PKI) -> Scenario:
    return Scenario((p.int,), p.leaf)


@scenario
def store_intermediate_issued_by_untrusted_intermediate(p: PKI) -> Scenario:
    # Root -> Upper CA (sent by the peer) -> Int CA (in the store) -> leaf.
    upper = make("Upper CA", p.keys.other, p.under_root(), ca=True)
    inter = make("Int CA", p.keys.int, (upper, p.keys.other), ca=True)
    return Scenario((inter, p.root), p.leaf, (upper,))


@scenario
def intermediate_and_root_in_store(p: PKI) -> Scenario:
    return Scenario((p.int, p.root), p.leaf)


@scenario
def bad_signature(p: PKI) -> Scenario:
    # Claims Int CA (name and key identifier) but is signed with another key.
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(p.keys.int.public_key())
    forged = make("forged.example", p.keys.leaf, (p.int, p.keys.other), aki=aki)
    return Scenario((p.root,), forged, (p.int,))


@scenario
def aki_mismatch(p: PKI) -> Scenario:
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(p.keys.other.public_key())
    return Scenario((p.root,), make("aki.example", p.keys.leaf, p.under_int(), aki=aki), (p.int,))


@scenario
def cross_signed_untrusted_first(p: PKI) -> Scenario:
    # The same intermediate (name and key) also issued by an untrusted root, offered first.
    cross = make("Int CA", p.keys.int, (p.other_root, p.keys.other), ca=True)
    return Scenario((p.root,), p.leaf, (cross, p.int))


@scenario
def sha1_signature(p: PKI) -> Scenario:
    leaf = resign(make("sha1.example", p.keys.leaf, p.under_int()), p.keys.int, sha1=True)
    return Scenario((p.root,), leaf, (p.int,))


@scenario
def sha1_self_signed_root(p: PKI) -> Scenario:
    root = resign(make("Root CA", p.keys.root, ca=True), p.keys.root, sha1=True)
    return Scenario((root,), p.leaf, (p.int,))


@scenario
def rsa_chain(p: PKI) -> Scenario:
    root = make("RSA Root CA", p.keys.rsa2048, ca=True)
    inter = make("RSA Int CA", p.keys.rsa2048, (root, p.keys.rsa2048), ca=True, key_ids=False)
    leaf = make("rsa.example", p.keys.rsa2048, (inter, p.keys.rsa2048), key_ids=False)
    return Scenario((root,), leaf, (inter,))


@scenario
def rsa1024_leaf(p: PKI) -> Scenario:
    return Scenario((p.root,), make("weak.example", p.keys.rsa1024, p.under_int()), (p.int,))


@scenario
def rsa1024_intermediate(p: PKI) -> Scenario:
    inter = make("Weak CA", p.keys.rsa1024, p.under_root(), ca=True)
    return Scenario((p.root,), make("weak.example", p.keys.leaf, (inter, p.keys.rsa1024)), (inter,))


@scenario
def ed25519_leaf(p: PKI) -> Scenario:
    return Scenario((p.root,), make("ed.example", p.keys.ed, p.under_int()), (p.int,))


@scenario
def ed25519_intermediate(p: PKI) -> Scenario:
    inter = make("Ed CA", p.keys.ed, p.under_root(), ca=True)
    return Scenario((p.root,), make("ed.example", p.keys.leaf, (inter, p.keys.ed)), (inter,))


def _constrained(p: PKI, leaf_name: str, *, san: bool = True, excluded: bool = False) -> Scenario:
    subtrees = [x509.DNSName("example.com")]
    nc = x509.NameConstraints(None, subtrees) if excluded else x509.NameConstraints(subtrees, None)
    inter = make("Int CA", p.keys.int, p.under_root(), ca=True, extra=((nc, True),))
    leaf = make(leaf_name, p.keys.leaf, (inter, p.keys.int), san=[x509.DNSName(leaf_name)] if san else None)
    return Scenario((p.root,), leaf, (inter,))


@scenario
def name_constraints_permitted(p: PKI) -> Scenario:
    return _constrained(p, "www.example.com")


@scenario
def name_constraints_violated(p: PKI) -> Scenario:
    return _constrained(p, "www.example.org")


@scenario
def name_constraints_excluded(p: PKI) -> Scenario:
    return _constrained(p, "www.example.com", excluded=True)


@scenario
def name_constraints_leaf_cn(p: PKI) -> Scenario:
    return _constrained(p, "www.example.org", san=False)


@scenario
def v1_root(p: PKI) -> Scenario:
    root = resign(make("Root CA", p.keys.root, extensions=False), p.keys.root, v1=True)
    return Scenario((root,), p.leaf, (p.int,))


@scenario
def v1_intermediate(p: PKI) -> Scenario:
    inter = resign(make("Int CA", p.keys.int, p.under_root(), extensions=False), p.keys.root, v1=True)
    return Scenario((p.root,), p.leaf, (inter,))


@scenario
def v1_leaf(p: PKI) -> Scenario:
    leaf = resign(make("v1.example", p.keys.leaf, p.under_int(), extensions=False), p.keys.int, v1=True)
    return Scenario((p.root,), leaf, (p.int,))


# -- the two verifiers -----------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    ok: bool
    failed: bytes | None = None  # DER of the certificate at fault
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return "OK"
        subject = x509.load_der_x509_certificate(self.failed).subject.rfc4514_string() if self.failed else None
        return f"FAIL at {subject}: {self.reason}"


def _der_of(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def openssl_verdict(s: Scenario) -> Verdict:
    """pyOpenSSL's X509_verify_cert with no purpose: the reference."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        store = crypto.X509Store()
        for cert in s.store:
            store.add_cert(crypto.X509.from_cryptography(cert))
        chain = [crypto.X509.from_cryptography(c) for c in s.chain]
        context = crypto.X509StoreContext(store, crypto.X509.from_cryptography(s.leaf), chain)
        try:
            context.verify_certificate()
        except crypto.X509StoreContextError as exc:
            return Verdict(False, _der_of(exc.certificate.to_cryptography()), str(exc.errors[2]))
    return Verdict(True)


def nettls_verdict(s: Scenario) -> Verdict:
    status = verify_chain(tuple(certificate_pem(c) for c in s.store), s.leaf, list(s.chain))
    if status.status == status.OK:
        assert status.failedCertificate is None and status.failedReason is None
        return Verdict(True)
    assert status.failedReason, "a failure must say why"
    pem = status.failedCertificate
    failed = _der_of(x509.load_pem_x509_certificate(pem.encode())) if pem else None
    return Verdict(False, failed, status.failedReason)


#: Words OpenSSL 4 added to some OpenSSL 3 reason strings; nettls says what OpenSSL 3 says.
_OPENSSL4_SUFFIXES = (" or the system clock is incorrect",)


def key_words(openssl_reason: str) -> str:
    """OpenSSL's reason string as OpenSSL 3 words it, lower case."""
    reason = openssl_reason.lower()
    for suffix in _OPENSSL4_SUFFIXES:
        reason = reason.removesuffix(suffix)
    return reason


def agree(ours: Verdict, reference: Verdict) -> bool:
    """Same verdict; on failure the same certificate, and OpenSSL's reason string in ours."""
    if ours.ok or reference.ok:
        return ours.ok == reference.ok
    return ours.failed == reference.failed and key_words(reference.reason) in ours.reason.lower()


# -- tests -------------------------------------------------------------------------------------


def make_pki() -> PKI:
    """Seven keys (one RSA-2048) and the good hierarchy; about 0.1 s."""
    keys = Keys(
        root=ec.generate_private_key(ec.SECP256R1()),
        int=ec.generate_private_key(ec.SECP256R1()),
        leaf=ec.generate_private_key(ec.SECP256R1()),
        other=ec.generate_private_key(ec.SECP256R1()),
        rsa2048=rsa.generate_private_key(65537, 2048),
        rsa1024=rsa.generate_private_key(65537, 1024),
        ed=ed25519.Ed25519PrivateKey.generate(),
    )
    root = make("Root CA", keys.root, ca=True)
    inter = make("Int CA", keys.int, (root, keys.root), ca=True)
    leaf = make("leaf.example.com", keys.leaf, (inter, keys.int))
    other_root = make("Other Root CA", keys.other, ca=True)
    return PKI(keys, root, inter, leaf, other_root)


@pytest.fixture(scope="session")
def pki() -> PKI:
    return make_pki()


@pytest.mark.parametrize("sid", sorted(SCENARIOS))
def test_scenario(pki: PKI, sid: str) -> None:
    s = SCENARIOS[sid](pki)
    ours, reference = nettls_verdict(s), openssl_verdict(s)
    case = f"{CLAUSE[reference.ok]}:{sid}"
    if case in DEVIATIONS:
        assert not agree(ours, reference), f"stale deviation {case!r}: both say {reference}"
    else:
        assert f"{CLAUSE[not reference.ok]}:{sid}" not in DEVIATIONS, f"{sid} is listed under the wrong clause"
        assert agree(ours, reference), f"{case}: nettls {ours}; OpenSSL {reference}"


def test_deviations_name_scenarios() -> None:
    keys = [key.split(":", 1) for key in DEVIATIONS]
    unknown = [":".join(k) for k in keys if len(k) != 2 or k[0] not in CLAUSE.values() or k[1] not in SCENARIOS]
    assert not unknown, f"DEVIATIONS entries naming no scenario: {unknown}"
    assert set(CLAUSE.values()) <= set(CLAUSES), "deviation keys must name conformance clauses"
    assert all(reason.strip() for reason in DEVIATIONS.values())


def test_store_certificate_that_does_not_parse(pki: PKI) -> None:
    status = verify_chain(("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",), pki.leaf, [])
    assert status.status == status.FAIL and status.failedCertificate is None
    assert "does not parse" in (status.failedReason or "")


_BAD_BC_CA = (b"\x04\x05\x30\x03\x01\x01\xff", b"\x04\x05\x30\x03\x02\x01\xff")  # CA:TRUE -> an INTEGER
_BAD_BC_LEAF = (b"\x04\x02\x30\x00", b"\x04\x02\x31\x00")  # CA:FALSE -> a SET


@pytest.mark.parametrize("where", ["leaf", "intermediate", "store"])
def test_extension_that_does_not_parse(pki: PKI, where: str) -> None:
    """FAIL, naming the certificate and saying so (OpenSSL fails too, with another reason)."""
    s = good_chain(pki)
    if where == "leaf":
        bad = resign(pki.leaf, pki.keys.int, replace=_BAD_BC_LEAF)
        s = Scenario(s.store, bad, s.chain)
    elif where == "intermediate":
        bad = resign(pki.int, pki.keys.root, replace=_BAD_BC_CA)
        s = Scenario(s.store, pki.leaf, (bad,))
    else:
        bad = resign(pki.root, pki.keys.root, replace=_BAD_BC_CA)
        s = Scenario((bad,), pki.leaf, s.chain)
    ours = nettls_verdict(s)
    assert not ours.ok and not openssl_verdict(s).ok
    assert "does not parse" in ours.reason
    assert ours.failed == (None if where == "store" else _der_of(bad))


def test_store_without_self_signed_certificate(pki: PKI) -> None:
    status = verify_chain((certificate_pem(pki.int),), pki.leaf, [])
    assert status.status == status.FAIL
    assert status.failedCertificate == certificate_pem(pki.int)
    assert "unable to get issuer certificate" in (status.failedReason or "")


# -- speed: python tests/test_verify_differential.py -----------------------------------------


def bench(rounds: int = 40, number: int = 100) -> None:
    """Verifications per second of the good 3-certificate chain, best of ``rounds``.

    Every call gets freshly loaded certificates, as ``verifyCertificate``
    does, so nothing is cached on them between calls. ``verify_chain``
    parses the extensions of a path it has not verified before (a new leaf,
    or all new): the "new" cases pay for that.
    """
    import timeit

    from cryptography.x509.verification import PolicyBuilder, Store

    from nettls.components import _x509verify

    p = make_pki()
    roots = (certificate_pem(p.root),)
    ders = [_der_of(p.leaf), _der_of(p.int)]

    def fresh() -> tuple[x509.Certificate, list[x509.Certificate]]:
        leaf, *chain = (x509.load_der_x509_certificate(d) for d in ders)
        return leaf, chain

    policies = {"ca_policy": _x509verify._CA_POLICY, "ee_policy": _x509verify._EE_POLICY}
    builder = PolicyBuilder().store(Store([p.root])).extension_policies(**policies)
    prebuilt = builder.build_client_verifier()  # its time is fixed: fine for a benchmark only

    def new_leaf() -> VerifyStatus:
        leaf, chain = fresh()
        _x509verify._PARSED.discard(leaf.signature)  # as if the leaf were new: its extensions get parsed
        return verify_chain(roots, leaf, chain)

    def all_new() -> VerifyStatus:
        _x509verify._PARSED.clear()
        return verify_chain(roots, *fresh())

    cases: dict[str, Callable[[], Any]] = {
        "cryptography, one prebuilt verifier": lambda: prebuilt.verify(*fresh()),
        "cryptography, verifier built per call": lambda: builder.time(datetime.datetime.now(datetime.timezone.utc))
        .build_client_verifier()
        .verify(*fresh()),
        "verify_chain": lambda: verify_chain(roots, *fresh()),
        "verify_chain, new leaf": new_leaf,
        "verify_chain, all certificates new": all_new,
    }
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(rounds):
        for name, call in cases.items():
            best[name] = min(best[name], timeit.timeit(call, number=number) / number)
    base = best["cryptography, one prebuilt verifier"]
    for name, seconds in best.items():
        print(f"{name:38} {1 / seconds:6.0f}/s  {seconds * 1e6:6.1f} us  {base / seconds:.2f}x")


if __name__ == "__main__":
    bench()
