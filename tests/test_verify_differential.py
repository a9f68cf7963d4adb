"""Every component's ``verifyCertificate`` against SPEC 6's profile, on generated chains.

hypothesis draws a hierarchy (0 to 9 intermediates), and for every
certificate in it each extension the profile judges (present, absent,
critical or not, and of which value), the key type and size, the
signature hash, serial number, version and validity; then how the chain
is presented (any order, the leaf or root in it, duplicates, strangers,
an expired twin, a cross-signed twin) and what the store holds. Every
registered TLS component verifies it, and must give the profile's verdict:

- the reference is cryptography's client verifier with the web PKI's
  policies relaxed on EKU and SAN only, and the SPEC's added rules (keys,
  serial zero, SHA-1, an empty subject's critical SAN) checked here on the
  path it returns, in code independent of nettls's;
- a component may differ only where its deviation table says so, and
  ``OPENSSL_DIFFERENCES`` names each such chain by what makes it differ.

The examples are derandomized and bounded (``EXAMPLES``), so a run takes
seconds and every run draws the same chains.

The crafted PEM of ``verify_hostile.crafted_pem`` (issue 19, finding 2)
goes through every component too: one verdict everywhere, and never OK
when two PEM readers would read two different leaves.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, SignatureAlgorithmOID
from cryptography.x509.verification import Criticality, ExtensionPolicy, PolicyBuilder, Store, VerificationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nettls
from nettls import VerifyStatus
from nettls.components.pyopenssl._verify import DEVIATIONS as OPENSSL_DEVIATIONS
from nettls.conformance.certbuild import CA_KU, LEAF_KU, UNKNOWN, CasePKI, case_pki, make, resign
from nettls.conformance.verify_hostile import crafted_pem

#: Generated chains per run: hundreds, in well under a minute.
EXAMPLES = 400
COMPONENTS = nettls.registry.providers("net.TLS")

# -- drawing a hierarchy ---------------------------------------------------------------------------

_KEYS = ("ec", "ec", "ec", "ec", "rsa", "rsa1024", "p192", "secp256k1", "ed25519", "dsa")
_EKUS = {
    "server": [ExtendedKeyUsageOID.SERVER_AUTH],
    "client": [ExtendedKeyUsageOID.CLIENT_AUTH],
    "code": [ExtendedKeyUsageOID.CODE_SIGNING],
    "any": [ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE],
}
_POLICIES = x509.CertificatePolicies([x509.PolicyInformation(x509.ObjectIdentifier("2.5.29.32.0"), None)])


@dataclass
class Drawn:
    """What was drawn for one certificate (``None``: the builder's default)."""

    key: str = "ec"
    bc: str = "default"  # default, absent, noncritical, false
    pathlen: int | None = None
    ku: str = "default"  # default, absent, noncritical, swapped (a CA's for a leaf, a leaf's for a CA)
    eku: str | None = None  # None (the builder's default), "none", or a key of _EKUS
    eku_critical: bool = False
    san: str = "default"  # default, absent, critical, ip, underscore
    ski: str = "present"  # present, absent, critical
    aki: str = "default"  # default, absent, mismatch, critical
    nc: str = "absent"  # absent, permitted, excluded, elsewhere
    nc_critical: bool = True
    unknown: str = "absent"  # absent, critical, noncritical
    policies: str = "absent"  # absent, critical, noncritical
    validity: str = "valid"  # valid, expired, future
    edit: str = "none"  # none, sha1, serial_zero
    empty_subject: bool = False


#: The unusual values of each field of ``Drawn``.
_UNUSUAL: dict[str, tuple[Any, ...]] = {
    "key": _KEYS[4:],
    "bc": ("absent", "noncritical", "false"),
    "pathlen": (0, 1, 3),
    "ku": ("absent", "noncritical", "swapped"),
    "eku": ("none", *_EKUS),
    "eku_critical": (True,),
    "san": ("absent", "critical", "ip", "underscore"),
    "ski": ("absent", "critical"),
    "aki": ("absent", "mismatch", "critical"),
    "nc": ("permitted", "excluded", "elsewhere"),
    "nc_critical": (False,),
    "unknown": ("critical", "noncritical"),
    "policies": ("critical", "noncritical"),
    "validity": ("expired", "future"),
    "edit": ("sha1", "serial_zero"),
    "empty_subject": (True,),
}
#: Fields that only mean something for a CA, or only for the leaf.
_CA_ONLY, _LEAF_ONLY = {"pathlen", "nc", "nc_critical"}, {"empty_subject"}


def _drawn(draw: Any, ca: bool, rate: int) -> Drawn:
    """One certificate's choices: each field unusual with probability ``rate``/40."""
    d = Drawn()
    for name in _UNUSUAL:
        if name not in (_LEAF_ONLY if ca else _CA_ONLY) and draw(st.integers(0, 39)) >= 40 - rate:
            _unusual(draw, d, name)
    return d


def _unusual(draw: Any, d: Drawn, name: str) -> None:
    setattr(d, name, draw(st.sampled_from(_UNUSUAL[name])))


def _key(pki: CasePKI, kind: str, own: Any) -> Any:
    """The key of ``kind``: the certificate's own key for "ec" (distinct per level), else from the pool."""
    return {"ec": own, "rsa": pki.rsa_key, **pki.weak_keys, **pki.odd_keys}[kind]


def _issue(pki: CasePKI, cn: str | None, d: Drawn, own_key: Any, signer: tuple[x509.Certificate, Any] | None, ca: bool) -> tuple[x509.Certificate, Any]:
    key = _key(pki, d.key, own_key)
    issuer_key = signer[1] if signer else key
    kwargs: dict[str, Any] = {"ca": ca and d.bc != "false", "pathlen": d.pathlen}
    if d.bc == "absent":
        kwargs["bc"] = None
    kwargs["bc_critical"] = d.bc != "noncritical"
    if d.ku == "absent":
        kwargs["ku"] = None
    elif d.ku == "swapped":
        kwargs["ku"] = LEAF_KU if ca else CA_KU
    kwargs["ku_critical"] = d.ku != "noncritical"
    if d.eku is not None:
        kwargs["eku"] = None if d.eku == "none" else _EKUS[d.eku]
    kwargs["eku_critical"] = d.eku_critical
    host = cn or "anon.example.com"
    kwargs["san"] = {
        "default": None if ca else [x509.DNSName(host)],
        "absent": None,
        "critical": [x509.DNSName(host)],
        "ip": [x509.IPAddress(ipaddress.ip_address("192.0.2.7"))],
        "underscore": [x509.DNSName("under_score." + host)],
    }[d.san]
    kwargs["san_critical"] = d.san == "critical" or d.empty_subject
    kwargs["ski"] = d.ski != "absent"
    kwargs["ski_critical"] = d.ski == "critical"
    if d.aki == "absent":
        kwargs["aki"] = None
    elif d.aki == "mismatch":
        kwargs["aki"] = x509.AuthorityKeyIdentifier.from_issuer_public_key(pki.other_key.public_key())
    kwargs["aki_critical"] = d.aki == "critical"
    extra: list[tuple[x509.ExtensionType, bool]] = []
    subtrees = {"permitted": ([x509.DNSName("example.com")], None), "excluded": (None, [x509.DNSName("example.com")])}
    subtrees["elsewhere"] = ([x509.DNSName("example.net")], None)
    if d.nc in subtrees:
        extra.append((x509.NameConstraints(*subtrees[d.nc]), d.nc_critical))
    if d.unknown != "absent":
        extra.append((UNKNOWN, d.unknown == "critical"))
    if d.policies != "absent":
        extra.append((_POLICIES, d.policies == "critical"))
    kwargs["extra"] = tuple(extra)
    kwargs["valid"] = {"valid": (-1, 365), "expired": (-30, -1), "future": (2, 30)}[d.validity]
    cert = make(cn, key, signer, **kwargs)
    if d.edit != "none" and isinstance(issuer_key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        cert = resign(cert, issuer_key, sha1=d.edit == "sha1", serial_zero=d.edit == "serial_zero")
    return cert, key


@dataclass
class Drawing:
    """A generated verification: the certificates, and what the drawing contains."""

    store: list[x509.Certificate]
    leaf: x509.Certificate
    chain: list[x509.Certificate]
    notes: set[str] = field(default_factory=set)  # features OPENSSL_DIFFERENCES may name

    def pems(self) -> tuple[list[str], str, list[str]]:
        def pem(cert: x509.Certificate) -> str:
            return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")

        return [pem(c) for c in self.store], pem(self.leaf), [pem(c) for c in self.chain]


def _reissue(pki: CasePKI, levels: list[tuple[x509.Certificate, Any, Drawn]], start: int) -> list[tuple[x509.Certificate, Any, Drawn]]:
    """``levels`` issued again from ``start`` down, as now drawn."""
    kept = levels[:start]
    for i in range(start, len(levels)):
        cert, key, d = levels[i]
        signer = kept[-1][:2] if kept else None
        own = key if d.key == "ec" else (pki.root_key if i == 0 else ec.generate_private_key(ec.SECP256R1()))
        cn = cert.subject.rfc4514_string()[3:]
        cert, key = _issue(pki, cn, d, own, signer, ca=True)
        kept.append((cert, key, d))
    return kept


@st.composite
def drawings(draw: Any) -> Drawing:
    pki = case_pki()
    rate = draw(st.sampled_from([0, 0, 1, 2, 4]))  # how unusual this drawing is: 0, just one thing
    depth = draw(st.sampled_from([0, 1, 1, 1, 2, 2, 3, 8, 9]))
    root_d = _drawn(draw, ca=True, rate=rate)
    root, root_key = _issue(pki, "Root CA", root_d, pki.root_key, None, ca=True)
    levels: list[tuple[x509.Certificate, Any, Drawn]] = [(root, root_key, root_d)]
    for i in range(depth):
        d = _drawn(draw, ca=True, rate=rate)
        own = ec.generate_private_key(ec.SECP256R1()) if i else pki.int_key
        cert, key = _issue(pki, f"CA {i}", d, own, levels[-1][:2], ca=True)
        levels.append((cert, key, d))
    leaf_d = _drawn(draw, ca=False, rate=rate)
    if rate == 0:  # exactly one thing unusual, anywhere
        where = draw(st.integers(0, len(levels)))
        ca = where < len(levels)
        name = draw(st.sampled_from(sorted(set(_UNUSUAL) - (_LEAF_ONLY if ca else _CA_ONLY))))
        _unusual(draw, levels[where][2] if ca else leaf_d, name)
        if ca:  # issue that level again, and everything under it
            levels = _reissue(pki, levels, where)
    cn = None if leaf_d.empty_subject else draw(st.sampled_from(["host.example.com", "host.example.org"]))
    leaf, _ = _issue(pki, cn, leaf_d, pki.leaf_key, levels[-1][:2], ca=False)
    drawing = Drawing([root], leaf, [c for c, _, _ in reversed(levels[1:])])
    for role, d in [*(("ca", d) for _, _, d in levels), ("leaf", leaf_d)]:
        drawing.notes |= {f"{role} {name}:{getattr(d, name)}" for name in ("aki", "ski", "nc", "san")}
    _present(draw, pki, drawing, levels)
    return drawing


def _present(draw: Any, pki: CasePKI, drawing: Drawing, levels: list[tuple[x509.Certificate, Any, Drawn]]) -> None:
    """How the chain arrives and what the store holds."""
    chain = drawing.chain
    if levels[1:] and draw(st.integers(0, 4)) == 4:  # a twin of the top intermediate, cross-signed by a stranger
        top, top_key, _ = levels[1]
        twin = make(top.subject.rfc4514_string()[3:], top_key, (pki.other_root, pki.other_key), ca=True)
        chain.insert(draw(st.integers(0, len(chain))), twin)
        drawing.notes.add("cross-signed twin")
    if levels[1:] and draw(st.integers(0, 4)) == 4:  # an expired twin of the lowest intermediate
        low, low_key = levels[-1][:2]
        upper = levels[-2][:2]
        twin = make(low.subject.rfc4514_string()[3:], low_key, upper, ca=True, valid=(-30, -1))
        chain.insert(draw(st.integers(0, len(chain))), twin)
        drawing.notes.add("expired twin")
    if draw(st.booleans()):
        chain[:] = draw(st.permutations(chain))
    extras = draw(st.lists(st.sampled_from(["leaf", "root", "duplicate", "stranger"]), max_size=2))
    for extra in extras:
        chain.append({"leaf": drawing.leaf, "root": drawing.store[0], "stranger": pki.other_root}.get(extra) or (chain or [pki.leaf])[0])
    store = draw(st.sampled_from(["root"] * 7 + ["other", "root+int", "int"]))
    if store == "other":
        drawing.store = [pki.other_root]
    elif store == "root+int" and levels[1:]:
        drawing.store = [drawing.store[0], levels[1][0]]
    elif store == "int" and levels[1:]:
        drawing.store = [levels[-1][0]]
    drawing.notes.add(f"store:{store}")


# -- the reference ---------------------------------------------------------------------------------

_EE = (
    ExtensionPolicy.webpki_defaults_ee()
    .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None)
    .may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
)
_CA = ExtensionPolicy.webpki_defaults_ca().may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, None)
_WEAK = {SignatureAlgorithmOID.RSA_WITH_SHA1, SignatureAlgorithmOID.ECDSA_WITH_SHA1, SignatureAlgorithmOID.RSA_WITH_MD5}


def _self_signed(cert: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # another issuer's name, another key's signature, or a key that cannot verify
        return False
    return True


def reference(drawing: Drawing) -> bool:
    """The profile's verdict: cryptography's relaxed client verifier, then SPEC 6's additions."""
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = PolicyBuilder().store(Store(drawing.store)).time(now).extension_policies(ee_policy=_EE, ca_policy=_CA)
    # Duplicates and self-signed certificates cannot be links of a path: the profile builds paths without them.
    links = [c for c in dict.fromkeys(drawing.chain) if c != drawing.leaf and not _self_signed(c)]
    try:
        path = builder.build_client_verifier().verify(drawing.leaf, links).chain
    except VerificationError:
        return False
    for i, cert in enumerate(path):
        key = cert.public_key()
        if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
            return False
        if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < 256:
            return False
        if isinstance(key, dsa.DSAPublicKey):
            return False
        anchor = i == len(path) - 1
        if not anchor and (cert.serial_number == 0 or cert.signature_algorithm_oid in _WEAK):
            return False
    if len(drawing.leaf.subject) == 0:
        try:
            san = drawing.leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        except x509.ExtensionNotFound:
            return False
        return san.critical
    return True


def verdicts(drawing: Drawing) -> dict[str, VerifyStatus]:
    """Each component's answer; a FAIL must say why and name a certificate it was given (or none)."""
    store_pems, leaf, chain = drawing.pems()
    given = {leaf, *chain, *store_pems}
    found = {}
    for name in COMPONENTS:
        store = nettls.resolve("net.TLSCertStore", component=name)()
        for pem in store_pems:
            assert store.addCertificate(pem) is True
        context = nettls.resolve("net.TLSContext", component=name)
        result = nettls.resolve("net.TLS", component=name)(context(context.CLIENT)).verifyCertificate(store, leaf, chain)
        if result.status != result.OK:
            assert result.failedReason, f"{name}: FAIL without a reason"
            assert result.failedCertificate in given | {None}, f"{name}: FAIL names a certificate it was not given"
        found[name] = result
    return found


#: Where OpenSSL (pyopenssl) cannot reach the profile's verdict: the entry of its deviation
#: table, and what a drawing holds when that entry explains a difference.
OPENSSL_DIFFERENCES: dict[str, Callable[[Drawing], bool]] = {
    "6.verify-ok:profile_accepts[aki_mismatch]": lambda d: bool(d.notes & {"ca aki:mismatch", "leaf aki:mismatch"}),
    "6.verify-ok:profile_accepts[name_constraints_leaf_cn]": lambda d: any(n.startswith("ca nc:") and not n.endswith(":absent") for n in d.notes)
    and bool(d.notes & {"leaf san:absent", "leaf san:ip"}),
    "6.verify-ok:profile_accepts[intermediate_without_ski]": lambda d: "ca ski:absent" in d.notes,
    "6.verify-ok:profile_accepts[root_without_ski_or_aki]": lambda d: "ca ski:absent" in d.notes,
    "6.verify-ok:profile_accepts[intermediate_without_aki]": lambda d: "ca aki:absent" in d.notes,
    "6.verify-ok:profile_accepts[leaf_critical_ski]": lambda d: "leaf ski:critical" in d.notes,
}


def test_openssl_differences_are_deviations() -> None:
    assert set(OPENSSL_DIFFERENCES) <= set(OPENSSL_DEVIATIONS), "a difference allowed here is not in the table"


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(drawings())
def test_every_component_gives_the_profiles_verdict(drawing: Drawing) -> None:
    """The profile's verdict everywhere; on FAIL, the same certificate at fault everywhere."""
    expected = reference(drawing)
    found = verdicts(drawing)
    explained = any(explains(drawing) for explains in OPENSSL_DIFFERENCES.values())
    wrong = {name: result.status == result.OK for name, result in found.items() if (result.status == result.OK) != expected}
    if expected and explained:  # OpenSSL refusing what the profile accepts, as its table says; never the reverse
        wrong.pop("pyopenssl", None)
    assert not wrong, f"profile says {'OK' if expected else 'FAIL'}; differing: {wrong}; drawing: {sorted(drawing.notes)}"
    culprits = {name: result.failedCertificate for name, result in found.items() if not (explained and name == "pyopenssl")}
    if not expected:
        assert len(set(culprits.values())) == 1, f"the certificate at fault differs: {sorted(drawing.notes)}"


# -- crafted PEM: one parse, one verdict (issue 19, finding 2) -----------------------------------


@pytest.mark.parametrize("case", sorted(crafted_pem()))
def test_crafted_pem_gets_one_verdict_everywhere(case: str) -> None:
    """PEM built on the differences between readers gets the same verdict from
    every component, and OK only when every reader finds the leaf the trusted CA signed."""
    crafted = crafted_pem()[case]
    found = {}
    for name in COMPONENTS:
        store = nettls.resolve("net.TLSCertStore", component=name)()
        for pem in crafted.store:
            assert store.addCertificate(pem) is True
        context = nettls.resolve("net.TLSContext", component=name)
        session = nettls.resolve("net.TLS", component=name)(context(context.CLIENT))
        found[name] = session.verifyCertificate(store, crafted.leaf, crafted.chain).status
    assert len(set(found.values())) == 1, f"{case}: {found}"
    if VerifyStatus.OK in found.values():
        assert crafted.readings() == {crafted.victim}, f"{case}: OK, but a PEM reader finds another certificate"
