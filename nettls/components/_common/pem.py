"""PEM: the one strict parser every component reads caller input through.

SPEC 14: PEM is parsed once, here, and libraries receive DER, or PEM
re-encoded from it, never the caller's text (two parsers reading one text
two ways is how a chain gets verified as one thing and used as another).
Certificates are kept as canonical PEM text (what ``cryptography`` writes),
private keys as unencrypted PKCS#8 PEM, so that a context or store made by
one component can be read by a session of any other (SPEC section 8).

The rules, for every PEM text a call takes:

- a block is a ``-----BEGIN <label>-----`` line, base64, and the matching
  ``-----END <label>-----`` line; each marker starts its line and only
  spaces, tabs or CR may follow it on that line;
- any other line that holds ``-----BEGIN`` or ``-----END`` is refused
  (a marker in mid-line is read by some libraries and not by others);
- the body is canonical base64 (no other characters than whitespace,
  padding exactly where the length needs it, unused bits zero), without
  RFC 1421 headers (``Proc-Type: 4,ENCRYPTED`` gets its own reason);
- the DER of a certificate or key ends exactly where its outer SEQUENCE
  ends, its length in DER's minimal form;
- a certificate block's label is exactly ``CERTIFICATE``; a key's is
  ``PRIVATE KEY`` (PKCS#8), ``RSA PRIVATE KEY`` (PKCS#1) or ``EC PRIVATE
  KEY`` (SEC1; an ``EC PARAMETERS`` block before it is allowed, as
  ``openssl ecparam -genkey`` writes one), and the DER must be that format;
- outside the blocks there is only whitespace, except in files
  (``file_certificates``, ``file_private_key``: trust bundles, key files),
  where lines without a marker are explanatory text (certifi's comments,
  ``openssl pkcs12``'s "Bag Attributes") and blocks of other labels are
  skipped;
- one text is at most ``limits.MAX_PEM_BYTES``; a file is bounded by its
  reader. The scan is linear: each marker is looked at once.

Every failure is a ``CertificateError`` that says what was wrong and where
(a line number), and never quotes the input: a key's text must not reach a
message or a log (SPEC 14).
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from nettls.interfaces import CertificateError

from . import limits

__all__ = [
    "PEM_BEGIN",
    "LimitError",
    "PemBlock",
    "as_bytes",
    "read_blocks",
    "certificate_ders",
    "parse_certificates",
    "parse_certificate",
    "parse_private_key",
    "parse_encrypted_private_key",
    "file_certificates",
    "file_private_key",
    "certificate_pem",
    "key_pem",
    "der_to_pem",
    "pem_to_der",
    "check_key_matches",
    "subject_text",
    "private_file",
]

#: The line a PEM certificate begins with.
PEM_BEGIN = b"-----BEGIN CERTIFICATE-----"

_CERTIFICATE = "CERTIFICATE"
#: The private-key labels taken, and the format each must hold.
_KEY_FORMATS = {"PRIVATE KEY": "PKCS#8", "RSA PRIVATE KEY": "PKCS#1", "EC PRIVATE KEY": "SEC1"}
_ENCRYPTED_KEY = "ENCRYPTED PRIVATE KEY"
_EC_PARAMETERS = "EC PARAMETERS"
_ENCRYPTED_REASON = (
    "is encrypted; setCertificate takes unencrypted keys only (SPEC 8): decrypt it first, "
    "for example with 'openssl pkey -in key.pem -out plain-key.pem', or give a PKCS#8 encrypted "
    "key and its password to setCertificateWithPassword (IEncryptedKeys)"
)

#: Where a marker may start: every place another parser could see one.
_MARKER = re.compile(rb"-----(?:BEGIN|END)")
#: A whole marker line (RFC 7468 labels, as the ones used are spelt).
_MARKER_LINE = re.compile(rb"-----(BEGIN|END) ([A-Z0-9]+(?: [A-Z0-9]+)*)-----")
_LINE_END = b" \t\r"  # what may follow a marker on its line
_BODY_SPACE = b" \t\r\n"  # what a body may hold besides base64


class LimitError(CertificateError):
    """Input over one of the documented limits (``limits.py``): refused
    before it is parsed. A store logs these rather than failing quietly."""


@dataclass(frozen=True, repr=False)
class PemBlock:
    """One PEM block: its label, its decoded DER, the line its BEGIN is on."""

    label: str
    der: bytes
    line: int

    def pem(self) -> str:
        """The block re-encoded: canonical PEM text with the same label."""
        return _armour(self.label, self.der)

    def __repr__(self) -> str:  # never the DER: it may be a key
        return f"<PEM {self.label} block at line {self.line}, {len(self.der)} bytes>"


def as_bytes(data: object, what: str, limit: int = limits.MAX_PEM_BYTES) -> bytes:
    """``data`` (str or bytes-like) as bytes; else CertificateError naming
    ``what``; LimitError when it is over ``limit`` bytes."""
    if isinstance(data, (str, bytes, bytearray)):
        size = len(data)
    elif isinstance(data, memoryview):
        size = data.nbytes
    else:
        raise CertificateError(f"{what} must be PEM text (str or bytes), not {type(data).__name__}")
    if size > limit:
        raise LimitError(f"{what} is {size} bytes, over the limit of {limit} bytes for one PEM text")
    if isinstance(data, str):
        try:
            return data.encode("ascii")
        except UnicodeEncodeError:
            raise CertificateError(f"{what} is not PEM: it holds non-ASCII text") from None
    return bytes(data)


def read_blocks(data: object, what: str, *, text_between: bool = False, limit: int = limits.MAX_PEM_BYTES) -> list[PemBlock]:
    """Every PEM block of ``data``, in order, by the rules of this module.

    ``text_between`` lets lines without a marker stand outside the blocks
    (a file's explanatory text); otherwise only whitespace may.
    """
    raw = as_bytes(data, what, limit)
    blocks: list[PemBlock] = []
    line = 1  # the line number at ``done``
    done = 0  # where the text not yet looked at starts (always a line start)
    opened: tuple[str, int, int] | None = None  # label, line, where the body starts
    for hit in _MARKER.finditer(raw):
        start = hit.start()
        line += raw.count(b"\n", done, start)
        newline = raw.rfind(b"\n", done, start)
        if start != (done if newline < 0 else newline + 1):
            raise CertificateError(f"{what}: line {line} has a PEM marker that does not start the line")
        stop = raw.find(b"\n", start)
        stop = len(raw) if stop < 0 else stop
        marker = _MARKER_LINE.fullmatch(raw[start:stop].rstrip(_LINE_END))
        if marker is None:
            raise CertificateError(f"{what}: line {line} is not a well-formed PEM BEGIN or END line")
        kind, label = marker.group(1), marker.group(2).decode("ascii")
        if opened is None:
            if kind == b"END":
                raise CertificateError(f"{what}: line {line} ends a PEM block that was never begun")
            _outside(raw[done:start], what, line, text_between)
            opened = (label, line, stop + 1)
        else:
            if kind == b"BEGIN":
                raise CertificateError(f"{what}: line {line} begins a PEM block inside the one begun at line {opened[1]}")
            if label != opened[0]:
                raise CertificateError(f"{what}: line {line} ends a {label} block, but a {opened[0]} block was begun at line {opened[1]}")
            blocks.append(PemBlock(label, _body(raw[opened[2] : start], what, label, opened[1]), opened[1]))
            opened = None
        done = stop + 1
        line += 1
    if opened is not None:
        raise CertificateError(f"{what}: the {opened[0]} block begun at line {opened[1]} has no END line")
    if blocks and done < len(raw):  # without a block, the caller's "no BEGIN line" says more
        _outside(raw[done:], what, line, text_between)
    return blocks


def _outside(text: bytes, what: str, line: int, text_between: bool) -> None:
    """Check what stands between blocks; ``line`` is where ``text`` starts or ends."""
    if not text_between and text.strip():
        raise CertificateError(f"{what}: text outside the PEM blocks (near line {line}); only whitespace may surround them")


def _body(text: bytes, what: str, label: str, line: int) -> bytes:
    """The DER of a block body, which must be canonical base64."""
    if b":" in text:
        headers = text.split(b"\n\n", 1)[0]
        if label.endswith("PRIVATE KEY") and b"Proc-Type:" in headers and b"ENCRYPTED" in headers:
            raise CertificateError(f"{what} {_ENCRYPTED_REASON}")
        raise CertificateError(f"{what}: the {label} block at line {line} has PEM headers, which are not taken")
    compact = text.translate(None, _BODY_SPACE)
    if not compact:
        raise CertificateError(f"{what}: the {label} block at line {line} is empty")
    try:
        der = binascii.a2b_base64(compact, strict_mode=True)
    except binascii.Error:
        raise CertificateError(f"{what}: the {label} block at line {line} is not valid base64") from None
    if binascii.b2a_base64(der, newline=False) != compact:
        raise CertificateError(
            f"{what}: the {label} block at line {line} is not canonical base64 (its padding or unused bits)"
        )
    return der


def _check_der(der: bytes, what: str, block: PemBlock) -> None:
    """CertificateError unless ``der`` is exactly one DER SEQUENCE, its length minimal."""
    where = f"{what}: the {block.label} block at line {block.line}"
    if len(der) < 2 or der[0] != 0x30:
        raise CertificateError(f"{where} does not hold a DER SEQUENCE")
    if der[1] < 0x80:
        end = 2 + der[1]
    else:
        count = der[1] & 0x7F
        if not 1 <= count <= 4 or len(der) < 2 + count or der[2] == 0:
            raise CertificateError(f"{where}: its DER length is not in DER's minimal form")
        length = int.from_bytes(der[2 : 2 + count], "big")
        if length < 0x80:
            raise CertificateError(f"{where}: its DER length is not in DER's minimal form")
        end = 2 + count + length
    if end != len(der):
        excess = "bytes after" if end < len(der) else "fewer bytes than"
        raise CertificateError(f"{where} holds {excess} the DER SEQUENCE it starts ({len(der)} bytes, the SEQUENCE {end})")


def certificate_ders(data: object, what: str = "certificate") -> list[bytes]:
    """The DER of every certificate in PEM ``data``, which holds only
    ``CERTIFICATE`` blocks and whitespace; CertificateError otherwise."""
    blocks = read_blocks(data, what)
    if not blocks:
        raise CertificateError(f"{what} is not a PEM certificate (no '{PEM_BEGIN.decode()}' line)")
    for block in blocks:
        if block.label != _CERTIFICATE:
            raise CertificateError(f"{what}: the block at line {block.line} is a {block.label}, not a CERTIFICATE")
        _check_der(block.der, what, block)
    return [block.der for block in blocks]


def _load_certificate(der: bytes, what: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion is not a ValueError
        raise CertificateError(f"{what} does not parse as a certificate: {exc}") from exc


@functools.lru_cache(maxsize=512)
def _parsed(raw: bytes) -> tuple[x509.Certificate, ...]:
    """The certificates of PEM text that parsed, by its bytes: a server that
    verifies its clients sees the same intermediates and roots again and
    again. Certificates are immutable; only successes are kept (an error
    is raised, so not cached), and at most 512 texts of at most
    ``limits.MAX_PEM_BYTES`` each."""
    return tuple(_load_certificate(der, "certificate") for der in certificate_ders(raw, "certificate"))


def _certificates(data: object, what: str) -> tuple[x509.Certificate, ...]:
    raw = as_bytes(data, what)
    try:
        return _parsed(raw)
    except CertificateError:
        # Worded again with the caller's name for the input (errors are not cached).
        return tuple(_load_certificate(der, what) for der in certificate_ders(raw, what))


def parse_certificates(data: object, what: str = "certificate") -> list[x509.Certificate]:
    """Every certificate in PEM ``data``, in order (see ``certificate_ders``)."""
    return list(_certificates(data, what))


def parse_certificate(data: object, what: str = "certificate") -> x509.Certificate:
    """The one certificate in PEM ``data``; CertificateError if it holds more."""
    certs = _certificates(data, what)
    if len(certs) != 1:
        raise CertificateError(f"{what} holds {len(certs)} certificates where one is expected")
    return certs[0]


def parse_private_key(data: object, what: str = "private key") -> PrivateKeyTypes:
    """The one unencrypted private key in PEM ``data``: PKCS#8, or
    traditional (PKCS#1, SEC1), with nothing else but whitespace (and an
    ``EC PARAMETERS`` block)."""
    blocks = [b for b in read_blocks(data, what) if b.label != _EC_PARAMETERS]
    for block in blocks:
        if block.label not in _KEY_FORMATS and block.label != _ENCRYPTED_KEY:
            raise CertificateError(f"{what}: the block at line {block.line} is a {block.label}, not a private key")
    return _one_key(blocks, what)


def _one_key(blocks: list[PemBlock], what: str, password: bytes | None = None) -> PrivateKeyTypes:
    """The one key of ``blocks``; an ``ENCRYPTED PRIVATE KEY`` only with ``password``."""
    if not blocks:
        raise CertificateError(f"{what} is not a PEM private key (no '-----BEGIN ... PRIVATE KEY-----' line)")
    if len(blocks) != 1:
        raise CertificateError(f"{what} holds {len(blocks)} private keys where one is expected")
    block = blocks[0]
    if block.label == _ENCRYPTED_KEY:
        if password is None:
            raise CertificateError(f"{what} {_ENCRYPTED_REASON}")
        return _decrypted(block, password, what)
    _check_der(block.der, what, block)
    try:  # the canonical re-encoding: the label chooses the one format it is read as
        return serialization.load_pem_private_key(block.pem().encode("ascii"), password=None)
    except (ValueError, TypeError) as exc:  # the library's words are kept as the cause, not repeated
        raise CertificateError(f"{what}: the {block.label} block does not hold a {_KEY_FORMATS[block.label]} private key") from exc
    except Exception as exc:  # e.g. UnsupportedAlgorithm
        raise CertificateError(f"{what}: the {block.label} block holds a key of a kind nettls cannot use") from exc


def parse_encrypted_private_key(data: object, password: bytes, what: str = "private key") -> PrivateKeyTypes:
    """The one private key in PEM ``data``, decrypted with ``password`` when
    it is a PKCS#8 ``ENCRYPTED PRIVATE KEY`` (an unencrypted one is taken as
    ``parse_private_key`` takes it). Never words the password or the key."""
    blocks = [b for b in read_blocks(data, what) if b.label != _EC_PARAMETERS]
    for block in blocks:
        if block.label not in _KEY_FORMATS and block.label != _ENCRYPTED_KEY:
            raise CertificateError(f"{what}: the block at line {block.line} is a {block.label}, not a private key")
    return _one_key(blocks, what, password)


def _decrypted(block: PemBlock, password: bytes, what: str) -> PrivateKeyTypes:
    _check_der(block.der, what, block)
    try:
        return serialization.load_der_private_key(block.der, password=password)
    except (ValueError, TypeError) as exc:  # the library's words may quote what it read: not repeated
        raise CertificateError(f"{what}: the password does not decrypt it (or it is not a PKCS#8 encrypted key)") from exc
    except Exception as exc:  # e.g. UnsupportedAlgorithm for the cipher
        raise CertificateError(f"{what}: it is encrypted in a way nettls cannot decrypt") from exc


def file_certificates(data: object, what: str, limit: int = limits.MAX_FILE_BYTES) -> list[x509.Certificate]:
    """The certificates of a file's text: explanatory text between blocks
    and blocks of other labels are allowed (and skipped); a malformed block
    is not. [] when it holds no certificate block."""
    blocks = read_blocks(data, what, text_between=True, limit=limit)
    found = []
    for block in blocks:
        if block.label == _CERTIFICATE:
            _check_der(block.der, what, block)
            found.append(_load_certificate(block.der, what))
    return found


def file_private_key(data: object, what: str, limit: int = limits.MAX_FILE_BYTES, password: bytes | None = None) -> str:
    """The one private key of a file's text, which may also hold
    certificates and explanatory text, as unencrypted PKCS#8 PEM; a PKCS#8
    encrypted one is decrypted with ``password``."""
    blocks = read_blocks(data, what, text_between=True, limit=limit)
    keys = [b for b in blocks if b.label in _KEY_FORMATS or b.label == _ENCRYPTED_KEY]
    return key_pem(_one_key(keys, what, password))


def certificate_pem(cert: x509.Certificate) -> str:
    """Canonical PEM text of ``cert``."""
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def key_pem(key: PrivateKeyTypes) -> str:
    """``key`` as unencrypted PKCS#8 PEM text."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")


def check_key_matches(cert: x509.Certificate, key: PrivateKeyTypes) -> None:
    """CertificateError unless ``key`` is the private half of ``cert``'s public key."""
    try:
        matches = cert.public_key() == key.public_key()
    except Exception:  # unusual key types: compare encodings instead
        matches = False
    if not matches:
        raise CertificateError(f"private key does not match the certificate (subject {subject_text(cert)})")


def subject_text(cert: x509.Certificate) -> str:
    """The subject as RFC 4514 text, for messages; cryptography parses it
    lazily, so a malformed one is said to be so rather than raising."""
    try:
        return cert.subject.rfc4514_string() or "<empty>"
    except ValueError:
        return "<a subject that does not parse>"


def _armour(label: str, der: bytes) -> str:
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----"]) + "\n"


def der_to_pem(der: bytes) -> str:
    """PEM text of a DER certificate, without parsing it."""
    return _armour(_CERTIFICATE, der)


def pem_to_der(pem: str | bytes) -> bytes:
    """DER bytes of one PEM certificate, str or bytes (by the rules above)."""
    ders = certificate_ders(pem)
    if len(ders) != 1:
        raise CertificateError(f"certificate holds {len(ders)} certificates where one is expected")
    return ders[0]


@contextmanager
def private_file(parts: Sequence[str]) -> Iterator[str]:
    """A path holding ``parts`` joined, for libraries that read only files.

    On Linux an anonymous memory file (``memfd``), so key material never
    touches a disk; elsewhere a mode-0600 temporary file, removed as soon
    as the ``with`` block ends.
    """
    data = "".join(p if p.endswith("\n") else p + "\n" for p in parts).encode("ascii")
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("nettls-key", getattr(os, "MFD_CLOEXEC", 0))
        try:
            os.fchmod(fd, 0o600)  # a memfd is born 0777: readable through /proc by other users' processes
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    fd, path = tempfile.mkstemp(prefix="nettls-", suffix=".pem")  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        yield path
    finally:
        os.unlink(path)
