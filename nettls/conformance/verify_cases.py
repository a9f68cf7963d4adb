"""SPEC 6's verification profile, case by case.

``ACCEPTED`` and ``REFUSED`` name the cases: each a function of a
``CasePKI`` (``certbuild.case_pki``) returning a ``Case``; a refused case
names the certificate at fault. The conformance suite runs them through
every component (test_verify.py); a component that cannot reach a case's
verdict lists it in its deviation table, keyed
``6.verify-ok:profile_accepts[NAME]`` or ``6.verify-fail:profile_refuses[NAME]``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from .certbuild import CA_KU, LEAF_KU, UNKNOWN, CasePKI, case_pki, make, resign

__all__ = ["Case", "ACCEPTED", "REFUSED", "build"]


@dataclass(frozen=True)
class Case:
    """A store, a leaf and an untrusted chain; ``culprit``: the certificate at fault, if refused."""

    store: tuple[x509.Certificate, ...]
    leaf: x509.Certificate
    chain: tuple[x509.Certificate, ...] = field(default=())
    culprit: x509.Certificate | None = None

    def pems(self) -> tuple[list[str], str, list[str]]:
        """Store, leaf and chain as PEM text."""

        def pem(cert: x509.Certificate) -> str:
            return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

        return [pem(c) for c in self.store], pem(self.leaf), [pem(c) for c in self.chain]


ACCEPTED: dict[str, Callable[[CasePKI], Case]] = {}
REFUSED: dict[str, Callable[[CasePKI], Case]] = {}


def _accepted(func: Callable[[CasePKI], Case]) -> Callable[[CasePKI], Case]:
    ACCEPTED[func.__name__] = func
    return func


def _refused(func: Callable[[CasePKI], Case]) -> Callable[[CasePKI], Case]:
    REFUSED[func.__name__] = func
    return func


def _leaf_case(p: CasePKI, culprit: bool, **kwargs: Any) -> Case:
    """The good chain with a leaf made with ``kwargs``."""
    leaf = make(kwargs.pop("cn", "case.example.com"), kwargs.pop("key", p.leaf_key), p.under_int(), **kwargs)
    return Case((p.root,), leaf, (p.int,), leaf if culprit else None)


def _int_case(p: CasePKI, culprit: bool, **kwargs: Any) -> Case:
    """The good chain with an intermediate made with ``kwargs`` (same name, key ``key`` or the usual one)."""
    key = kwargs.pop("key", p.int_key)
    inter = make("Int CA", key, p.under_root(), **{"ca": True, **kwargs})
    leaf = make("case.example.com", p.leaf_key, (inter, key))
    return Case((p.root,), leaf, (inter,), inter if culprit else None)


def _root_case(p: CasePKI, culprit: bool, **kwargs: Any) -> Case:
    """The good chain under a root made with ``kwargs`` (same name and key)."""
    root = make("Root CA", p.root_key, **{"ca": True, **kwargs})
    return Case((root,), p.leaf, (p.int,), root if culprit else None)


def _chain_of(p: CasePKI, depth: int) -> Case:
    """A leaf under ``depth`` intermediates (the lowest is Int CA)."""
    signer, chain = p.under_root(), []
    for i in range(depth):
        cert = make(f"Deep CA {i}" if i < depth - 1 else "Int CA", p.int_key, signer, ca=True)
        chain.append(cert)
        signer = (cert, p.int_key)
    # Past 8 intermediates, the 9th counted from the leaf is the one too many.
    return Case((p.root,), p.leaf, tuple(reversed(chain)), chain[depth - 9] if depth > 8 else None)


def _constrained(p: CasePKI, leaf_name: str, *, san: bool = True, excluded: bool = False, culprit: bool = True) -> Case:
    subtrees = [x509.DNSName("example.com")]
    nc = x509.NameConstraints(None, subtrees) if excluded else x509.NameConstraints(subtrees, None)
    inter = make("Int CA", p.int_key, p.under_root(), ca=True, extra=((nc, True),))
    leaf = make(leaf_name, p.leaf_key, (inter, p.int_key), san=[x509.DNSName(leaf_name)] if san else None)
    return Case((p.root,), leaf, (inter,), leaf if culprit else None)


# -- accepted: the path exists and keeps every rule ----------------------------------------------


@_accepted
def good_chain(p: CasePKI) -> Case:
    return Case((p.root,), p.leaf, (p.int,))


@_accepted
def rsa_chain(p: CasePKI) -> Case:
    root = make("RSA Root CA", p.rsa_key, ca=True)
    inter = make("RSA Int CA", p.rsa_key, (root, p.rsa_key), ca=True)
    return Case((root,), make("rsa.example", p.rsa_key, (inter, p.rsa_key)), (inter,))


@_accepted
def chain_reversed_with_leaf_and_root(p: CasePKI) -> Case:
    return Case((p.root,), p.leaf, (p.root, p.int, p.leaf))


@_accepted
def chain_with_duplicates_and_strangers(p: CasePKI) -> Case:
    stranger = make("stranger.example", p.other_key, (p.other_root, p.other_key))
    return Case((p.root,), p.leaf, (p.other_root, p.int, stranger, p.int))


@_accepted
def cross_signed_untrusted_first(p: CasePKI) -> Case:
    # The same intermediate (name and key) also issued by an untrusted root, offered first.
    cross = make("Int CA", p.int_key, (p.other_root, p.other_key), ca=True)
    return Case((p.root,), p.leaf, (cross, p.int))


@_accepted
def cross_signed_root(p: CasePKI) -> Case:
    # A new root, trusted, and its cross-certificate from the old root (untrusted here) in the chain.
    new_root = make("New Root CA", p.other_key, ca=True)
    cross = make("New Root CA", p.other_key, (p.root, p.root_key), ca=True)
    inter = make("Int CA", p.int_key, (new_root, p.other_key), ca=True)
    return Case((new_root,), make("x.example", p.leaf_key, (inter, p.int_key)), (inter, cross))


@_accepted
def expired_intermediate_and_renewed(p: CasePKI) -> Case:
    old = make("Int CA", p.int_key, p.under_root(), ca=True, valid=(-30, -1))
    return Case((p.root,), p.leaf, (old, p.int))


@_accepted
def intermediate_as_anchor(p: CasePKI) -> Case:
    return Case((p.int,), p.leaf)


@_accepted
def leaf_as_anchor(p: CasePKI) -> Case:
    return Case((p.leaf,), p.leaf)


@_accepted
def leaf_without_san_or_eku(p: CasePKI) -> Case:
    return _leaf_case(p, False, san=None, eku=None)


@_accepted
def leaf_for_code_signing(p: CasePKI) -> Case:
    return _leaf_case(p, False, eku=[ExtendedKeyUsageOID.CODE_SIGNING])


@_accepted
def leaf_critical_eku(p: CasePKI) -> Case:
    # A purpose is not judged, critical or not (trustme marks its leaves' EKU critical).
    return _leaf_case(p, False, eku=[ExtendedKeyUsageOID.CLIENT_AUTH], eku_critical=True)


@_accepted
def leaf_empty_subject_critical_san(p: CasePKI) -> Case:
    return _leaf_case(p, False, cn=None, san=[x509.DNSName("anon.example")], san_critical=True)


@_accepted
def leaf_noncritical_unknown_extension(p: CasePKI) -> Case:
    return _leaf_case(p, False, extra=((UNKNOWN, False),))


@_accepted
def leaf_ed25519(p: CasePKI) -> Case:
    return _leaf_case(p, False, key=p.odd_keys["ed25519"])


@_accepted
def intermediate_for_servers_only(p: CasePKI) -> Case:
    return _int_case(p, False, eku=[ExtendedKeyUsageOID.SERVER_AUTH])


@_accepted
def root_sha1_self_signed(p: CasePKI) -> Case:
    # A trust anchor's own signature is never checked: real roots still carry SHA-1 ones.
    return Case((resign(p.root, p.root_key, sha1=True),), p.leaf, (p.int,))


@_accepted
def root_serial_zero(p: CasePKI) -> Case:
    # Nor its serial: real roots (Go Daddy, Starfield G2) have serial number 0.
    return Case((resign(p.root, p.root_key, serial_zero=True),), p.leaf, (p.int,))


@_accepted
def eight_intermediates(p: CasePKI) -> Case:
    return _chain_of(p, 8)


@_accepted
def pathlen_zero_above_leaf(p: CasePKI) -> Case:
    return _int_case(p, False, pathlen=0)


@_accepted
def name_constraints_permitted(p: CasePKI) -> Case:
    return _constrained(p, "www.example.com", culprit=False)


@_accepted
def name_constraints_leaf_cn(p: CasePKI) -> Case:
    # Name constraints apply to subjectAltNames; this leaf has none.
    return _constrained(p, "www.example.org", san=False, culprit=False)


@_accepted
def aki_mismatch(p: CasePKI) -> Case:
    # The AKI is a hint for path building, not a rule: the issuer is found by name and signature.
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(p.other_key.public_key())
    return _leaf_case(p, False, aki=aki)


@_accepted
def intermediate_without_ski(p: CasePKI) -> Case:
    # The web PKI asks CAs for an SKI, but many older ones lack it: cryptography permits it.
    return _int_case(p, False, ski=False)


@_accepted
def intermediate_without_aki(p: CasePKI) -> Case:
    return _int_case(p, False, aki=None)


@_accepted
def root_without_ski_or_aki(p: CasePKI) -> Case:
    return _root_case(p, False, ski=False, aki=None)


@_accepted
def leaf_critical_ski(p: CasePKI) -> Case:
    return _leaf_case(p, False, ski_critical=True)


# -- refused: each names the certificate at fault ------------------------------------------------


@_refused
def leaf_is_a_ca(p: CasePKI) -> Case:
    return _leaf_case(p, True, ca=True)


@_refused
def root_as_leaf(p: CasePKI) -> Case:
    return Case((p.root,), p.root, (), p.root)


@_refused
def leaf_with_key_cert_sign(p: CasePKI) -> Case:
    return _leaf_case(p, True, ku=CA_KU)


@_refused
def leaf_without_aki(p: CasePKI) -> Case:
    return _leaf_case(p, True, aki=None)


@_refused
def leaf_critical_aki(p: CasePKI) -> Case:
    return _leaf_case(p, True, aki_critical=True)


@_refused
def leaf_empty_subject_noncritical_san(p: CasePKI) -> Case:
    return _leaf_case(p, True, cn=None, san=[x509.DNSName("anon.example")])


@_refused
def leaf_with_name_constraints(p: CasePKI) -> Case:
    nc = x509.NameConstraints([x509.DNSName("example.com")], None)
    return _leaf_case(p, True, extra=((nc, True),))


@_refused
def leaf_critical_unknown_extension(p: CasePKI) -> Case:
    return _leaf_case(p, True, extra=((UNKNOWN, True),))


@_refused
def leaf_rsa_1024(p: CasePKI) -> Case:
    return _leaf_case(p, True, key=p.weak_keys["rsa1024"])


@_refused
def leaf_p192(p: CasePKI) -> Case:
    return _leaf_case(p, True, key=p.weak_keys["p192"])


@_refused
def leaf_dsa(p: CasePKI) -> Case:
    return _leaf_case(p, True, key=p.weak_keys["dsa"])


@_refused
def leaf_serial_zero(p: CasePKI) -> Case:
    leaf = resign(make("zero.example", p.leaf_key, p.under_int()), p.int_key, serial_zero=True)
    return Case((p.root,), leaf, (p.int,), leaf)


@_refused
def leaf_sha1(p: CasePKI) -> Case:
    leaf = resign(make("sha1.example", p.leaf_key, p.under_int()), p.int_key, sha1=True)
    return Case((p.root,), leaf, (p.int,), leaf)


@_refused
def leaf_v1(p: CasePKI) -> Case:
    leaf = resign(make("v1.example", p.leaf_key, p.under_int(), extensions=False), p.int_key, v1=True)
    return Case((p.root,), leaf, (p.int,), leaf)


@_refused
def intermediate_sha1(p: CasePKI) -> Case:
    inter = resign(p.int, p.root_key, sha1=True)
    return Case((p.root,), p.leaf, (inter,), inter)


@_refused
def intermediate_serial_zero(p: CasePKI) -> Case:
    inter = resign(p.int, p.root_key, serial_zero=True)
    return Case((p.root,), p.leaf, (inter,), inter)


@_refused
def intermediate_rsa_1024(p: CasePKI) -> Case:
    return _int_case(p, True, key=p.weak_keys["rsa1024"])


@_refused
def intermediate_ed25519(p: CasePKI) -> Case:
    return _int_case(p, True, key=p.odd_keys["ed25519"])


@_refused
def intermediate_secp256k1(p: CasePKI) -> Case:
    return _int_case(p, True, key=p.odd_keys["secp256k1"])


@_refused
def intermediate_basic_constraints_not_critical(p: CasePKI) -> Case:
    return _int_case(p, True, bc_critical=False)


@_refused
def intermediate_without_basic_constraints(p: CasePKI) -> Case:
    return _int_case(p, True, bc=None)


@_refused
def intermediate_without_key_usage(p: CasePKI) -> Case:
    return _int_case(p, True, ku=None)


@_refused
def intermediate_without_key_cert_sign(p: CasePKI) -> Case:
    return _int_case(p, True, ku=LEAF_KU)


@_refused
def intermediate_critical_ski(p: CasePKI) -> Case:
    return _int_case(p, True, ski_critical=True)


@_refused
def intermediate_critical_certificate_policies(p: CasePKI) -> Case:
    policies = x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier("2.5.29.32.0"), None)])
    return _int_case(p, True, extra=((policies, True),))


@_refused
def intermediate_empty_name_constraints(p: CasePKI) -> Case:
    empty = x509.UnrecognizedExtension(x509.ExtensionOID.NAME_CONSTRAINTS, b"\x30\x00")  # cryptography will not write it
    return _int_case(p, True, extra=((empty, True),))


@_refused
def intermediate_v1(p: CasePKI) -> Case:
    inter = resign(make("Int CA", p.int_key, p.under_root(), extensions=False), p.root_key, v1=True)
    return Case((p.root,), p.leaf, (inter,), inter)


@_refused
def root_basic_constraints_not_critical(p: CasePKI) -> Case:
    return _root_case(p, True, bc_critical=False)


@_refused
def root_ca_false(p: CasePKI) -> Case:
    return _root_case(p, True, ca=False, ku=CA_KU, eku=None, san=None)


@_refused
def nine_intermediates(p: CasePKI) -> Case:
    return _chain_of(p, 9)


@_refused
def pathlen_zero_with_ca_below(p: CasePKI) -> Case:
    upper = make("Upper CA", p.other_key, p.under_root(), ca=True, pathlen=0)
    lower = make("Int CA", p.int_key, (upper, p.other_key), ca=True)
    return Case((p.root,), p.leaf, (lower, upper), upper)


@_refused
def name_constraints_violated(p: CasePKI) -> Case:
    return _constrained(p, "www.example.org")


@_refused
def name_constraints_excluded(p: CasePKI) -> Case:
    return _constrained(p, "www.example.com", excluded=True)


@_refused
def expired_leaf(p: CasePKI) -> Case:
    return _leaf_case(p, True, valid=(-30, -1))


@_refused
def expired_intermediate(p: CasePKI) -> Case:
    return _int_case(p, True, valid=(-30, -1))


@_refused
def bad_signature(p: CasePKI) -> Case:
    # Names Int CA (name and key identifier) but another key signed it.
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(p.int_key.public_key())
    forged = make("forged.example", p.leaf_key, (p.int, p.other_key), aki=aki)
    return Case((p.root,), forged, (p.int,), forged)


@_refused
def untrusted_root_in_chain(p: CasePKI) -> Case:
    return Case((p.other_root,), p.leaf, (p.int, p.root), p.root)


@functools.lru_cache(maxsize=None)
def build(case: str) -> Case:
    """The case named ``case`` (of ``ACCEPTED`` or ``REFUSED``), made once per process."""
    return {**ACCEPTED, **REFUSED}[case](case_pki())
