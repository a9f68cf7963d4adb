"""Host names: is a certificate valid for a DNS name or an IP address?

``check_host_name(certificate, name)`` applies RFC 6125 (with RFC 2818's
rule for IP addresses), through service_identity's matching rules:

- only the subject alternative names count: a DNS name against the DNS
  entries, an IP address against the IP entries; the subject's common name
  is never used (no CN fallback, as RFC 6125 and every current browser);
- a wildcard is a whole left-most label (``*.example.com`` matches
  ``www.example.com``, not ``example.com``, not ``a.b.example.com``, and
  never an IDN A-label such as ``xn--bcher-kva.example.com``); partial
  wildcards (``w*.example.com``) and wildcards over fewer than three labels
  match nothing;
- internationalised names are compared as A-labels (IDNA 2008 with UTS 46
  mapping, by the ``idna`` package): ``bücher.example`` is checked as
  ``xn--bcher-kva.example``; case is folded; one trailing dot is dropped;
- a malformed entry of the certificate is skipped, not fatal (as OpenSSL and
  browsers do); a certificate whose names cannot be read at all (an
  extension ``cryptography`` refuses: two subject-alternative-name
  extensions, an x400Address or ediPartyName entry) matches no name, and
  the reason says why: it is never an exception.

What counts as a name is one rule, ``server_name``, for every component
(the name a client sends, the name checked, the names a server selects by):

- an IP address written out (IPv4 as four decimal numbers, IPv6 in any
  form, in brackets or not), with or without one trailing dot, is an
  address: never sent as SNI (RFC 6066), checked against IP entries;
- a name whose last label is a number (``2130706433``, ``127.1``,
  ``0x7f.1``, ``0177.0.0.1``, ``1.2.3.4.5``) is refused: resolvers read
  such forms as IPv4 addresses in ways that differ (``inet_aton`` reads
  ``0177`` as octal), and no top-level domain is numeric, so it is
  neither a host name nor an address nettls can be sure of (the URL
  standard's "ends in a number" rule).

``server_name(name)`` is the same normalisation on its own: what a client
sends as SNI and checks. Nothing here verifies the certificate's chain: that
is ``verifyCertificate()``'s job (or ``IVerifyOnConnect``, which does both).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

import idna
from cryptography import x509
from service_identity import VerificationError
from service_identity import CertificateError as _PatternError
from service_identity.hazmat import (
    DNS_ID,
    DNSPattern,
    IPAddress_ID,
    IPAddressPattern,
    verify_service_identity,
)

from .components._common.pem import parse_certificate

__all__ = ["ServerName", "server_name", "name_pattern", "pattern_matches", "check_host_name", "host_name_matches"]

#: Characters of a normalised DNS label (service_identity's own set: LDH plus "_").
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
#: RFC 1035: a name of at most 253 characters in text form.
_MAX_NAME = 253
#: A label that is a number in one of the forms inet_aton takes (decimal,
#: octal, 0x hexadecimal): a name ending in one is read as an IPv4 address.
_NUMBER = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")


@dataclass(frozen=True)
class ServerName:
    """A normalised server name.

    Attributes:
        text: a DNS name in lower-case A-labels without a trailing dot, or an
            IP address in its compressed form.
        is_ip: True for an IP address.
    """

    text: str
    is_ip: bool

    @property
    def sni(self) -> str | None:
        """What goes in the SNI extension: the DNS name; None for an address (RFC 6066)."""
        return None if self.is_ip else self.text


def _ascii_name(name: str) -> str:
    """``name`` as lower-case A-labels, or ValueError."""
    if name.endswith("."):
        name = name[:-1]
    if not name:
        raise ValueError("a host name cannot be empty")
    if name.isascii():
        text = name.lower()
    else:
        try:
            text = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise ValueError(f"{name!r} is not a valid internationalised host name: {exc}") from None
    if len(text) > _MAX_NAME:
        raise ValueError(f"{name!r} is longer than {_MAX_NAME} characters")
    labels = text.split(".")
    for label in labels:
        if not _LABEL.match(label):
            raise ValueError(f"{name!r} is not a valid host name (label {label!r})")
    if _NUMBER.match(labels[-1]):
        raise ValueError(
            f"{name!r} is a numeric name (its last label {labels[-1]!r} is a number), which resolvers read as "
            "an IPv4 address in differing ways: write an address as four decimal numbers (such as 127.0.0.1), "
            "or give a host name"
        )
    return text


def server_name(name: Any) -> ServerName:
    """Normalise a DNS name or an IP address (see ``ServerName``).

    Raises:
        TypeError: ``name`` is not a ``str``.
        ValueError: it is neither a valid DNS name nor an IP address.
    """
    if not isinstance(name, str):
        raise TypeError(f"a server name is a str (a DNS name or an IP address), not {type(name).__name__}")
    bare = name[:-1] if name.endswith(".") else name  # an address may carry a name's trailing dot too
    text = bare[1:-1] if bare.startswith("[") and bare.endswith("]") else bare
    try:
        return ServerName(ipaddress.ip_address(text).compressed, True)
    except ValueError:
        pass
    if text != bare:
        raise ValueError(f"{name!r}: only an IPv6 address goes in brackets")
    return ServerName(_ascii_name(name), False)


def name_pattern(name: Any) -> str:
    """Normalise a DNS name or a wildcard ``*.example.com`` (one whole
    left-most label over at least two more): what a server selects a
    certificate by. IP addresses are refused: SNI carries host names only.

    Raises:
        TypeError: ``name`` is not a ``str``.
        ValueError: it is not a DNS name or such a wildcard.
    """
    if not isinstance(name, str):
        raise TypeError(f"a server name is a str, not {type(name).__name__}")
    if name.startswith("*."):
        rest = _ascii_name(name[2:])
        if rest.count(".") < 1:
            raise ValueError(f"{name!r}: a wildcard must stand over at least two labels (as *.example.com)")
        return "*." + rest
    parsed = server_name(name)
    if parsed.is_ip:
        raise ValueError(f"{name!r} is an IP address; a client sends only host names as SNI")
    return parsed.text


def pattern_matches(pattern: str, name: str) -> bool:
    """Whether a normalised ``name_pattern`` matches a normalised DNS name."""
    if pattern.startswith("*."):
        head, _, tail = name.partition(".")
        return bool(head) and tail == pattern[2:]
    return pattern == name


def _load(certificate: Any) -> x509.Certificate:
    if isinstance(certificate, x509.Certificate):
        return certificate
    return parse_certificate(certificate)  # the one strict PEM parser (CertificateError)


def check_host_name(certificate: Any, name: Any) -> str | None:
    """None if ``certificate`` is valid for ``name``, else the reason why not.

    Args:
        certificate: PEM text (str or bytes) or a ``cryptography`` certificate.
        name: a DNS name or an IP address (see ``server_name``).

    Returns:
        None on a match; otherwise a one-line reason naming ``name`` and
        what the certificate lists, or why its names cannot be read.

    Raises:
        nettls.CertificateError: the certificate does not parse as PEM.
        TypeError, ValueError: ``name`` is not a DNS name or IP address.
    """
    cert = _load(certificate)
    wanted = server_name(name)
    service_id: Any = IPAddress_ID(wanted.text) if wanted.is_ip else DNS_ID(wanted.text)
    try:
        return _match(cert, wanted, service_id)
    except Exception as exc:  # cryptography refuses what it cannot read, in types of its own: fail closed
        return f"the certificate's names cannot be read ({type(exc).__name__}: {exc}), so it names no host (wanted {wanted.text})"


def _match(cert: x509.Certificate, wanted: ServerName, service_id: Any) -> str | None:
    """``check_host_name`` on a parsed certificate; raises what the certificate's
    extensions raise when read (ValueError, DuplicateExtension,
    UnsupportedGeneralNameType, ...)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return f"the certificate has no subject alternative names, so it names no host (wanted {wanted.text})"
    dns = [str(n) for n in san.get_values_for_type(x509.DNSName)]
    ips = [ip for ip in san.get_values_for_type(x509.IPAddress) if isinstance(ip, (ipaddress.IPv4Address, ipaddress.IPv6Address))]
    patterns: list[Any] = [IPAddressPattern(ip) for ip in ips]
    for entry in dns:
        try:
            patterns.append(DNSPattern.from_bytes(entry.encode("utf-8")))
        except _PatternError:
            continue  # a malformed entry (an address as a DNS name, "*.com"): skipped
    try:
        if patterns:
            verify_service_identity(patterns, obligatory_ids=[service_id], optional_ids=[])
            return None
    except VerificationError:
        pass
    if wanted.is_ip:
        listed = ", ".join(str(ip) for ip in ips) or "none"
        return f"{wanted.text} is not among the certificate's IP addresses ({listed})"
    listed = ", ".join(dns) or "none"
    return f"{wanted.text} is not among the certificate's DNS names ({listed})"


def host_name_matches(certificate: Any, name: Any) -> bool:
    """``check_host_name(certificate, name) is None``."""
    return check_host_name(certificate, name) is None
