"""Certificates and trust stores from files, described and checked.

Reading (``read_file``, ``load_certificates``: clear ``UsageError``s for a
missing, unreadable, oversized or empty file), trust stores from
``--cafile``/``--capath`` or the system, and describing a certificate
(subject, issuer, validity, key type) or checking a host name against it,
with ``cryptography`` and ``nettls.hostname``.
"""

from __future__ import annotations

import os
from typing import Any

from nettls.escape import escape_control
from nettls.x509 import CertificateDescription, describe

from ._errors import UsageError, one_line

__all__ = [
    "read_file",
    "load_certificates",
    "certificate_pem",
    "parse_certificate",
    "build_store",
    "describe_certificate",
    "certificate_lines",
    "check_host_name",
]


def read_file(path: str, what: str, limit: int | None = None) -> bytes:
    """The bytes of ``path``, or a UsageError naming ``what`` and the problem
    (a file of more than ``limit`` bytes is one, found without reading it all)."""
    label = f"{what} {path}"
    try:
        with open(path, "rb") as f:
            data = f.read() if limit is None else f.read(limit + 1)
    except FileNotFoundError:
        raise UsageError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{label}: is a directory, not a file") from None
    except PermissionError:
        raise UsageError(f"{label}: permission denied") from None
    except OSError as exc:
        raise UsageError(f"{label}: cannot read it: {exc.strerror or exc}") from None
    if limit is not None and len(data) > limit:
        raise UsageError(f"{label}: larger than {limit} bytes, more than a certificate or key file holds")
    return data


def load_certificates(path: str, what: str, limit: int | None = None) -> list[Any]:
    """The certificates in a PEM (or single DER) file of at most ``limit``
    bytes, in file order.

    Raises UsageError when the file is missing, unreadable, too large or holds none.
    """
    from cryptography import x509

    from nettls.components.kit import file_certificates

    data = read_file(path, what, limit)
    if b"-----BEGIN" in data:
        try:  # nettls's strict parser, in its file mode (text between blocks allowed)
            certs = file_certificates(data, f"{what} {path}")
        except ValueError as exc:  # nettls.CertificateError
            raise UsageError(one_line(exc)) from None
        if not certs:
            raise UsageError(f"{what} {path}: holds no certificate (a PEM file, but no 'BEGIN CERTIFICATE' block)")
        return certs
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        raise UsageError(f"{what} {path}: not a certificate (neither PEM nor DER)") from None


def certificate_pem(cert: Any) -> str:
    """PEM text of a ``cryptography`` certificate."""
    from cryptography.hazmat.primitives.serialization import Encoding

    return str(cert.public_bytes(Encoding.PEM).decode("ascii"))


def parse_certificate(pem: str | bytes) -> Any:
    """A ``cryptography`` certificate from PEM text, by nettls's strict parser
    (``nettls.CertificateError``, a ValueError, if it does not parse)."""
    from nettls.components.kit import parse_certificate as parse

    return parse(pem)


def build_store(store_cls: Any, cafile: str | None, capath: str | None, *, system: bool = False) -> tuple[Any, str] | None:
    """A trust store of ``store_cls`` from ``--cafile``/``--capath``.

    With neither given: the system's default trust store if ``system``,
    else None (nothing to check against). Returns ``(store, description)``.
    """
    store = store_cls()
    sources: list[str] = []
    if cafile is not None:
        read_file(cafile, "--cafile")  # a clear error for a missing or unreadable file
        if not store.loadLocation(cafile):
            raise UsageError(f"--cafile {cafile}: holds no PEM certificate")
        sources.append(cafile)
    if capath is not None:
        if not os.path.exists(capath):
            raise UsageError(f"--capath {capath}: no such directory")
        if not os.path.isdir(capath):
            raise UsageError(f"--capath {capath}: not a directory (use --cafile for a file)")
        if not os.access(capath, os.R_OK | os.X_OK):
            raise UsageError(f"--capath {capath}: permission denied")
        if not store.loadLocation(capath):
            raise UsageError(f"--capath {capath}: holds no PEM certificate")
        sources.append(capath)
    if not sources and system:
        sources.append(_load_system_trust(store))
    if not sources:
        return None
    count = len(getattr(store, "certificates", ()) or ())
    counted = f"{count} certificate{'s' if count != 1 else ''} from " if count else ""
    return store, counted + " and ".join(sources)


def _load_system_trust(store: Any) -> str:
    """Fill ``store`` with the system's roots: through ``ISystemTrust`` where
    the component provides it (certifi where the system has none), else from
    the locations Python's ssl reports. Returns where they came from."""
    from nettls.interfaces import ISystemTrust

    if ISystemTrust.providedBy(store):
        if store.loadSystemTrust():
            return f"the system trust store ({store.systemTrustSource})"
        raise UsageError("no --cafile or --capath given, and no system trust store was found (nor certifi's bundle)")
    import ssl  # only to find where the system keeps its trust store

    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.capath, paths.openssl_cafile, paths.openssl_capath):
        if candidate and os.path.exists(candidate) and store.loadLocation(candidate):
            return f"the system trust store ({candidate})"
    raise UsageError("no --cafile or --capath given, and no system trust store was found")


def describe_certificate(cert: Any) -> CertificateDescription:
    """``nettls.x509.describe``: the facts of a certificate (object or PEM),
    its text unescaped: print it through ``escape_control``."""
    return describe(cert)


def certificate_lines(cert: Any, label: str = "", indent: str = "  ") -> list[str]:
    """Lines describing ``cert`` (object or PEM), the first prefixed by ``label``."""
    pad = indent + " " * len(label)
    try:
        info = describe_certificate(cert)
    except ValueError as exc:
        return [f"{indent}{label}(does not parse: {one_line(exc)})"]
    lines = [
        f"{indent}{label}subject:  {escape_control(info.subject) or '(empty)'}",
        f"{pad}issuer:   {escape_control(info.issuer) or '(empty)'}",
        f"{pad}validity: {info.validity()}",
        f"{pad}key:      {info.key_type}",
    ]
    names = [escape_control(n) for n in info.dns_names] + list(info.ip_addresses)
    if names:
        lines.append(f"{pad}names:    {', '.join(names)}")
    return lines


def check_host_name(cert: Any, host: str) -> str | None:
    """None if ``cert`` (object or PEM) is valid for ``host``, else the reason.

    ``nettls.hostname.check_host_name``: RFC 6125 through service_identity
    (subject alternative names only, whole left-most-label wildcards, IDNA,
    IP addresses against IP entries). A certificate that does not parse is
    a ValueError (``nettls.CertificateError``); a ``host`` that is no host
    name gives a reason saying so.
    """
    from nettls.hostname import check_host_name as check, server_name

    try:
        server_name(host)
    except (TypeError, ValueError) as exc:
        return f"{host!r} is neither a host name nor an IP address ({one_line(exc)})"
    return check(cert, host)
