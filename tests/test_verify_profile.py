"""The verification profile's machinery (``nettls.components._x509verify``), both verifiers.

The conformance suite checks the profile case by case on every component
(test_verify.py); the differential test compares the components on
generated chains. These tests pin what those do not reach: bounds that
FAIL at once with a reason naming them, what does not parse never being
OK, the diagnosis naming the certificate at fault within its own bound,
and the pyopenssl verifier's use of OpenSSL (DER in, private names pinned).
"""

from __future__ import annotations

import time
from typing import Any, Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID

from nettls import VerifyStatus
from nettls.components import _x509verify
from nettls.components._common.pem import certificate_pem
from nettls.components.pyopenssl import _verify as openssl_verify
from nettls.conformance.certbuild import CasePKI, case_pki, make
from nettls.conformance.verify_hostile import BOUNDED, PATHOLOGICAL, pathological

Verifier = Callable[[tuple[str, ...], x509.Certificate, list[x509.Certificate]], VerifyStatus]
#: The two verifiers: cryptography's (stdlib and the plugins) and OpenSSL's (pyopenssl).
VERIFIERS: dict[str, Verifier] = {"cryptography": _x509verify.verify_chain, "openssl": openssl_verify.verify_chain}
#: Generous: SPEC 6 asks for well under a second, and the benchmark holds that bound.
GENEROUS_SECONDS = 5.0


@pytest.fixture(scope="module")
def p() -> CasePKI:
    return case_pki()


@pytest.fixture(params=sorted(VERIFIERS))
def verify(request: pytest.FixtureRequest) -> Verifier:
    return VERIFIERS[request.param]


def roots(*certs: x509.Certificate) -> tuple[str, ...]:
    return tuple(certificate_pem(c) for c in certs)


def failed(status: VerifyStatus, culprit: x509.Certificate | None, *words: str) -> None:
    assert status.status == VerifyStatus.FAIL, "OK where the profile refuses"
    assert status.failedCertificate == (certificate_pem(culprit) if culprit is not None else None), status.failedReason
    for word in words:
        assert word in (status.failedReason or ""), status.failedReason


# -- what does not parse is never OK -----------------------------------------------------------


def _malformed(p: CasePKI, oid: x509.ObjectIdentifier, value: bytes, *, ca: bool = False) -> x509.Certificate:
    bad = x509.UnrecognizedExtension(oid, value)
    if ca:
        return make("Int CA", p.int_key, p.under_root(), ca=True, extra=((bad, False),))
    return make("bad.example.com", p.leaf_key, p.under_int(), san=None, extra=((bad, False),))


def test_a_leaf_extension_the_verifier_leaves_unread_must_still_parse(p: CasePKI, verify: Verifier) -> None:
    """The relaxed policy leaves the leaf's SAN unread: a SAN that does not parse is FAIL, not OK."""
    leaf = _malformed(p, ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x30\x03\x82\x01")  # a DNSName cut short
    failed(verify(roots(p.root), leaf, [p.int]), leaf, "does not parse")


def test_an_intermediate_extension_that_does_not_parse(p: CasePKI, verify: Verifier) -> None:
    inter = _malformed(p, ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x31\x00", ca=True)
    leaf = make("under.example.com", p.leaf_key, (inter, p.int_key))
    failed(verify(roots(p.root), leaf, [inter]), inter, "does not parse")


def test_a_store_certificate_that_does_not_parse(p: CasePKI, verify: Verifier) -> None:
    garbage = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    failed(verify((garbage,), p.leaf, [p.int]), None, "store certificate 0")


def test_an_empty_store(p: CasePKI, verify: Verifier) -> None:
    failed(verify((), p.leaf, [p.int]), None, "empty")


# -- bounds: FAIL at once, saying which -------------------------------------------------------


def _bounded(verify: Verifier, store: tuple[str, ...], leaf: x509.Certificate, chain: list[x509.Certificate]) -> VerifyStatus:
    started = time.monotonic()
    status = verify(store, leaf, chain)
    assert time.monotonic() - started < GENEROUS_SECONDS
    return status


def test_chain_length_bound(p: CasePKI, verify: Verifier) -> None:
    chain = [p.int] * (_x509verify.MAX_CHAIN_CERTIFICATES + 1)
    failed(_bounded(verify, roots(p.root), p.leaf, chain), None, f"at most {_x509verify.MAX_CHAIN_CERTIFICATES}")
    assert verify(roots(p.root), p.leaf, [p.int] * _x509verify.MAX_CHAIN_CERTIFICATES).status == VerifyStatus.OK


def test_depth_bound(p: CasePKI, verify: Verifier) -> None:
    made = pathological("chain_of_31")
    store, chain = roots(*made.store), list(made.chain)
    failed(_bounded(verify, store, made.leaf, chain), chain[-(_x509verify.MAX_INTERMEDIATES + 1)], "more than 8 intermediates")


@pytest.mark.parametrize("case", ["name_constraint_blowup", "deep_name_constraints"])
def test_names_times_constraints_bound(verify: Verifier, case: str) -> None:
    made = pathological(case)
    failed(_bounded(verify, roots(*made.store), made.leaf, list(made.chain)), made.leaf, "names x name constraints", "bound")


@pytest.mark.parametrize("case", ["self_issued_mesh", "two_level_mesh"])
def test_candidate_paths_bound(verify: Verifier, case: str) -> None:
    made = pathological(case)
    failed(_bounded(verify, roots(*made.store), made.leaf, list(made.chain)), made.leaf, "candidate paths", "bound")


def test_every_bounded_case_is_tested_here() -> None:
    here = {"chain_of_31", "name_constraint_blowup", "deep_name_constraints", "self_issued_mesh", "two_level_mesh"}
    assert BOUNDED - {"chain_of_5100", "chain_of_50"} == here  # the two long chains: the chain length bound
    assert BOUNDED <= set(PATHOLOGICAL)


def test_within_the_names_bound_constraints_are_checked(p: CasePKI, verify: Verifier) -> None:
    """Below the bound, name constraints run for real, and the diagnosis names the certificate."""
    nc = x509.NameConstraints([x509.DNSName("example.com")], None)
    inter = make("Int CA", p.int_key, p.under_root(), ca=True, extra=((nc, True),))
    names = [x509.DNSName(f"h{i}.example.com") for i in range(200)] + [x509.DNSName("x.example.org")]
    leaf = make("many.example.com", p.leaf_key, (inter, p.int_key), san=names)
    failed(_bounded(verify, roots(p.root), leaf, [inter]), leaf)


# -- path building and the diagnosis ------------------------------------------------------------


def test_duplicates_and_self_signed_copies_do_not_exhaust_the_search(p: CasePKI, verify: Verifier) -> None:
    """cryptography's search revisits certificates: copies of an untrusted root made it give up
    (its 128 signature checks) on a chain with a good path; they are left out of the search."""
    cross = make("Int CA", p.int_key, (p.other_root, p.other_key), ca=True)
    assert verify(roots(p.root), p.leaf, [cross, p.other_root] * 4 + [p.int]).status == VerifyStatus.OK


def test_the_diagnosis_reports_the_path_that_got_furthest(p: CasePKI) -> None:
    """Two candidates for Int CA: one with a bad signature on the leaf, one that
    chains up to an expired root; the expired root is the further failure."""
    old_root = make("Root CA", p.root_key, ca=True, valid=(-30, -1))
    stranger = make("Int CA", p.other_key, p.under_root(), ca=True)  # the right name, not the leaf's signer
    status = _x509verify.verify_chain(roots(old_root), p.leaf, [stranger, p.int])
    failed(status, old_root, "certificate has expired")


def test_the_diagnosis_is_bounded(p: CasePKI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Six issuers of the leaf, each with five candidate issuers of its own, none
    the signer: 36 signature checks to try them all; the diagnosis stops at MAX_LINKS."""
    from nettls.components._x509verify import _diagnose

    other_key = ec.generate_private_key(ec.SECP256R1())
    uppers = [make("Mesh J", ec.generate_private_key(ec.SECP256R1()), p.under_root(), ca=True) for _ in range(5)]
    lowers = [make("Mesh I", p.int_key, (uppers[0], other_key), ca=True) for _ in range(6)]
    leaf = make("mesh.example.com", p.leaf_key, (lowers[0], p.int_key))
    counted: list[int] = []
    link = _diagnose._Walk.link

    def counting(walk: Any, *args: Any) -> Any:
        counted.append(walk.links)
        return link(walk, *args)

    monkeypatch.setattr(_diagnose._Walk, "link", counting)
    status = _x509verify.verify_chain(roots(p.root), leaf, [*lowers, *uppers])
    assert status.status == VerifyStatus.FAIL and status.failedReason
    assert len(counted) == _x509verify.MAX_LINKS  # 36 to try: stopped by the bound


@pytest.mark.parametrize("case", sorted(PATHOLOGICAL))
def test_pathological_input_ends_in_bounded_time(verify: Verifier, case: str) -> None:
    made = pathological(case)
    status = _bounded(verify, roots(*made.store), made.leaf, list(made.chain))
    assert status.status == (VerifyStatus.OK if case == "thousands_of_sans" else VerifyStatus.FAIL), status.failedReason


# -- the OpenSSL verifier ------------------------------------------------------------------------


def test_openssl_gets_der_from_the_shared_parse_and_no_pem_hook(p: CasePKI) -> None:
    """No PEM hook is left: neither the session nor the pyopenssl component
    hands the caller's text to a library (SPEC 14)."""
    from nettls.components._common.session import TLSSession

    assert not hasattr(TLSSession, "_verify_pem")
    assert not hasattr(openssl_verify, "verify_pem")


def test_openssl_path_maps_back_by_the_private_x509_name(p: CasePKI) -> None:
    """pyOpenSSL's ``X509._x509`` (private) is how the path OpenSSL returns maps to
    nettls's certificates: the same OpenSSL object in every wrapper."""
    from OpenSSL import crypto

    store = openssl_verify.trust_store(roots(p.root))
    leaf, inter = openssl_verify._native(p.leaf), openssl_verify._native(p.int)
    found = crypto.X509StoreContext(store, leaf, [inter]).get_verified_chain()
    assert [openssl_verify._key(c) for c in found[:2]] == [openssl_verify._key(leaf), openssl_verify._key(inter)]
    assert openssl_verify._native(x509.load_der_x509_certificate(p.leaf.public_bytes(Encoding.DER))) is leaf  # by DER


def test_openssl_takes_the_profiles_path_when_its_own_fails(p: CasePKI) -> None:
    """OpenSSL keeps the first issuer it finds; given the profile's path, it checks that one."""
    cross = make("Int CA", p.int_key, (p.other_root, p.other_key), ca=True)
    assert openssl_verify.verify_chain(roots(p.root), p.leaf, [cross, p.int]).status == VerifyStatus.OK


def test_profile_line_names_the_bounds() -> None:
    assert "SHA-1" in _x509verify.PROFILE and str(_x509verify.MAX_CHAIN_CERTIFICATES) in _x509verify.PROFILE

