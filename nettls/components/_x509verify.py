"""Purpose-free chain verification on ``cryptography``'s verifier.

Used by components whose TLS library has no stand-alone verifier (stdlib
``ssl``). SPEC section 6 asks for OpenSSL's ``X509_verify_cert`` with no
purpose; cryptography's verifier runs the Web PKI profile, so it is
relaxed here: any extensions on the leaf (no EKU or SAN required), and no
EKU constraint on CAs. What still differs is listed in the component's
deviation table.
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

from cryptography import x509
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from nettls.interfaces import VerifyStatus

from ._common.pem import certificate_pem, parse_certificate

__all__ = ["verify_chain"]

_EE_POLICY = ExtensionPolicy.permit_all()
_CA_POLICY = ExtensionPolicy.webpki_defaults_ca().may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None)


@functools.lru_cache(maxsize=32)
def _trust(roots: tuple[str, ...]) -> tuple[Store, tuple[x509.Certificate, ...]]:
    certs = tuple(parse_certificate(p) for p in roots)
    return Store(list(certs)), certs


def verify_chain(roots: tuple[str, ...], leaf: x509.Certificate, chain: list[x509.Certificate]) -> VerifyStatus:
    """Verify ``leaf`` with untrusted ``chain`` against ``roots`` (PEM), now."""
    store, anchors = _trust(roots)
    now = datetime.datetime.now(datetime.timezone.utc)
    verifier = (
        PolicyBuilder()
        .store(store)
        .time(now)
        .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
        .build_client_verifier()
    )
    intermediates = [c for c in chain if c != leaf]
    try:
        verifier.verify(leaf, intermediates)
        return VerifyStatus(VerifyStatus.OK)
    except VerificationError as exc:
        failed, reason = diagnose(leaf, intermediates, anchors, now)
        if failed is None:
            return VerifyStatus(VerifyStatus.FAIL, None, f"verification failed: {exc}")
        return VerifyStatus(VerifyStatus.FAIL, certificate_pem(failed), reason)


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:  # wrong key or signature: not this issuer
        return False


def _name(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "<empty subject>"


def diagnose(
    leaf: x509.Certificate,
    chain: list[x509.Certificate],
    anchors: tuple[x509.Certificate, ...],
    now: datetime.datetime,
) -> tuple[x509.Certificate | None, str]:
    """Find which certificate fails and why, in OpenSSL's terms.

    Builds the path the way ``X509_verify_cert`` does (issuer by name and
    signature, trusted certificates first), then checks each certificate
    from the root down: validity period, CA flag, path length, key usage.
    """
    path = [leaf]
    cert = leaf
    trusted = False
    for _ in range(32):
        if cert in anchors:
            trusted = True
            break
        issuer = next((a for a in anchors if _issued_by(cert, a)), None)
        if issuer is None:
            issuer = next((c for c in chain if c not in path and _issued_by(cert, c)), None)
        if issuer is None:
            if cert.issuer == cert.subject:
                what = "self-signed certificate" if cert is leaf else "self-signed certificate in certificate chain"
                return cert, f"{what}: {_name(cert)} is not trusted"
            return cert, f"unable to get local issuer certificate: no trusted issuer {cert.issuer.rfc4514_string()} for {_name(cert)}"
        path.append(issuer)
        cert = issuer
    if not trusted:
        return cert, "certificate chain too long"
    for depth in range(len(path) - 1, -1, -1):
        cert = path[depth]
        if now < cert.not_valid_before_utc:
            return cert, f"certificate is not yet valid: {_name(cert)} is valid from {cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S} UTC"
        if now > cert.not_valid_after_utc:
            return cert, f"certificate has expired: {_name(cert)} expired {cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC"
        if depth == 0:
            break
        problem = _ca_problem(cert, depth - 1)
        if problem:
            return cert, problem
    return None, ""


def _ca_problem(cert: x509.Certificate, below: int) -> str | None:
    """Why ``cert`` cannot issue a path with ``below`` CAs under it, or None."""
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return f"invalid CA certificate: {_name(cert)} has no basicConstraints"
    if not bc.ca:
        return f"invalid CA certificate: {_name(cert)} is not a CA (basicConstraints CA:FALSE)"
    if bc.path_length is not None and below > bc.path_length:
        return f"path length constraint exceeded: {_name(cert)} allows {bc.path_length} CAs below it"
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if not ku.key_cert_sign:
        return f"key usage does not include certificate signing: {_name(cert)}"
    return None
