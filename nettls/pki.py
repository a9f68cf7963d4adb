"""Throwaway certificates made in memory, for demos, tests and servers.

The one place nettls builds certificates. ``build()`` signs whatever
extensions it is given (the conformance suite's verification cases use it
for certificates no sane issuer makes); ``issue()`` makes one well-formed
certificate with it; ``throwaway_pki()`` a root CA, an intermediate CA and
a server leaf, which is what ``nettls demo`` and ``nettls serve`` use when
given no certificate. PEM text comes from the one PEM module
(``nettls.components._common.pem``). Nothing touches a disk.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes, CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .components._common.pem import certificate_pem, key_pem

__all__ = ["Issued", "ThrowawayPKI", "new_key", "build", "issue", "throwaway_pki"]

_DAY = datetime.timedelta(days=1)


def new_key(kind: str = "ec") -> CertificateIssuerPrivateKeyTypes:
    """A fresh private key: "ec" (P-256, fast) or "rsa" (2048 bits)."""
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise ValueError(f"key kind must be 'ec' or 'rsa', not {kind!r}")


@dataclass(frozen=True)
class Issued:
    """A certificate with its private key, as objects and as PEM text."""

    cert: x509.Certificate
    key: CertificateIssuerPrivateKeyTypes

    @property
    def cert_pem(self) -> str:
        return certificate_pem(self.cert)

    @property
    def key_pem(self) -> str:
        """The key as unencrypted PKCS#8 PEM."""
        return key_pem(self.key)

    @property
    def name(self) -> str:
        return self.cert.subject.rfc4514_string()


def _general_names(names: Iterable[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def issue(
    common_name: str,
    *,
    issuer: Issued | None = None,
    key: CertificateIssuerPrivateKeyTypes | None = None,
    ca: bool = False,
    path_length: int | None = None,
    names: Sequence[str] = (),
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    server_auth: bool = True,
    client_auth: bool = False,
) -> Issued:
    """Issue one certificate, self-signed when ``issuer`` is None.

    CAs get basicConstraints CA:TRUE (critical) and keyCertSign; leaves get
    digitalSignature and, if asked, the serverAuth/clientAuth EKUs and the
    subject alternative ``names`` (DNS names or IP addresses).
    """
    key = key or new_key()
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "nettls"), x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), True),
        (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
        (
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=not ca and isinstance(key, rsa.RSAPrivateKey),
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            True,
        ),
    ]
    if issuer is not None:
        extensions.append((x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), False))
    if not ca:
        usages = [u for u, on in ((ExtendedKeyUsageOID.SERVER_AUTH, server_auth), (ExtendedKeyUsageOID.CLIENT_AUTH, client_auth)) if on]
        if usages:
            extensions.append((x509.ExtendedKeyUsage(usages), False))
    if names:
        extensions.append((x509.SubjectAlternativeName(_general_names(names)), False))
    cert = build(
        subject,
        key.public_key(),
        (issuer.cert.subject, issuer.key) if issuer else (subject, key),
        not_before or now - _DAY,
        not_after or now + 30 * _DAY,
        extensions,
    )
    return Issued(cert, key)


def build(
    subject: x509.Name,
    public_key: CertificatePublicKeyTypes,
    signer: tuple[x509.Name, CertificateIssuerPrivateKeyTypes],
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    extensions: Sequence[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    """Sign one certificate for ``public_key``, exactly as described: with
    SHA-256, except by an Ed25519/Ed448 key, which takes no separate hash.

    Args:
        subject: the subject name.
        public_key: the key the certificate certifies.
        signer: the issuer's name and private key (the subject and the
            subject's own key for a self-signed certificate).
        not_before, not_after: the validity period.
        extensions: (extension, critical) pairs, written in this order and
            nothing else: no extension is added or checked.
    """
    issuer_name, signer_key = signer
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    digest = None if isinstance(signer_key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)) else hashes.SHA256()
    return builder.sign(signer_key, digest)


@dataclass(frozen=True)
class ThrowawayPKI:
    """A root CA, an intermediate CA under it, and a server leaf under that."""

    root: Issued
    intermediate: Issued
    leaf: Issued
    names: tuple[str, ...] = field(default=())

    @property
    def chain_pems(self) -> list[str]:
        """What a server sends after its leaf: the intermediate."""
        return [self.intermediate.cert_pem]


def throwaway_pki(names: Sequence[str] = ("localhost", "127.0.0.1", "::1"), kind: str = "ec") -> ThrowawayPKI:
    """A fresh three-level PKI whose leaf is valid for ``names``."""
    root = issue("nettls throwaway root CA", ca=True, key=new_key(kind))
    intermediate = issue("nettls throwaway intermediate CA", issuer=root, ca=True, path_length=0, key=new_key(kind))
    leaf = issue(names[0] if names else "nettls server", issuer=intermediate, names=names, key=new_key(kind))
    return ThrowawayPKI(root, intermediate, leaf, tuple(names))
