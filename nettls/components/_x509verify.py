"""Purpose-free chain verification on ``cryptography``'s verifier.

Used by components whose TLS library has no stand-alone verifier (stdlib
``ssl``). SPEC section 6 asks for OpenSSL's ``X509_verify_cert`` with no
purpose set, which is what ``openssl verify`` without ``-purpose`` and
pyOpenSSL's ``X509StoreContext.verify_certificate()`` run.

Theory of operation
-------------------
*cryptography decides.* ``verify_chain`` runs cryptography's client
verifier with relaxed extension policies (``_EE_POLICY``, ``_CA_POLICY``:
nothing is asked of the leaf's extensions, and of a CA only what OpenSSL
asks) and answers OK exactly when it finds a path.

*The store behaves as OpenSSL's does by default.* OpenSSL anchors a path
only at a self-signed certificate of the store (without
``X509_V_FLAG_PARTIAL_CHAIN``, which neither ``openssl verify`` nor
pyOpenSSL sets); a non-self-signed store certificate helps build a path
but does not end one. So the self-signed store certificates make the
verifier's ``Store`` and the others join the untrusted intermediates
(``_Trust``, cached per store with ``lru_cache``).

*What does not parse fails.* The relaxed policies leave most extension
values unread, so the extensions of a verified path are parsed once more
(remembered per certificate in ``_PARSED``); an unparsable one is a FAIL
naming its certificate, never an OK. The verifier itself is cached per
store and per second (``_verifier``), which is exact: it keeps whole seconds.

*OpenSSL explains.* cryptography's errors name no certificate, so on
failure ``diagnose`` rebuilds the path the way ``X509_verify_cert`` does
and runs its checks in its order, returning the certificate at fault and
OpenSSL's reason string (``X509_verify_cert_error_string``) followed by
details. When OpenSSL would find nothing wrong, the failure is one of the
verifier's own stricter rules: ``_profile_problem`` names it, and the case
belongs in ``DEVIATIONS``.

``DEVIATIONS`` lists every known case where this verifier and OpenSSL
disagree on the verdict, the certificate at fault or the reason, keyed
``"<clause>:<scenario>"``: the scenario of ``tests/test_verify_differential.py``
under the conformance clause it falls in (``6.verify-ok`` when OpenSSL
accepts, ``6.verify-fail`` when it rejects). That test fails on an unlisted
difference and on a stale entry.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtensionOID, NameOID, SignatureAlgorithmOID
from cryptography.x509.verification import (
    ClientVerifier,
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from nettls.interfaces import CertificateError, VerifyStatus

from ._common.pem import certificate_pem, parse_certificate

__all__ = ["DEVIATIONS", "verify_chain", "diagnose"]

#: Where this verifier and OpenSSL's X509_verify_cert (no purpose) differ: case id -> why.
#: Checked both ways by tests/test_verify_differential.py. Under 6.verify-ok OpenSSL accepts
#: and this verifier rejects; under 6.verify-fail OpenSSL rejects and this verifier accepts
#: (or names another certificate or reason).
DEVIATIONS: dict[str, str] = {
    "6.verify-ok:sha1_signature": "cryptography accepts only SHA-256/384/512 signatures (RSA, RSA-PSS, ECDSA); "
    "OpenSSL checks no digest strength unless a security level is set",
    "6.verify-ok:rsa1024_intermediate": "cryptography requires RSA keys of 2048 bits or more of every CA; "
    "OpenSSL checks no key size unless a security level is set",
    "6.verify-ok:ed25519_intermediate": "cryptography permits only RSA and P-256/384/521 CA keys and signatures; "
    "OpenSSL accepts Ed25519",
    "6.verify-ok:v1_root": "cryptography requires X.509 v3 of every certificate; OpenSSL accepts a self-signed v1 root",
    "6.verify-ok:v1_leaf": "cryptography requires X.509 v3 of every certificate; OpenSSL accepts a v1 leaf",
    "6.verify-ok:root_no_basic_constraints": "cryptography requires basicConstraints CA:TRUE of every CA, the anchor "
    "too; OpenSSL accepts an anchor without it whose keyUsage allows certificate signing",
    "6.verify-ok:int_critical_certificate_policies": "cryptography rejects a critical certificatePolicies extension "
    "as unknown; OpenSSL processes it",
    "6.verify-ok:deep_chain": "cryptography's verifier allows at most 8 intermediates; OpenSSL's default depth is 100",
    "6.verify-fail:leaf_critical_authority_key_identifier": "OpenSSL rejects a critical authorityKeyIdentifier as an "
    "unhandled critical extension; cryptography accepts it",
    "6.verify-fail:aki_mismatch": "OpenSSL takes an issuer only if the authorityKeyIdentifier matches its "
    "subjectKeyIdentifier; cryptography only tries such issuers first",
    "6.verify-fail:cross_signed_untrusted_first": "cryptography backtracks to another issuer when a path fails; "
    "OpenSSL's path building keeps the first untrusted issuer found",
    "6.verify-fail:name_constraints_leaf_cn": "OpenSSL applies DNS name constraints to a host-name-like subject CN "
    "when the leaf has no DNS subjectAltName; cryptography applies them to subjectAltNames only",
    "6.verify-fail:store_intermediate_issued_by_untrusted_intermediate": "once a store certificate is in the path "
    "OpenSSL seeks its issuers in the store only; cryptography also takes them from the untrusted chain",
}

#: A certificate at fault and the reason.
_Problem = tuple[x509.Certificate, str]
#: What cryptography raises when an extension does not parse.
_BAD_EXTENSIONS = (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)

# -- the relaxed policy ------------------------------------------------------------------


def _require_ca(policy: Any, cert: x509.Certificate, bc: x509.BasicConstraints) -> None:
    """basicConstraints validator: CA:TRUE."""
    if not bc.ca:
        raise ValueError("basicConstraints CA:FALSE")


def _allow_cert_sign(policy: Any, cert: x509.Certificate, ku: x509.KeyUsage | None) -> None:
    """keyUsage validator: keyCertSign, if keyUsage is present."""
    if ku is not None and not ku.key_cert_sign:
        raise ValueError("keyUsage without keyCertSign")


#: No purpose: no EKU, SAN, keyUsage or CA flag is asked of the leaf (unknown critical extensions still fail).
_EE_POLICY = ExtensionPolicy.permit_all()
#: Of a CA, only what OpenSSL's check_ca asks of an intermediate; path length is enforced by the verifier itself.
_CA_POLICY = (
    ExtensionPolicy.permit_all()  # any EKU, AKI, SKI, AIA, SAN, criticality: OpenSSL checks none of them
    .require_present(x509.BasicConstraints, Criticality.AGNOSTIC, _require_ca)  # CA:TRUE, critical or not
    .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _allow_cert_sign)  # "key usage where present"
)


@dataclass(frozen=True, eq=False)  # hashed by identity: a cache key for _verifier
class _Trust:
    """A store, split the way OpenSSL uses it."""

    builder: PolicyBuilder | None  # policy and anchors set; None when no certificate is self-signed
    anchors: tuple[x509.Certificate, ...]  # self-signed: a path may end here
    helpers: tuple[x509.Certificate, ...]  # trusted but not self-signed: a link, never an end
    certs: tuple[x509.Certificate, ...]  # all of them, in store order


@functools.lru_cache(maxsize=32)
def _trust(roots: tuple[str, ...]) -> _Trust:
    """The store of PEM ``roots``, parsed once; CertificateError if one does not parse."""
    certs = tuple(parse_certificate(pem, f"store certificate {i}") for i, pem in enumerate(roots))
    for i, cert in enumerate(certs):
        problem = _extension_problem([cert])
        if problem:
            raise CertificateError(f"store certificate {i}: {problem[1]}")
    anchors = tuple(c for c in certs if _self_signed(c))
    helpers = tuple(c for c in certs if c not in anchors)
    builder = None
    if anchors:
        policies = {"ca_policy": _CA_POLICY, "ee_policy": _EE_POLICY}
        builder = PolicyBuilder().store(Store(list(anchors))).extension_policies(**policies)
    return _Trust(builder, anchors, helpers, certs)


@functools.lru_cache(maxsize=64)
def _verifier(trust: _Trust, second: int) -> ClientVerifier:
    """The verifier for ``trust`` at Unix time ``second``.

    Exact, not an approximation: the verifier keeps its time in whole
    seconds, as certificates do. Reusing one saves about 5% per call.
    """
    assert trust.builder is not None
    now = datetime.datetime.fromtimestamp(second, datetime.timezone.utc)
    return trust.builder.time(now).build_client_verifier()


def verify_chain(
    roots: tuple[str, ...], leaf: x509.Certificate, chain: Sequence[x509.Certificate]
) -> VerifyStatus:
    """Verify ``leaf`` with untrusted ``chain`` against the PEM ``roots``, now.

    ``chain`` may hold the leaf, the root, duplicates and unrelated
    certificates. OK exactly when cryptography's relaxed verifier finds a
    path to a self-signed store certificate; else FAIL with the certificate
    at fault and OpenSSL's reason (see ``diagnose``).
    """
    try:
        trust = _trust(roots)
    except CertificateError as exc:
        return VerifyStatus(VerifyStatus.FAIL, None, str(exc))
    second = int(time.time())
    intermediates = [c for c in chain if c != leaf]
    if trust.helpers:
        intermediates += trust.helpers
    error = "no self-signed certificate in the store to anchor a path"
    if trust.builder is not None:
        try:
            path = _verifier(trust, second).verify(leaf, intermediates).chain
        except VerificationError as exc:
            error = str(exc)
        else:
            # The relaxed policies leave most extension values unread; a path must still parse.
            problem = _path_problem(path[:-1])  # the anchor was checked by _trust
            if problem is None:
                return VerifyStatus(VerifyStatus.OK)
            return VerifyStatus(VerifyStatus.FAIL, certificate_pem(problem[0]), problem[1])
    now = datetime.datetime.fromtimestamp(second, datetime.timezone.utc)
    failed, reason = diagnose(leaf, chain, trust.certs, now)
    if failed is None:
        return VerifyStatus(VerifyStatus.FAIL, None, reason or f"verification failed: {error}")
    return VerifyStatus(VerifyStatus.FAIL, certificate_pem(failed), reason)


def _extension_problem(certs: Iterable[x509.Certificate]) -> _Problem | None:
    """The first of ``certs`` whose extensions do not parse, and why."""
    for cert in certs:
        try:
            cert.extensions
        except _BAD_EXTENSIONS as exc:
            return cert, f"certificate extension does not parse: {_name(cert)}: {exc}"
    return None


#: Signatures of verified certificates whose extensions parse (parsing costs ~5% of a verification).
#: A verified signature stands for the signed TBS, which holds the extensions, so a hit is exact.
_PARSED: set[bytes] = set()


def _path_problem(path: Sequence[x509.Certificate]) -> _Problem | None:
    """``_extension_problem`` for a verified path, remembering the certificates that parse."""
    for cert in path:
        if cert.signature in _PARSED:
            continue
        problem = _extension_problem([cert])
        if problem is not None:
            return problem
        if len(_PARSED) >= 4096:
            _PARSED.clear()
        _PARSED.add(cert.signature)
    return None


# -- OpenSSL's view of a failure ---------------------------------------------------------

#: X509_verify_cert's default maximum depth.
_OPENSSL_DEPTH = 100
#: Extensions OpenSSL understands (X509_supported_extension); others, if critical, fail.
_OPENSSL_KNOWN = frozenset(
    x509.ObjectIdentifier(oid)
    for oid in (
        "2.16.840.1.113730.1.1",  # netscapeCertType
        "2.5.29.15", "2.5.29.17", "2.5.29.19",  # keyUsage, subjectAltName, basicConstraints
        "2.5.29.32", "2.5.29.31", "2.5.29.37",  # certificatePolicies, cRLDistributionPoints, extKeyUsage
        "1.3.6.1.5.5.7.1.7", "1.3.6.1.5.5.7.1.8",  # RFC 3779 IP and AS resources
        "1.3.6.1.5.5.7.48.1.5", "1.3.6.1.5.5.7.1.14",  # OCSP noCheck, proxyCertInfo
        "2.5.29.36", "2.5.29.30",  # policyConstraints, nameConstraints
        "2.5.29.33", "2.5.29.54",  # policyMappings, inhibitAnyPolicy
    )
)


def diagnose(
    leaf: x509.Certificate,
    chain: Iterable[x509.Certificate],
    store: Sequence[x509.Certificate],
    now: datetime.datetime,
) -> tuple[x509.Certificate | None, str]:
    """The certificate at fault and the reason, as OpenSSL would report them.

    Follows ``X509_verify_cert``: build the path (trusted issuers first,
    ending at a self-signed store certificate), then check extensions, CA
    flags and path length from the leaf up, then signatures and validity
    from the root down, then name constraints. If OpenSSL would find no
    fault, asks ``_profile_problem``; ``(None, "")`` if that finds none.
    """
    chain = list(chain)
    problem = _extension_problem([leaf, *chain])
    if problem is not None:
        return problem
    try:
        path, problem = _build_path(leaf, chain, store, now)
        if problem is not None:
            return problem
        return (
            _check_extensions(path)
            or _check_signatures_and_times(path, now)
            or _check_name_constraints(path)
            or _profile_problem(path)
            or (None, "")
        )
    except _BAD_EXTENSIONS as exc:  # not expected: every extension parsed above
        return None, f"a certificate does not parse: {exc}"


def _name(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "<empty subject>"


def _when(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _ext(cert: x509.Certificate, kind: type[Any]) -> Any:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _likely_issued(issuer: x509.Certificate, cert: x509.Certificate) -> bool:
    """OpenSSL's issuer test (x509_likely_issued): names, then the AKI; no signature."""
    if issuer.subject != cert.issuer:
        return False
    aki = _ext(cert, x509.AuthorityKeyIdentifier)
    if aki is None:
        return True
    ski = _ext(issuer, x509.SubjectKeyIdentifier)
    if aki.key_identifier is not None and ski is not None and aki.key_identifier != ski.digest:
        return False
    if aki.authority_cert_serial_number is not None and aki.authority_cert_serial_number != issuer.serial_number:
        return False
    names = [n.value for n in aki.authority_cert_issuer or () if isinstance(n, x509.DirectoryName)]
    return not names or issuer.issuer in names


def _self_signed(cert: x509.Certificate) -> bool:
    """OpenSSL's EXFLAG_SS: self-issued and its AKI (if any) names its own key."""
    return _likely_issued(cert, cert)


def _valid_at(cert: x509.Certificate, now: datetime.datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _find_issuer(
    cert: x509.Certificate,
    candidates: Iterable[x509.Certificate],
    skip: list[x509.Certificate],
    now: datetime.datetime,
) -> x509.Certificate | None:
    """The first time-valid likely issuer, else the one expiring last (OpenSSL's find_issuer)."""
    found = [c for c in candidates if c not in skip and _likely_issued(c, cert)]
    valid = [c for c in found if _valid_at(c, now)]
    if valid:
        return valid[0]
    return max(found, key=lambda c: c.not_valid_after_utc, default=None)


def _build_path(
    leaf: x509.Certificate, chain: list[x509.Certificate], store: Sequence[x509.Certificate], now: datetime.datetime
) -> tuple[list[x509.Certificate], _Problem | None]:
    """OpenSSL's build_chain with X509_V_FLAG_TRUSTED_FIRST (the default).

    Trusted issuers are sought first; once one is in the path, only the
    store is searched. A self-signed certificate ends the path: trusted if
    the store holds it, else an error.
    """
    path = [leaf]
    trusted = False
    while len(path) <= _OPENSSL_DEPTH + 1:
        cert = path[-1]
        self_signed = _self_signed(cert)
        issuer = _find_issuer(cert, store, path[:-1] if self_signed else path, now)
        if issuer is not None:
            if self_signed:
                path[-1] = issuer  # an untrusted self-signed certificate is replaced by its trusted match
            else:
                path.append(issuer)
            trusted = True
            if _self_signed(issuer):
                return path, None
            continue
        if self_signed:
            if len(path) == 1:
                return path, (cert, f"self-signed certificate: {_name(cert)} is not in the store")
            return path, (cert, f"self-signed certificate in certificate chain: {_name(cert)} is not in the store")
        issuer = None if trusted else _find_issuer(cert, chain, path, now)
        if issuer is None:
            what = "unable to get issuer certificate" if trusted else "unable to get local issuer certificate"
            return path, (cert, f"{what}: no issuer {cert.issuer.rfc4514_string()} of {_name(cert)}")
        path.append(issuer)
    return path, (path[-1], f"certificate chain too long: more than {_OPENSSL_DEPTH} certificates")


def _ca_kind(cert: x509.Certificate) -> int:
    """OpenSSL's check_ca: 0 not a CA, 1 CA:TRUE, 3 v1 self-signed root, 4 keyUsage allows signing."""
    ku = _ext(cert, x509.KeyUsage)
    if ku is not None and not ku.key_cert_sign:
        return 0
    bc = _ext(cert, x509.BasicConstraints)
    if bc is not None:
        return 1 if bc.ca else 0
    if cert.version is x509.Version.v1 and _self_signed(cert):
        return 3
    return 4 if ku is not None else 0


def _check_extensions(path: list[x509.Certificate]) -> _Problem | None:
    """OpenSSL's check_chain_extensions with no purpose, leaf first."""
    below = 0  # non-self-issued CAs below the current certificate
    for depth, cert in enumerate(path):
        unknown = [e.oid.dotted_string for e in cert.extensions if e.critical and e.oid not in _OPENSSL_KNOWN]
        if unknown:
            return cert, f"unhandled critical extension: {_name(cert)} has {', '.join(unknown)}"
        if depth > 0:
            kind = _ca_kind(cert)
            if kind == 0 or (kind != 1 and depth < len(path) - 1):  # only the top may be a v1 or keyUsage-only CA
                return cert, f"invalid CA certificate: {_name(cert)} {_why_not_ca(cert)}"
        bc = _ext(cert, x509.BasicConstraints)
        if depth > 1 and bc is not None and bc.path_length is not None and below > bc.path_length:
            limit = f"allows {bc.path_length} CAs below it, has {below}"
            return cert, f"path length constraint exceeded: {_name(cert)} {limit}"
        if depth > 0 and cert.subject != cert.issuer:
            below += 1
    return None


def _why_not_ca(cert: x509.Certificate) -> str:
    ku = _ext(cert, x509.KeyUsage)
    if ku is not None and not ku.key_cert_sign:
        return "has a keyUsage without keyCertSign"
    bc = _ext(cert, x509.BasicConstraints)
    if bc is not None:
        return "has basicConstraints CA:FALSE"
    return "has no basicConstraints"


def _check_signatures_and_times(path: list[x509.Certificate], now: datetime.datetime) -> _Problem | None:
    """OpenSSL's internal_verify: from the root down, each signature then each validity period."""
    for depth in range(len(path) - 1, -1, -1):
        cert = path[depth]
        if depth < len(path) - 1:  # a trusted self-signed root's own signature is not checked
            try:
                cert.verify_directly_issued_by(path[depth + 1])
            except InvalidSignature:
                issuer = _name(path[depth + 1])
                return cert, f"certificate signature failure: {_name(cert)} is not signed by {issuer}"
            except (UnsupportedAlgorithm, TypeError, ValueError):
                pass  # an algorithm cryptography does not verify (SHA-1): OpenSSL would; see _profile_problem
        if now < cert.not_valid_before_utc:
            return cert, f"certificate is not yet valid: {_name(cert)} is valid from {_when(cert.not_valid_before_utc)}"
        if now > cert.not_valid_after_utc:
            return cert, f"certificate has expired: {_name(cert)} expired {_when(cert.not_valid_after_utc)}"
    return None


def _check_name_constraints(path: list[x509.Certificate]) -> _Problem | None:
    """OpenSSL's check_name_constraints, for DNS names and IP addresses."""
    for depth in range(len(path) - 1, -1, -1):
        cert = path[depth]
        if depth > 0 and cert.subject == cert.issuer:
            continue  # self-issued CAs are exempt
        names = _constrained_names(cert, is_leaf=depth == 0)
        for above in path[depth + 1 :]:
            nc = _ext(above, x509.NameConstraints)
            if nc is None:
                continue
            for name in names:
                permitted = [s for s in nc.permitted_subtrees or () if type(s) is type(name)]
                if permitted and not any(_nc_match(name, s) for s in permitted):
                    return cert, f"permitted subtree violation: {_name(cert)} names {name.value}"
                if any(_nc_match(name, s) for s in nc.excluded_subtrees or () if type(s) is type(name)):
                    return cert, f"excluded subtree violation: {_name(cert)} names {name.value}"
    return None


def _constrained_names(cert: x509.Certificate, is_leaf: bool) -> list[x509.GeneralName]:
    san = _ext(cert, x509.SubjectAlternativeName)
    names: list[x509.GeneralName] = [n for n in san or () if isinstance(n, (x509.DNSName, x509.IPAddress))]
    if is_leaf and not any(isinstance(n, x509.DNSName) for n in names):  # OpenSSL then checks a host-name-like CN
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        names += [x509.DNSName(str(a.value)) for a in cns if _looks_like_host(str(a.value))]
    return names


def _looks_like_host(text: str) -> bool:
    labels = text.split(".")
    def fine(label: str) -> bool:
        return bool(label) and "-" not in (label[0], label[-1]) and label.replace("-", "").replace("_", "").isalnum()

    return text.isascii() and len(labels) > 1 and all(fine(label) for label in labels)


def _nc_match(name: x509.GeneralName, subtree: x509.GeneralName) -> bool:
    if isinstance(name, x509.IPAddress):
        net = subtree.value
        return isinstance(net, (ipaddress.IPv4Network, ipaddress.IPv6Network)) and name.value in net
    host, base = str(name.value).lower(), str(subtree.value).lower()
    if not base or host == base:
        return True
    return host.endswith(base) and (base.startswith(".") or host[-len(base) - 1] == ".")


# -- where cryptography is stricter than OpenSSL -----------------------------------------

#: The signature algorithms cryptography's verifier accepts (CA/B Forum BR 7.1.3.2).
_PERMITTED_SIGNATURES = frozenset(
    {
        SignatureAlgorithmOID.RSA_WITH_SHA256,
        SignatureAlgorithmOID.RSA_WITH_SHA384,
        SignatureAlgorithmOID.RSA_WITH_SHA512,
        SignatureAlgorithmOID.RSASSA_PSS,
        SignatureAlgorithmOID.ECDSA_WITH_SHA256,
        SignatureAlgorithmOID.ECDSA_WITH_SHA384,
        SignatureAlgorithmOID.ECDSA_WITH_SHA512,
    }
)
_WEAK_DIGESTS = frozenset(
    {SignatureAlgorithmOID.RSA_WITH_SHA1, SignatureAlgorithmOID.ECDSA_WITH_SHA1, SignatureAlgorithmOID.RSA_WITH_MD5}
)
_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)
_MAX_INTERMEDIATES = 8  # cryptography's default max_chain_depth
#: Extensions cryptography's verifier understands; others, if critical, fail.
_CRYPTOGRAPHY_KNOWN = frozenset(
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


def _profile_problem(path: list[x509.Certificate]) -> _Problem | None:
    """The first rule of cryptography's verifier that OpenSSL does not have, broken on ``path``."""
    for cert in path:
        if cert.version is not x509.Version.v3:
            return cert, f"certificate is not X.509 v3, which the verifier requires: {_name(cert)}"
        unknown = [e.oid.dotted_string for e in cert.extensions if e.critical and e.oid not in _CRYPTOGRAPHY_KNOWN]
        if unknown:
            what = f"{', '.join(unknown)} (unknown to the verifier)"
            return cert, f"unhandled critical extension: {_name(cert)} has {what}"
    for cert, issuer in zip(path, path[1:]):
        oid = cert.signature_algorithm_oid
        if oid in _WEAK_DIGESTS:
            return cert, f"CA signature digest algorithm too weak: {_name(cert)} is signed with {oid._name}"
        if oid not in _PERMITTED_SIGNATURES:
            return cert, f"signature algorithm not permitted by the verifier: {_name(cert)} uses {oid._name}"
        key = issuer.public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
            return issuer, f"CA certificate key too weak: {_name(issuer)} has a {key.key_size}-bit RSA key"
        curve = key.curve if isinstance(key, ec.EllipticCurvePublicKey) else None
        if not isinstance(key, rsa.RSAPublicKey) and not isinstance(curve, _CURVES):
            return issuer, f"CA certificate key type not permitted by the verifier: {_name(issuer)}"
        if _ext(issuer, x509.BasicConstraints) is None:
            return issuer, f"invalid CA certificate: {_name(issuer)} has no basicConstraints (the verifier requires it)"
    if len(path) - 2 > _MAX_INTERMEDIATES:
        return path[-2], f"certificate chain too long: more than {_MAX_INTERMEDIATES} intermediates"
    return None
