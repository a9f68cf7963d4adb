"""Hostile input for ``verifyCertificate``: crafted PEM, and chains built to cost.

``crafted_pem()``: PEM text built on the differences between PEM readers
(issue 19, finding 2): wrong labels, markers in mid-line, junk between
blocks, base64 with non-zero trailing bits, DER with bytes after it, two
leaves. Each ``Crafted`` says which certificates each reader finds first
(``readings``): a verifier may answer OK only if every reader finds the
leaf the trusted CA signed, so an application reading the text with
another parser never reads what nobody verified.

``PATHOLOGICAL``: chains and certificates made to cost (5,100 certificates,
thousands of names, deep name constraints, cycles, candidate-path meshes).
Each must FAIL, or pass, well under a second on every component (SPEC 6
and 14); ``python -m bench verify --pathological`` times them.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from OpenSSL import crypto

from .certbuild import CasePKI, case_pki, make
from .verify_cases import Case

__all__ = ["Crafted", "crafted_pem", "PATHOLOGICAL", "BOUNDED", "pathological"]


# -- crafted PEM ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Crafted:
    """``leaf`` and ``chain`` as the caller passes them, against a store of ``store``."""

    store: list[str]
    leaf: str
    chain: list[str]
    victim: bytes  # DER of the leaf the trusted CA signed

    def readings(self) -> set[bytes]:
        """DER of the first certificate each PEM reader finds in ``leaf``
        (cryptography's, OpenSSL's): those that find one."""
        found = set()
        data = self.leaf.encode("ascii")
        try:
            found.add(x509.load_pem_x509_certificates(data)[0].public_bytes(serialization.Encoding.DER))
        except ValueError:
            pass
        try:
            native = crypto.load_certificate(crypto.FILETYPE_PEM, data)
            found.add(crypto.dump_certificate(crypto.FILETYPE_ASN1, native))
        except crypto.Error:
            pass
        return found


def _armour(der: bytes, label: str = "CERTIFICATE") -> str:
    body = base64.b64encode(der).decode("ascii")
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN {label}-----\n{lines}\n-----END {label}-----\n"


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _noncanonical(der: bytes) -> str:
    """``der`` armoured with a non-zero spare bit in its last base64 digit
    (a lax decoder drops it and reads ``der``; a strict one refuses)."""
    body = base64.b64encode(der).decode("ascii")
    last = len(body.rstrip("=")) - 1
    assert last < len(body) - 1, "needs a DER length that is not a multiple of 3 (padding holds the spare bits)"
    body = body[:last] + _DIGITS[_DIGITS.index(body[last]) + 1] + body[last + 1 :]
    lines = "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return f"-----BEGIN CERTIFICATE-----\n{lines}\n-----END CERTIFICATE-----\n"


def _padded_leaf(p: CasePKI) -> x509.Certificate:
    """A good leaf whose DER length is not a multiple of 3."""
    for n in range(1, 16):  # a longer name, or another ECDSA signature length, moves it
        leaf = make("padded" + "x" * n + ".example.com", p.leaf_key, p.under_int())
        if len(_der(leaf)) % 3:
            return leaf
    raise AssertionError("every DER length tried was a multiple of 3")


@functools.lru_cache(maxsize=1)
def crafted_pem() -> dict[str, Crafted]:
    """The crafted cases, by name (made once per process)."""
    p = case_pki()
    attacker = make("attacker.example", p.leaf_key, (p.int, p.other_key))  # claims Int CA; Int CA never signed it
    victim, bad, inter = _der(p.leaf), _der(attacker), _der(p.int)
    store = [_armour(_der(p.root))]

    def case(leaf: str, chain: list[str] | None = None, signed: bytes = victim) -> Crafted:
        return Crafted(store, leaf, [_armour(inter)] if chain is None else chain, signed)

    padded = _der(_padded_leaf(p))

    return {
        "midline_begin_then_x509_label": case("junk" + _armour(bad) + _armour(victim, "X509 CERTIFICATE")),
        "x509_label": case(_armour(victim, "X509 CERTIFICATE")),
        "x509_label_then_attacker": case(_armour(victim, "X509 CERTIFICATE") + _armour(bad)),
        "midline_begin": case("junk" + _armour(victim)),
        "begin_after_text_on_its_line": case("x " + _armour(bad) + _armour(victim)),
        "junk_between_chain_blocks": case(_armour(victim), ["junk\n" + _armour(inter) + "more junk\n"]),
        "junk_between_leaf_blocks": case(_armour(victim) + "junk\n" + _armour(bad)),
        "noncanonical_base64": case(_noncanonical(padded), signed=padded),
        "trailing_der_bytes": case(_armour(victim + b"\x00\x00")),
        "trailing_der_bytes_x509_label": case(_armour(victim + bad, "X509 CERTIFICATE")),
        "trailing_attacker_der": case(_armour(victim + bad)),
        "two_leaves_attacker_first": case(_armour(bad) + _armour(victim)),
        "two_leaves_victim_first": case(_armour(victim) + _armour(bad)),
        "attacker_in_chain_entry_label": case(_armour(bad), [_armour(inter, "X509 CERTIFICATE")]),
    }


# -- chains made to cost -----------------------------------------------------------------------

PATHOLOGICAL: dict[str, Callable[[CasePKI], Case]] = {}
#: The cases that must FAIL on a bound of nettls's own (the rest FAIL, or pass, on their merits).
BOUNDED = frozenset(
    {"chain_of_5100", "chain_of_50", "chain_of_31", "name_constraint_blowup", "deep_name_constraints", "self_issued_mesh", "two_level_mesh"}
)


def _hostile(func: Callable[[CasePKI], Case]) -> Callable[[CasePKI], Case]:
    PATHOLOGICAL[func.__name__] = func
    return func


def pathological(name: str) -> Case:
    """The named case, made once per process."""
    return _made(name)


@functools.lru_cache(maxsize=None)
def _made(name: str) -> Case:
    return PATHOLOGICAL[name](case_pki())


def _line(p: CasePKI, count: int) -> Case:
    """``count`` CAs in one line under the root (top first in the chain), the leaf under the last."""
    signer, chain = (p.root, p.root_key), []
    for i in range(count):
        cert = make(f"Line CA {i}", p.int_key, signer, ca=True)
        chain.append(cert)
        signer = (cert, p.int_key)
    return Case((p.root,), make("line.example", p.leaf_key, signer), tuple(chain))


@_hostile
def chain_of_5100(p: CasePKI) -> Case:
    return _line(p, 5100)


@_hostile
def chain_of_50(p: CasePKI) -> Case:
    return _line(p, 50)


@_hostile
def chain_of_31(p: CasePKI) -> Case:
    return _line(p, 31)


@_hostile
def thousands_of_sans(p: CasePKI) -> Case:
    names = [x509.DNSName(f"host{i}.example.com") for i in range(5000)]
    return Case((p.root,), make("many.example.com", p.leaf_key, p.under_int(), san=names), (p.int,))


def _constrained_int(p: CasePKI, subtrees: int, label: str = "Int CA", signer: tuple[x509.Certificate, object] | None = None) -> x509.Certificate:
    permitted = [x509.DNSName(f"zone{i}.example.net") for i in range(subtrees - 1)] + [x509.DNSName("example.com")]
    nc = x509.NameConstraints(permitted, None)
    return make(label, p.int_key, signer or p.under_root(), ca=True, extra=((nc, True),))


@_hostile
def name_constraint_blowup(p: CasePKI) -> Case:
    inter = _constrained_int(p, 1024)
    # A thousand names against a thousand constraints, the last name outside them all.
    names = [x509.DNSName(f"host{i}.example.com") for i in range(1023)] + [x509.DNSName("outside.example.org")]
    return Case((p.root,), make("blowup.example.com", p.leaf_key, (inter, p.int_key), san=names), (inter,))


@_hostile
def deep_name_constraints(p: CasePKI) -> Case:
    signer, chain = p.under_root(), []
    for i in range(8):
        cert = _constrained_int(p, 64, f"Constrained CA {i}", signer)
        chain.append(cert)
        signer = (cert, p.int_key)
    names = [x509.DNSName(f"host{i}.example.com") for i in range(127)] + [x509.DNSName("outside.example.org")]
    return Case((p.root,), make("deep.example.com", p.leaf_key, signer, san=names), tuple(chain))


@_hostile
def self_signed_copies(p: CasePKI) -> Case:
    loop = [make("Loop CA", p.int_key, None, ca=True) for _ in range(31)]
    return Case((p.root,), make("loop.example", p.leaf_key, (loop[0], p.int_key)), tuple(loop))


@_hostile
def self_issued_mesh(p: CasePKI) -> Case:
    # Self-issued (same name) but naming another key, as rollover certificates do: each may issue every other.
    base = make("Loop CA", p.other_key, ca=True)
    loop = [make("Loop CA", p.int_key, (base, p.other_key), ca=True) for _ in range(31)]
    return Case((p.root,), make("loop.example", p.leaf_key, (loop[0], p.int_key)), tuple(loop))


@_hostile
def cross_signed_cycle(p: CasePKI) -> Case:
    a = make("Cycle A", p.int_key, (make("Cycle B", p.other_key, ca=True), p.other_key), ca=True)
    b = make("Cycle B", p.other_key, (a, p.int_key), ca=True)
    return Case((p.root,), make("cycle.example", p.leaf_key, (a, p.int_key)), (a, b))


@_hostile
def two_level_mesh(p: CasePKI) -> Case:
    uppers = [make("Mesh J", p.other_key, p.under_root(), ca=True, valid=(-30, -1)) for _ in range(15)]
    lowers = [make("Mesh I", p.int_key, (uppers[0], p.other_key), ca=True) for _ in range(16)]
    return Case((p.root,), make("mesh.example", p.leaf_key, (lowers[0], p.int_key)), (*lowers, *uppers))
