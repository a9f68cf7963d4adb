"""What every command shares.

- Errors and exit statuses (SPEC section 12): a command raises
  ``UsageError`` (exit 2: bad arguments, a missing or unreadable file) or
  ``CheckFailed`` (exit 1: the handshake, the verification or the host name
  failed); ``nettls.cli.main`` prints either as one line on stderr.
- The ``--component`` / ``--tcp-component`` options and the classes they
  resolve to, through the registry only.
- Reading certificates and trust stores from files, with clear errors.
- Describing a certificate (subject, issuer, validity, key type) and
  checking a host name against it, with ``cryptography``.
- Session information through ``ISessionInfo``, "unknown" where a component
  does not provide it.
- Plain-text tables.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from dataclasses import dataclass
from typing import Any, Iterable, NoReturn, Sequence

import nettls
from nettls.escape import escape_control
from nettls.x509 import CertificateDescription, describe
from nettls.interfaces import ISessionInfo, RegistryError

__all__ = [
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "CommandError",
    "UsageError",
    "CheckFailed",
    "ArgumentParser",
    "add_component_option",
    "add_tcp_component_option",
    "TLSClasses",
    "TCPClasses",
    "tls_classes",
    "tcp_classes",
    "tls_component_names",
    "unavailable_components",
    "read_file",
    "load_certificates",
    "certificate_pem",
    "parse_certificate",
    "describe_certificate",
    "certificate_lines",
    "check_host_name",
    "is_address",
    "parse_endpoint",
    "build_store",
    "session_info",
    "failure_reason",
    "format_table",
    "one_line",
    "error_text",
    "write_lines",
]

EXIT_OK = 0
#: The thing checked failed: handshake, verification, host name, a demo cell.
EXIT_FAILED = 1
#: Usage or input error: bad arguments, a missing or unreadable file, a key that does not match.
EXIT_USAGE = 2

UNKNOWN = "unknown"


# --- errors ------------------------------------------------------------------


class CommandError(Exception):
    """An error a user can make or meet: one line on stderr, no traceback."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CommandError):
    """Bad arguments or unusable input (exit status 2)."""

    exit_code = EXIT_USAGE


class CheckFailed(CommandError):
    """What the command checked failed (exit status 1)."""

    exit_code = EXIT_FAILED


def one_line(text: object) -> str:
    """``text`` squeezed onto one line (errors are one line on stderr), its
    control characters escaped: an error may quote what a peer sent."""
    return escape_control(" ".join(str(text).split()))


def error_text(exc: BaseException) -> str:
    """An exception's message, without the "[Errno N]" prefix of an OSError."""
    if isinstance(exc, OSError) and exc.errno is not None and exc.strerror:
        return one_line(exc.strerror)
    return one_line(exc) or type(exc).__name__


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with its errors as one line ("prog: error: ...") and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")


# --- components, through the registry only -------------------------------------


def add_component_option(parser: argparse.ArgumentParser, *, multiple: bool = False, help: str | None = None) -> None:
    """Add ``--component NAME``: the TLS component (default: the linked one)."""
    if multiple:
        parser.add_argument(
            "--component",
            metavar="NAME",
            action="append",
            default=None,
            help=help or "a TLS component to use; repeat for several (default: every available one)",
        )
    else:
        parser.add_argument(
            "--component",
            metavar="NAME",
            default=None,
            help=help or "the TLS component for net.TLS, net.TLSContext and net.TLSCertStore "
            "(default: the one linked to net.TLS; see 'nettls components')",
        )


def add_tcp_component_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--tcp-component NAME``: the TCP component (default: the linked one)."""
    parser.add_argument(
        "--tcp-component",
        metavar="NAME",
        default=None,
        help="the TCP component for net.TCPSocket, net.TCPServerSocket and net.TCPMonitor (default: the linked one)",
    )


@dataclass(frozen=True)
class TLSClasses:
    """One TLS component's classes, as the registry resolved them."""

    name: str
    TLS: Any
    TLSContext: Any
    TLSCertStore: Any


@dataclass(frozen=True)
class TCPClasses:
    """One TCP component's classes, as the registry resolved them."""

    name: str
    TCPSocket: Any
    TCPServerSocket: Any
    TCPMonitor: Any


def _resolve_all(names: Sequence[str], component: str | None) -> tuple[str, list[Any]]:
    try:
        classes = [nettls.resolve(n, component=component) for n in names]
        shown = component or nettls.registry.linked(names[0]) or "?"
    except RegistryError as exc:
        raise UsageError(str(exc)) from exc
    return shown, classes


def client_verifies_chain(tls_c: TLSClasses) -> bool:
    """Whether the component's client verifies the chain in the handshake
    (``Component.client_verifies_chain``, SPEC 6): it must be given roots."""
    try:
        return bool(nettls.registry.component(tls_c.name).client_verifies_chain)
    except nettls.RegistryError:
        return False


def tls_classes(component: str | None = None) -> TLSClasses:
    """The TLS classes of ``component``, or the linked ones when None."""
    name, (tls, ctx, store) = _resolve_all(("net.TLS", "net.TLSContext", "net.TLSCertStore"), component)
    return TLSClasses(name, tls, ctx, store)


def tcp_classes(component: str | None = None) -> TCPClasses:
    """The TCP classes of ``component``, or the linked ones when None."""
    name, (sock, server, monitor) = _resolve_all(("net.TCPSocket", "net.TCPServerSocket", "net.TCPMonitor"), component)
    return TCPClasses(name, sock, server, monitor)


def tls_component_names() -> list[str]:
    """Available components providing all three TLS interfaces."""
    reg = nettls.registry
    try:
        names = set(reg.providers("net.TLS"))
        names &= set(reg.providers("net.TLSContext"))
        names &= set(reg.providers("net.TLSCertStore"))
    except RegistryError as exc:
        raise UsageError(str(exc)) from exc
    return sorted(names)


def unavailable_components() -> list[tuple[str, str]]:
    """``(name, reason)`` of every component the registry found but cannot use."""
    try:
        return [(s.name, s.reason or "unavailable") for s in nettls.registry.components() if not s.available]
    except RegistryError as exc:
        raise UsageError(str(exc)) from exc


# --- files -----------------------------------------------------------------------


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


# --- describing certificates ----------------------------------------------------------

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


def is_address(host: str) -> bool:
    """True when ``host`` is an IP address (brackets allowed), not a name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def parse_endpoint(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[ADDR]:PORT`` for IPv6) -> ``(host, port)``, or UsageError."""
    if text.startswith("["):
        host, close, rest = text[1:].partition("]")
        if not close or not rest.startswith(":"):
            raise UsageError(f"{text!r} is not [ADDRESS]:PORT")
        port_text = rest[1:]
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            raise UsageError(f"{text!r} has no port: write HOST:PORT, such as example.com:443")
        if ":" in host:
            raise UsageError(f"{text!r}: write an IPv6 address in brackets, as [{host}]:{port_text}")
    if not host:
        raise UsageError(f"{text!r} has no host: write HOST:PORT, such as 127.0.0.1:4433")
    try:
        port = int(port_text)
    except ValueError:
        raise UsageError(f"{text!r}: the port {port_text!r} is not a number") from None
    if not 1 <= port <= 65535:
        raise UsageError(f"{text!r}: the port must be from 1 to 65535")
    return host, port


# --- sessions --------------------------------------------------------------------------


def session_info(tls: Any) -> tuple[str, str]:
    """``(protocol, cipher)`` of a session, "unknown" where the component cannot say."""
    if not ISessionInfo.providedBy(tls):
        return UNKNOWN, UNKNOWN
    try:
        return tls.getProtocolVersion() or UNKNOWN, tls.getCipherSuite() or UNKNOWN
    except Exception:  # a component's bug must not hide the rest of the report
        return UNKNOWN, UNKNOWN


def failure_reason(tls: Any, default: str = "no reason given") -> str:
    """The session's ``getFailureReason()``, escaped, or ``default`` where it has none."""
    if ISessionInfo.providedBy(tls):
        try:
            reason = tls.getFailureReason()
        except Exception:
            reason = None
        if reason:
            return escape_control(reason)  # it may quote the peer (an alert's text)
    return default


# --- output ------------------------------------------------------------------------------


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]], indent: str = "") -> list[str]:
    """Rows of text in left-aligned columns, headers first, then a rule."""
    body = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        return (indent + "  ".join(c.ljust(w) for c, w in zip(cells, widths))).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out.extend(line(row) for row in body)
    return out


def write_lines(lines: Iterable[str], stream: Any = None) -> None:
    stream = stream or sys.stdout
    for text in lines:
        stream.write(text + "\n")
    stream.flush()


def seconds(text: str) -> float:
    """An argparse type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number of seconds")
    return value
