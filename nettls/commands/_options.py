"""The options and argument types the commands share.

- ``ArgumentParser``: argparse with its errors as one line and exit 2.
- ``--component`` and ``--tcp-component`` (resolved by ``_classes``).
- Argument types: a positive number of seconds, ``HOST:PORT``.
"""

from __future__ import annotations

import argparse
import ipaddress
from typing import NoReturn

from ._errors import EXIT_USAGE, UsageError, one_line

__all__ = [
    "ArgumentParser",
    "add_component_option",
    "add_tcp_component_option",
    "seconds",
    "is_address",
    "parse_endpoint",
]


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with its errors as one line ("prog: error: ...") and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")


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


def seconds(text: str) -> float:
    """An argparse type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a positive number of seconds")
    return value


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
