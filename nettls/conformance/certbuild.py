"""A certificate builder for verification tests, in memory.

``make`` issues one certificate with any mix of the extensions SPEC 6's
profile judges (each present, absent, critical or not); ``resign`` edits
what cryptography will not write (X.509 v1, serial number zero, SHA-1)
and signs again. ``case_pki`` makes, once per process, the keys the cases
reuse (good ones, weak ones, odd ones) and one good hierarchy.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from nettls.pki import build

__all__ = ["make", "resign", "name", "CasePKI", "case_pki", "CA_KU", "LEAF_KU", "UNKNOWN", "NOW", "DAY"]

NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)

#: keyUsage of a CA (keyCertSign, cRLSign) and of a leaf (digitalSignature).
CA_KU = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
LEAF_KU = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
#: An extension no verifier knows (a private OID).
UNKNOWN = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.55555.1"), b"\x05\x00")
_DEFAULT: Any = object()


def name(cn: str | None) -> x509.Name:
    """A name with one CN (``None``: the empty name)."""
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn is not None else [])


def make(
    cn: str | None,
    key: Any,
    signer: tuple[x509.Certificate, Any] | None = None,
    *,
    ca: bool = False,
    bc: bool | None = True,
    bc_critical: bool = True,
    pathlen: int | None = None,
    ku: Any = _DEFAULT,
    ku_critical: bool = True,
    eku: list[x509.ObjectIdentifier] | None = _DEFAULT,
    eku_critical: bool = False,
    san: list[x509.GeneralName] | None = _DEFAULT,
    san_critical: bool = False,
    valid: tuple[float, float] = (-1, 365),
    ski: bool = True,
    ski_critical: bool = False,
    aki: Any = _DEFAULT,
    aki_critical: bool = False,
    extra: tuple[tuple[x509.ExtensionType, bool], ...] = (),
    extensions: bool = True,
) -> x509.Certificate:
    """A certificate for ``cn``: self-signed if ``signer`` is None, else issued by (cert, key);
    signed by ``nettls.pki.build``.

    Defaults make a well-formed CA (``ca=True``) or leaf: basicConstraints,
    keyUsage, SKI and AKI, and for a leaf an EKU and a DNS SAN. ``aki``:
    default from the issuer's key, None for none, or an AKI to use.
    """
    issuer_cert, issuer_key = signer if signer else (None, key)
    exts: list[tuple[x509.ExtensionType, bool]] = []
    if extensions:
        if bc:
            exts.append((x509.BasicConstraints(ca=ca, path_length=pathlen if ca else None), bc_critical))
        ku = (CA_KU if ca else LEAF_KU) if ku is _DEFAULT else ku
        if ku is not None:
            exts.append((ku, ku_critical))
        if eku is _DEFAULT:
            eku = None if ca else [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        if eku:
            exts.append((x509.ExtendedKeyUsage(eku), eku_critical))
        san = (None if ca or cn is None else [x509.DNSName(cn)]) if san is _DEFAULT else san
        if san:
            exts.append((x509.SubjectAlternativeName(san), san_critical))
        if ski:
            exts.append((x509.SubjectKeyIdentifier.from_public_key(key.public_key()), ski_critical))
        if aki is _DEFAULT:
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())
        if aki is not None:
            exts.append((aki, aki_critical))
        exts.extend(extra)
    issuer_name = issuer_cert.subject if issuer_cert else name(cn)
    return build(name(cn), key.public_key(), (issuer_name, issuer_key), NOW + valid[0] * DAY, NOW + valid[1] * DAY, exts)


# -- what cryptography will not write: DER surgery, then a new signature ----------------------


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def _first(data: bytes) -> tuple[bytes, bytes]:
    """The first DER element of ``data`` (whole), and what follows it."""
    n, start = data[1], 2
    if n & 0x80:
        start = 2 + (n & 0x7F)
        n = int.from_bytes(data[2:start], "big")
    return data[: start + n], data[start + n :]


def _body(element: bytes) -> bytes:
    n, start = element[1], 2
    if n & 0x80:
        start = 2 + (n & 0x7F)
    return element[start:]


_SIG_ALGS = {
    ("ec", "sha256"): bytes.fromhex("300a06082a8648ce3d040302"),
    ("ec", "sha1"): bytes.fromhex("300906072a8648ce3d0401"),
    ("rsa", "sha256"): bytes.fromhex("300d06092a864886f70d01010b0500"),
    ("rsa", "sha1"): bytes.fromhex("300d06092a864886f70d0101050500"),
}
_V3 = bytes.fromhex("a003020102")


def resign(
    cert: x509.Certificate, issuer_key: Any, *, v1: bool = False, serial_zero: bool = False, sha1: bool = False
) -> x509.Certificate:
    """``cert`` as X.509 v1 (it must have no extensions), with serial number
    zero, or signed with SHA-1; signed again by ``issuer_key`` (EC or RSA)."""
    kind = "ec" if isinstance(issuer_key, ec.EllipticCurvePrivateKey) else "rsa"
    body = _body(cert.tbs_certificate_bytes)
    assert body.startswith(_V3), "expected an explicit v3 version field"
    version, rest = body[: len(_V3)], body[len(_V3) :]
    serial, rest = _first(rest)
    old_alg, rest = _first(rest)
    assert old_alg == _SIG_ALGS[(kind, "sha256")], "expected a SHA-256 signature"
    alg = _SIG_ALGS[(kind, "sha1" if sha1 else "sha256")]
    if serial_zero:
        serial = b"\x02\x01\x00"
    tbs = _der(0x30, (b"" if v1 else version) + serial + alg + rest)
    digest: Any = hashes.SHA1() if sha1 else hashes.SHA256()
    hashed = hashes.Hash(digest)
    hashed.update(tbs)
    value = hashed.finalize()
    if kind == "ec":
        # ECDSA over a SHA-1 digest is ECDSA over that number: left-padded to SHA-256's size.
        signature = issuer_key.sign(value.rjust(32, b"\0"), ec.ECDSA(Prehashed(hashes.SHA256())))
    else:
        signature = issuer_key.sign(value, padding.PKCS1v15(), Prehashed(digest))
    return x509.load_der_x509_certificate(_der(0x30, tbs + alg + _der(0x03, b"\x00" + signature)))


# -- the keys and one good hierarchy ------------------------------------------------------------


@dataclass(frozen=True)
class CasePKI:
    """Keys (few, reused) and one good hierarchy: root -> intermediate -> leaf."""

    root_key: ec.EllipticCurvePrivateKey
    int_key: ec.EllipticCurvePrivateKey
    leaf_key: ec.EllipticCurvePrivateKey
    other_key: ec.EllipticCurvePrivateKey
    rsa_key: rsa.RSAPrivateKey
    weak_keys: dict[str, Any]  # "rsa1024", "p192", "dsa": keys the profile refuses
    odd_keys: dict[str, Any]  # "ed25519", "secp256k1": fine for a leaf, not for a CA
    root: x509.Certificate
    int: x509.Certificate
    leaf: x509.Certificate
    other_root: x509.Certificate

    def under_root(self) -> tuple[x509.Certificate, Any]:
        return self.root, self.root_key

    def under_int(self) -> tuple[x509.Certificate, Any]:
        return self.int, self.int_key


@functools.lru_cache(maxsize=1)
def case_pki() -> CasePKI:
    """Made once per process (about 0.2 s: one RSA-2048 and one DSA key)."""
    root_key, int_key, leaf_key, other_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(4))
    root = make("Root CA", root_key, ca=True)
    inter = make("Int CA", int_key, (root, root_key), ca=True)
    leaf = make("leaf.example.com", leaf_key, (inter, int_key))
    return CasePKI(
        root_key,
        int_key,
        leaf_key,
        other_key,
        rsa.generate_private_key(65537, 2048),
        {
            "rsa1024": rsa.generate_private_key(65537, 1024),
            "p192": ec.generate_private_key(ec.SECP192R1()),
            "dsa": dsa.generate_private_key(1024),
        },
        {"ed25519": ed25519.Ed25519PrivateKey.generate(), "secp256k1": ec.generate_private_key(ec.SECP256K1())},
        root,
        inter,
        leaf,
        make("Other Root CA", other_key, ca=True),
    )
