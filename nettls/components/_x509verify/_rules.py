"""The profile's rules for one certificate and for a path, in Python.

cryptography's client verifier applies the web PKI's structural rules to
every certificate it puts in a path (``_POLICIES`` in ``_trust`` relaxes
them on extended key usage and subject alternative names only). OpenSSL
with ``X509_STRICT`` applies most of them but not all, and neither
applies the rules nettls adds (SPEC 6: RSA under 2048 bits, EC curves
under 256 bits, DSA, serial number zero, SHA-1). This module states them
once, per certificate and per role:

- ``Facts.as_leaf`` / ``Facts.as_ca``: what is wrong with a certificate as
  the end entity or as a CA of a path (its extensions, version, key, ...);
- ``Facts.relied``: what is wrong with its own signature and serial number,
  which matter for every certificate of a path but the trust anchor (a
  store certificate is trusted for being in the store; its self-signature
  is never checked, and real roots have serial 0 or SHA-1 self-signatures);
- ``path_problem``: those rules over a whole path, plus its depth and its
  names x constraints, for a path a library has found.

Facts are computed once per certificate and remembered by signature value
(parsing costs more than a verification's Python part). A signature stands
for the TBS it signs: a certificate whose facts were mixed up with
another's would need a signature valid over two texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import ExtensionOID, PublicKeyAlgorithmOID, SignatureAlgorithmOID

from .._common.pem import subject_text

from .._common.limits import MAX_VERIFY_CHAIN_CERTIFICATES

__all__ = [
    "MAX_CHAIN_CERTIFICATES",
    "MAX_INTERMEDIATES",
    "MAX_NAME_CHECKS",
    "MAX_CANDIDATE_PATHS",
    "Facts",
    "facts",
    "path_problem",
    "Problem",
]

#: Certificates accepted in a chain argument (one limit with verify_inputs, which refuses more before parsing).
MAX_CHAIN_CERTIFICATES = MAX_VERIFY_CHAIN_CERTIFICATES
#: Intermediates in a path (cryptography's default; like it and OpenSSL, self-issued ones count too).
MAX_INTERMEDIATES = 8
#: Names x name constraints per call; cryptography takes ~0.3 s at its own limit (2**20), 20 ms at this one.
MAX_NAME_CHECKS = 1 << 16
#: Candidate issuers a path search may try (by names, before any signature): cryptography's own
#: signature-check budget, so that it is never reached; real chains need two or three.
MAX_CANDIDATE_PATHS = 128

#: A certificate at fault and the reason.
Problem = tuple[x509.Certificate, str]

#: What cryptography raises for an extension or name that does not parse.
_BAD_ENCODING = (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType, UnsupportedAlgorithm)
#: Extensions the verifier understands; any other marked critical fails (RFC 5280 4.2).
_KNOWN = frozenset(
    {
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.NAME_CONSTRAINTS,
        ExtensionOID.EXTENDED_KEY_USAGE,
    }
)
#: Extensions that must not be critical, in every certificate (AIA: RFC 5280 4.2.2.1; AKI: 4.2.1.1).
_NON_CRITICAL = frozenset({ExtensionOID.AUTHORITY_INFORMATION_ACCESS, ExtensionOID.AUTHORITY_KEY_IDENTIFIER})
#: Signature algorithms a path may rely on (CA/B 7.1.3.2, as cryptography's verifier permits them).
_SIGNATURES = frozenset(
    {
        SignatureAlgorithmOID.RSA_WITH_SHA256,
        SignatureAlgorithmOID.RSA_WITH_SHA384,
        SignatureAlgorithmOID.RSA_WITH_SHA512,
        SignatureAlgorithmOID.ECDSA_WITH_SHA256,
        SignatureAlgorithmOID.ECDSA_WITH_SHA384,
        SignatureAlgorithmOID.ECDSA_WITH_SHA512,
    }
)
#: SHA-1 and weaker: refused by name (SPEC 6), so the reason says so.
_WEAK_SIGNATURES = frozenset(
    {
        SignatureAlgorithmOID.RSA_WITH_SHA1,
        SignatureAlgorithmOID.ECDSA_WITH_SHA1,
        SignatureAlgorithmOID.DSA_WITH_SHA1,
        SignatureAlgorithmOID.RSA_WITH_MD5,
    }
)
#: The RSASSA-PSS parameters permitted (SHA-256/384/512, MGF1 with the same hash, salt of the hash's size).
_PSS_HASHES = {"sha256": 32, "sha384": 48, "sha512": 64}
#: The curves a CA key may be on (CA/B 7.1.3.1).
_CA_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
#: Serial numbers are 1 to 20 octets; 21 tolerated (a 20-byte random value with its top bit set).
_MAX_SERIAL_OCTETS = 21


@dataclass(frozen=True)
class Facts:
    """What the profile says of one certificate; ``None`` where it is fine."""

    as_leaf: str | None  # its problem as the end entity
    as_ca: str | None  # its problem as a CA (issuer or anchor)
    relied: str | None  # its problem when its own signature and serial matter (all but the anchor)
    names: int  # subject alternative names, plus the subject: what name constraints are checked against
    constraints: int  # name-constraint subtrees it imposes
    subject: bytes  # DER of the subject name (b"" if it does not parse)
    issuer: bytes  # DER of the issuer name (b"" if it does not parse)
    self_issued: bool  # subject == issuer (exempt from name constraints when not the leaf)
    self_signed: bool  # self-issued, and its AKI, if any, names its own key: never a link of a path


#: Facts by signature value; cleared when full.
_FACTS: dict[bytes, Facts] = {}
_FACTS_SIZE = 4096


def facts(cert: x509.Certificate) -> Facts:
    """The ``Facts`` of ``cert``, computed once."""
    key = cert.signature
    found = _FACTS.get(key)
    if found is None:
        found = _compute(cert)
        if len(_FACTS) >= _FACTS_SIZE:
            _FACTS.clear()
        _FACTS[key] = found
    return found


def _compute(cert: x509.Certificate) -> Facts:
    name = subject_text(cert)
    try:
        subject, issuer = cert.subject.public_bytes(), cert.issuer.public_bytes()
    except ValueError:
        subject = issuer = b""
    try:
        extensions = {ext.oid: ext for ext in cert.extensions}
        common = _common_problem(cert, extensions)
        as_leaf = common or _leaf_problem(cert, extensions)
        as_ca = common or _ca_problem(cert, extensions)
        relied = _relied_problem(cert)
        names, constraints = _name_counts(extensions)
    except _BAD_ENCODING as exc:
        reason = f"certificate does not parse: {name}: {exc}"
        return Facts(reason, reason, reason, 0, 0, subject, issuer, False, False)
    self_issued = bool(subject) and subject == issuer
    at = f": {name} "
    return Facts(
        as_leaf and as_leaf.replace(": ", at, 1),
        as_ca and as_ca.replace(": ", at, 1),
        relied and relied.replace(": ", at, 1),
        names,
        constraints,
        subject,
        issuer,
        self_issued,
        self_issued and _names_own_key(extensions),
    )


def _names_own_key(extensions: dict[x509.ObjectIdentifier, x509.Extension[Any]]) -> bool:
    """No AKI, or an AKI naming the certificate's own SKI: a self-issued certificate is then self-signed
    (a key rollover certificate names the old key)."""
    aki = extensions.get(ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    ski = extensions.get(ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    return aki is None or aki.value.key_identifier is None or (ski is not None and aki.value.key_identifier == ski.value.digest)


# Each check returns "<what>: <details>"; _compute puts the certificate's name after the colon.


def _common_problem(cert: x509.Certificate, extensions: dict[x509.ObjectIdentifier, x509.Extension[Any]]) -> str | None:
    """Rules for every certificate of a path, whatever its role (RFC 5280 4.1, 4.2; SPEC 6 on keys)."""
    if cert.version is not x509.Version.v3:
        return f"certificate is not X.509 v3: is {cert.version.name} (the profile requires v3)"
    serial = cert.serial_number
    if serial < 0 or (serial.bit_length() + 8) // 8 > _MAX_SERIAL_OCTETS:
        return f"invalid serial number: has serial {serial}, negative or longer than 20 octets"
    if len(cert.issuer) == 0:
        return "invalid issuer name: has an empty one"
    unknown = [oid.dotted_string for oid, ext in extensions.items() if ext.critical and oid not in _KNOWN]
    if unknown:
        return f"unhandled critical extension: has {', '.join(unknown)}"
    wrong = [oid._name for oid, ext in extensions.items() if ext.critical and oid in _NON_CRITICAL]
    if wrong:
        return f"extension marked critical that must not be: has a critical {', '.join(wrong)}"
    return _key_problem(cert)


def _key_problem(cert: x509.Certificate) -> str | None:
    """SPEC 6: RSA keys under 2048 bits, EC keys on curves under 256 bits and DSA keys are refused."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        return f"key too weak: has a {key.key_size}-bit RSA key (2048 bits or more required)"
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < 256:
        return f"key too weak: has an EC key on {key.curve.name} (curves of 256 bits or more required)"
    if isinstance(key, dsa.DSAPublicKey):
        return "key type not accepted: has a DSA key"
    return None


def _leaf_problem(cert: x509.Certificate, extensions: dict[x509.ObjectIdentifier, x509.Extension[Any]]) -> str | None:
    """The end-entity rules (CA/B 7.1.2.7), less any EKU or SAN requirement (no purpose, no host name)."""
    bc = extensions.get(ExtensionOID.BASIC_CONSTRAINTS)
    if bc is not None and bc.value.ca:
        return "CA certificate used as an end entity: has basicConstraints CA:TRUE"
    ku = extensions.get(ExtensionOID.KEY_USAGE)
    if ku is not None and ku.value.key_cert_sign:
        return "end entity with keyCertSign: has a keyUsage that allows signing certificates"
    if ExtensionOID.NAME_CONSTRAINTS in extensions:
        return "end entity with nameConstraints: has a nameConstraints extension"
    if ExtensionOID.AUTHORITY_KEY_IDENTIFIER not in extensions:
        return "missing authorityKeyIdentifier: has none (an end entity must have one)"
    if len(cert.subject) == 0:
        san = extensions.get(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        if san is None or not san.critical:
            return "empty subject without a critical subjectAltName: has neither a subject nor a critical SAN (RFC 5280 4.2.1.6)"
    return None


def _ca_problem(cert: x509.Certificate, extensions: dict[x509.ObjectIdentifier, x509.Extension[Any]]) -> str | None:
    """The CA rules (RFC 5280 4.2.1, CA/B 7.1.2.1-2), less any EKU requirement (no purpose)."""
    bc = extensions.get(ExtensionOID.BASIC_CONSTRAINTS)
    if bc is None:
        return "invalid CA certificate: has no basicConstraints"
    if not bc.value.ca:
        return "invalid CA certificate: has basicConstraints CA:FALSE"
    if not bc.critical:
        return "invalid CA certificate: has a basicConstraints not marked critical"
    ku = extensions.get(ExtensionOID.KEY_USAGE)
    if ku is None:
        return "invalid CA certificate: has no keyUsage"
    if not ku.value.key_cert_sign:
        return "invalid CA certificate: has a keyUsage without keyCertSign"
    ski = extensions.get(ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    if ski is not None and ski.critical:
        return "invalid CA certificate: has a subjectKeyIdentifier marked critical"
    aki = extensions.get(ExtensionOID.AUTHORITY_KEY_IDENTIFIER)
    if aki is not None:
        value = aki.value
        if value.key_identifier is None:
            return "invalid CA certificate: has an authorityKeyIdentifier without keyIdentifier"
        if value.authority_cert_issuer is not None or value.authority_cert_serial_number is not None:
            return "invalid CA certificate: has an authorityKeyIdentifier naming an issuer and serial"
    nc = extensions.get(ExtensionOID.NAME_CONSTRAINTS)
    if nc is not None and not (nc.value.permitted_subtrees or nc.value.excluded_subtrees):
        return "invalid CA certificate: has a nameConstraints with no subtrees"
    key = cert.public_key()
    if cert.public_key_algorithm_oid == PublicKeyAlgorithmOID.EC_PUBLIC_KEY:
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, _CA_CURVES):
            return "CA key not permitted: has an EC key on a curve other than P-256, P-384 and P-521"
    elif cert.public_key_algorithm_oid != PublicKeyAlgorithmOID.RSAES_PKCS1_v1_5:
        return f"CA key not permitted: has a key of type {cert.public_key_algorithm_oid._name} (RSA or ECDSA only)"
    return None


def _relied_problem(cert: x509.Certificate) -> str | None:
    """Rules on what the issuer signed: the signature algorithm (SPEC 6: no SHA-1) and a serial number above zero."""
    oid = cert.signature_algorithm_oid
    if oid in _WEAK_SIGNATURES:
        return f"signature too weak: is signed with {oid._name} (SHA-1 and weaker are refused)"
    if oid == SignatureAlgorithmOID.RSASSA_PSS:
        if not _standard_pss(cert):
            return "signature algorithm not permitted: is signed with RSASSA-PSS with non-standard parameters"
    elif oid not in _SIGNATURES:
        return f"signature algorithm not permitted: is signed with {oid._name} (RSA or ECDSA with SHA-256/384/512 only)"
    if cert.serial_number == 0:
        return "invalid serial number: has serial number zero (RFC 5280 4.1.2.2 requires a positive one)"
    return None


def _standard_pss(cert: x509.Certificate) -> bool:
    """RSASSA-PSS with SHA-256/384/512, MGF1 over the same hash and a salt of the hash's length."""
    from cryptography.hazmat.primitives.asymmetric import padding

    params = cert.signature_algorithm_parameters
    digest = cert.signature_hash_algorithm
    if not isinstance(params, padding.PSS) or digest is None or digest.name not in _PSS_HASHES:
        return False
    mgf = getattr(params, "_mgf", None)
    mgf_hash = getattr(mgf, "_algorithm", None)
    salt = getattr(params, "_salt_length", None)
    return mgf_hash is not None and mgf_hash.name == digest.name and salt == _PSS_HASHES[digest.name]


def _name_counts(extensions: dict[x509.ObjectIdentifier, x509.Extension[Any]]) -> tuple[int, int]:
    san = extensions.get(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    nc = extensions.get(ExtensionOID.NAME_CONSTRAINTS)
    names = 1 + (len(san.value) if san is not None else 0)
    constraints = 0
    if nc is not None:
        constraints = len(nc.value.permitted_subtrees or ()) + len(nc.value.excluded_subtrees or ())
    return names, constraints


# -- a whole path ----------------------------------------------------------------------------


def path_problem(path: Sequence[x509.Certificate]) -> Problem | None:
    """The first rule ``path`` (leaf first, anchor last) breaks, with the certificate at fault.

    Per certificate: the leaf as the end entity, the others as CAs, then
    the signature and serial number of all but the anchor; then the depth
    (``MAX_INTERMEDIATES``) and the names x constraints (``MAX_NAME_CHECKS``).
    """
    found = [facts(cert) for cert in path]
    last = len(path) - 1
    # In the diagnosis's order: what stops a path (the leaf's and the CAs' own rules) first,
    # then what it reports once the path is complete (signatures and serial numbers).
    stops = [(path[0], found[0].as_leaf), *zip(path[1:], (f.as_ca for f in found[1:]))]
    reports = list(zip(path[:last], (f.relied for f in found[:last])))
    for cert, reason in (*stops, *reports):
        if reason is not None:
            return cert, reason
    if last - 1 > MAX_INTERMEDIATES:
        return path[MAX_INTERMEDIATES + 1], too_deep()
    checks = sum(f.names for f in found[:last]) * sum(f.constraints for f in found[1:])
    if checks > MAX_NAME_CHECKS:
        return path[0], too_many_name_checks(checks)
    return None


def too_deep() -> str:
    return f"certificate chain too long: more than {MAX_INTERMEDIATES} intermediates (the bound)"


def too_many_name_checks(checks: int) -> str:
    return f"too many names x name constraints to check: {checks} (the bound is {MAX_NAME_CHECKS})"
