"""Addresses and endpoints: the argument checks of ``connect``, ``bind`` and
``setTimeout``,
the addresses to try for ``connect``, ``NetworkEndpoint`` from a socket
address, and its display form."""

from __future__ import annotations

import math
import socket
from typing import Any

from nettls.interfaces import NetworkEndpoint


def _check_address(address: object, call: str) -> str:
    if not isinstance(address, str):
        raise TypeError(f"{call}() takes the address as a str, not {type(address).__name__}")
    if not address:
        raise ValueError(f"{call}() takes a non-empty address")
    return address


def _check_port(port: object, call: str) -> int:
    if type(port) is int and 0 <= port <= 65535:  # the usual case, at once
        return port
    if isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(f"{call}() takes the port as an int, not {type(port).__name__}")
    if not 0 <= port <= 65535:
        raise ValueError(f"{call}() takes a port from 0 to 65535, not {port}")
    return port


def _check_timeout(seconds: object) -> float | None:
    """``setTimeout``'s argument as seconds, None (also for infinity) waiting for ever."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError(f"setTimeout() takes seconds as a number or None, not {type(seconds).__name__}")
    if not seconds > 0:
        raise ValueError(f"setTimeout() takes a positive number of seconds or None, not {seconds}")
    return None if math.isinf(seconds) else float(seconds)


def _addresses_of(host: str, port: int) -> list[tuple[Any, ...]]:
    """``getaddrinfo`` for a TCP connection to ``host``. An IPv4 address in
    its usual form is answered here, as ``getaddrinfo`` would answer it:
    Python's ``getaddrinfo`` runs the host through the IDNA codec and turns
    each result's numbers into enums, in Python, on every call."""
    try:
        if socket.inet_ntoa(socket.inet_aton(host)) == host:
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (host, port))]
    except (OSError, ValueError):  # not an IPv4 address
        pass
    return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)


def _endpoint(sockaddr: Any) -> NetworkEndpoint:
    """A ``NetworkEndpoint`` from a socket address, IPv4-mapped IPv6 unmapped."""
    host = sockaddr[0]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return NetworkEndpoint(host, sockaddr[1])


def _show(ep: NetworkEndpoint | None) -> str:
    if ep is None:
        return "-"
    return f"[{ep.address}]:{ep.port}" if ":" in ep.address else f"{ep.address}:{ep.port}"

