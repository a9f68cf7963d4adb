"""Test certificates, made in memory with ``cryptography``.

``make_pki()`` returns one cached ``PKI``: a few hierarchies (root CA ->
intermediate CA -> leaf) and the broken certificates the verification
clauses need. Keys are generated once per process and reused wherever a
test does not need a distinct key (RSA key generation is slow).

Every certificate is a ``Credential`` (certificate plus key) and every
usable leaf comes as an ``Identity``: the leaf, the intermediates to send
after it, and the root that anchors it. Certificates are built by
``nettls.pki`` and PEM is read and written by nettls's one PEM module
(``pem_to_der`` here is that module's).
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass, field
from typing import Union

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from nettls.components.kit import certificate_pem, pem_to_der
from nettls.pki import Issued, build, issue, new_key

__all__ = ["Credential", "Identity", "PKI", "make_pki", "pem_to_der", "same_certificate", "ENCRYPTED_KEY_PASSWORD"]

PrivateKey = Union[rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey]

#: The password of every ``Credential.key_pem("encrypted")``.
ENCRYPTED_KEY_PASSWORD = b"nettls-conformance"

_DAY = datetime.timedelta(days=1)


def same_certificate(a: str | bytes | None, b: str | bytes | None) -> bool:
    """True when ``a`` and ``b`` are PEM texts of the same certificate.

    Compares DER, so str/bytes and a trailing newline do not matter. None
    or text that does not parse (by the strict rules of SPEC 14) compares
    unequal to anything.
    """
    if a is None or b is None:
        return False
    try:
        return pem_to_der(a) == pem_to_der(b)
    except ValueError:
        return False


@dataclass(frozen=True, eq=False)
class Credential:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def cert_pem(self) -> str:
        """The certificate as PEM text."""
        return certificate_pem(self.cert)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def is_rsa(self) -> bool:
        return isinstance(self.key, rsa.RSAPrivateKey)

    def key_pem(self, form: str = "pkcs8") -> str:
        """The private key as PEM text.

        ``form``: "pkcs8" (BEGIN PRIVATE KEY), "traditional" (PKCS#1
        BEGIN RSA PRIVATE KEY for RSA, SEC1 BEGIN EC PRIVATE KEY for EC), or
        "encrypted" (PKCS#8 encrypted with ``ENCRYPTED_KEY_PASSWORD``).
        """
        formats = {
            "pkcs8": (serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
            "traditional": (serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()),
            "encrypted": (
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(ENCRYPTED_KEY_PASSWORD),
            ),
        }
        if form not in formats:
            raise ValueError(f"key form is one of {', '.join(formats)}, not {form!r}")
        private_format, encryption = formats[form]
        return self.key.private_bytes(serialization.Encoding.PEM, private_format, encryption).decode("ascii")

    def __repr__(self) -> str:
        return f"<Credential {self.cert.subject.rfc4514_string()}>"


@dataclass(frozen=True, eq=False)
class Identity:
    """A leaf with the path above it: what a server presents.

    ``intermediates`` are sent after the leaf, nearest first; ``root`` is
    the trust anchor (not sent).
    """

    leaf: Credential
    intermediates: tuple[Credential, ...]
    root: Credential

    @property
    def cert_pem(self) -> str:
        return self.leaf.cert_pem

    def key_pem(self, form: str = "pkcs8") -> str:
        return self.leaf.key_pem(form)

    @property
    def chain_pems(self) -> list[str]:
        """The intermediates as PEM, in the order a server sends them."""
        return [c.cert_pem for c in self.intermediates]

    @property
    def path_pems(self) -> list[str]:
        """Leaf, intermediates and root as PEM."""
        return [self.leaf.cert_pem, *self.chain_pems, self.root.cert_pem]


@dataclass(frozen=True, eq=False)
class PKI:
    """Every certificate the conformance suite uses.

    Good identities (verify against their root): ``rsa`` and ``ec`` (SAN
    localhost and 127.0.0.1, EKU serverAuth), ``client`` (EKU clientAuth
    only), ``bare`` (no SAN, no EKU). Bad ones (fail against their root):
    ``expired``, ``not_yet_valid``, ``expired_intermediate``, ``untrusted``
    (its root is not ``rsa.root``/``ec.root`` and is trusted by nobody),
    ``non_ca_issuer`` (signed by a CA:false certificate),
    ``path_length`` (a CA below a pathlen:0 CA), ``bad_key_usage`` (the
    issuer's keyUsage lacks keyCertSign), ``bad_signature`` (names the EC
    intermediate as issuer, signed by ``other_key``). ``other_key``
    matches no certificate here.
    """

    rsa: Identity
    ec: Identity
    client: Identity
    bare: Identity
    expired: Identity
    not_yet_valid: Identity
    expired_intermediate: Identity
    untrusted: Identity
    non_ca_issuer: Identity
    path_length: Identity
    bad_key_usage: Identity
    bad_signature: Identity
    other_key: PrivateKey
    all_roots: tuple[Credential, ...] = field(default=())

    def identity(self, kind: str) -> Identity:
        """The good server identity of key type ``kind`` ("rsa" or "ec")."""
        if kind not in ("rsa", "ec"):
            raise ValueError(f"kind is 'rsa' or 'ec', not {kind!r}")
        return self.rsa if kind == "rsa" else self.ec


def _credential(issued: Issued) -> Credential:
    return Credential(issued.cert, issued.key)  # type: ignore[arg-type]


def _reissued(issued: Issued, signer_key: object, *, key_usage: x509.KeyUsage | None = None) -> Issued:
    """``issued`` signed again by ``signer_key``: same names, validity and
    extensions (keyUsage replaced by ``key_usage`` if given)."""
    cert = issued.cert
    extensions = [
        (key_usage if key_usage is not None and isinstance(ext.value, x509.KeyUsage) else ext.value, ext.critical)
        for ext in cert.extensions
    ]
    signer = (cert.issuer, signer_key)
    resigned = build(cert.subject, cert.public_key(), signer, cert.not_valid_before_utc, cert.not_valid_after_utc, extensions)  # type: ignore[arg-type]
    return Issued(resigned, issued.key)


_SIGN_ONLY = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)
_NAMES = ("localhost", "127.0.0.1")


@functools.lru_cache(maxsize=1)
def make_pki() -> PKI:
    """Build (once per process) and return the suite's certificates.

    Built with ``nettls.pki.issue``. Three RSA-2048 keys (the RSA root,
    intermediate and leaf); every other key is EC P-256, and one EC key
    serves every other leaf. Everything is valid from a day ago for 30
    days, except the deliberately expired and not-yet-valid certificates.
    """
    now = datetime.datetime.now(datetime.timezone.utc)

    def ca(name: str, issuer: Issued | None, kind: str = "ec", **kw: object) -> Issued:
        if issuer is not None:
            kw.setdefault("path_length", 0)
        return issue(name, issuer=issuer, key=new_key(kind), ca=True, **kw)  # type: ignore[arg-type]

    def server(name: str, issuer: Issued, key: object, **kw: object) -> Issued:
        return issue(name, issuer=issuer, key=key, names=_NAMES, **kw)  # type: ignore[arg-type]

    # The RSA hierarchy: every key RSA-2048.
    rsa_root = ca("nettls RSA root", None, "rsa")
    rsa_inter = ca("nettls RSA intermediate", rsa_root, "rsa")
    rsa_leaf = server("localhost (RSA)", rsa_inter, new_key("rsa"))

    # The EC hierarchy; its leaf key is reused for every other leaf.
    ec_root = ca("nettls EC root", None)
    ec_inter = ca("nettls EC intermediate", ec_root)
    leaf_key = new_key("ec")
    ec_leaf = server("localhost (EC)", ec_inter, leaf_key)

    client_leaf = issue("nettls client", issuer=ec_inter, key=leaf_key, server_auth=False, client_auth=True)
    bare_leaf = issue("nettls bare leaf", issuer=ec_inter, key=leaf_key, server_auth=False)
    expired = server("localhost (expired)", ec_inter, leaf_key, not_before=now - 60 * _DAY, not_after=now - 30 * _DAY)
    not_yet = server("localhost (not yet valid)", ec_inter, leaf_key, not_before=now + 30 * _DAY, not_after=now + 60 * _DAY)

    old_inter = ca("nettls expired intermediate", ec_root, not_before=now - 60 * _DAY, not_after=now - 30 * _DAY)
    # Issued while old_inter was still valid, and itself still valid now.
    under_old = server("localhost (under an expired CA)", old_inter, leaf_key, not_before=now - 40 * _DAY)

    other_root = ca("nettls untrusted root", None)
    other_inter = ca("nettls untrusted intermediate", other_root)
    untrusted = server("localhost (untrusted)", other_inter, leaf_key)

    not_ca = issue("nettls not a CA", issuer=ec_root, key=new_key("ec"), server_auth=False)
    under_not_ca = server("localhost (under a non-CA)", not_ca, leaf_key)

    # ec_inter has pathlen 0, so a CA below it may not issue anything.
    too_deep = issue("nettls CA below pathlen 0", issuer=ec_inter, key=new_key("ec"), ca=True)
    under_too_deep = server("localhost (path too long)", too_deep, leaf_key)

    no_cert_sign = _reissued(ca("nettls CA without keyCertSign", ec_root), ec_root.key, key_usage=_SIGN_ONLY)
    other_key = new_key("ec")
    # Names ec_inter as its issuer (and its key id), but other_key signed it.
    forged = _reissued(server("localhost (bad signature)", ec_inter, leaf_key), other_key)
    under_no_cert_sign = server("localhost (bad key usage)", no_cert_sign, leaf_key)

    c = _credential
    return PKI(
        rsa=Identity(c(rsa_leaf), (c(rsa_inter),), c(rsa_root)),
        ec=Identity(c(ec_leaf), (c(ec_inter),), c(ec_root)),
        client=Identity(c(client_leaf), (c(ec_inter),), c(ec_root)),
        bare=Identity(c(bare_leaf), (c(ec_inter),), c(ec_root)),
        expired=Identity(c(expired), (c(ec_inter),), c(ec_root)),
        not_yet_valid=Identity(c(not_yet), (c(ec_inter),), c(ec_root)),
        expired_intermediate=Identity(c(under_old), (c(old_inter),), c(ec_root)),
        untrusted=Identity(c(untrusted), (c(other_inter),), c(other_root)),
        non_ca_issuer=Identity(c(under_not_ca), (c(not_ca),), c(ec_root)),
        path_length=Identity(c(under_too_deep), (c(too_deep), c(ec_inter)), c(ec_root)),
        bad_key_usage=Identity(c(under_no_cert_sign), (c(no_cert_sign),), c(ec_root)),
        bad_signature=Identity(c(forged), (c(ec_inter),), c(ec_root)),
        other_key=other_key,  # type: ignore[arg-type]
        all_roots=(c(rsa_root), c(ec_root), c(other_root)),
    )
