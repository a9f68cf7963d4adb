"""A store parsed once, and cryptography's verifier with the profile's policies."""

from __future__ import annotations

import collections
import datetime
import functools
from dataclasses import dataclass
from typing import Mapping

from cryptography import x509
from cryptography.x509.verification import ClientVerifier, Criticality, ExtensionPolicy, PolicyBuilder, Store

from .._common.pem import parse_certificate
from ._rules import MAX_INTERMEDIATES, facts

__all__ = ["Trust", "trust_of", "verifier", "EE_POLICY", "CA_POLICY"]

#: The web PKI's end-entity policy, less what a purpose or a host name would ask: no SAN required, and
#: the EKU, which states purposes, not judged at all (any value, critical or not: trustme marks it critical).
EE_POLICY = (
    ExtensionPolicy.webpki_defaults_ee()
    .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None)
    .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
)
#: The web PKI's CA policy, less the EKU a purpose would ask of CAs (a serverAuth-only CA still issues).
CA_POLICY = ExtensionPolicy.webpki_defaults_ca().may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None)


@dataclass(frozen=True, eq=False)  # hashed by identity: a cache key for ``verifier``
class Trust:
    """The trusted certificates of a store: every one is a trust anchor (RFC 5280 6.1.1 d)."""

    certs: tuple[x509.Certificate, ...]
    builder: PolicyBuilder
    by_subject: Mapping[x509.Name, tuple[x509.Certificate, ...]]  # for the diagnosis
    by_subject_der: Mapping[bytes, int]  # how many store certificates bear each subject (DER), for ``screen``
    constraints: int  # name-constraint subtrees the store's certificates impose

    def holds(self, cert: x509.Certificate) -> bool:
        try:
            return cert in self.by_subject.get(cert.subject, ())
        except ValueError:  # a subject that does not parse
            return False


@functools.lru_cache(maxsize=32)
def trust_of(roots: tuple[str, ...]) -> Trust:
    """The store of PEM ``roots``, parsed once; CertificateError if one does not parse."""
    certs = tuple(parse_certificate(pem, f"store certificate {i}") for i, pem in enumerate(roots))
    by_subject: dict[x509.Name, tuple[x509.Certificate, ...]] = {}
    for cert in certs:
        try:
            by_subject[cert.subject] = (*by_subject.get(cert.subject, ()), cert)
        except ValueError:  # never an issuer by name, nor the leaf's twin
            continue
    builder = PolicyBuilder().store(Store(list(certs))).max_chain_depth(MAX_INTERMEDIATES)
    builder = builder.extension_policies(ee_policy=EE_POLICY, ca_policy=CA_POLICY)
    by_subject_der = collections.Counter(facts(c).subject for c in certs)
    return Trust(certs, builder, by_subject, by_subject_der, sum(facts(c).constraints for c in certs))


@functools.lru_cache(maxsize=64)
def verifier(trust: Trust, second: int) -> ClientVerifier:
    """The verifier for ``trust`` at Unix time ``second``: exact, since the
    verifier keeps its time in whole seconds as certificates do."""
    now = datetime.datetime.fromtimestamp(second, datetime.timezone.utc)
    return trust.builder.time(now).build_client_verifier()
