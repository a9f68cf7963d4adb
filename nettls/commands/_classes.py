"""The classes of a component, through the registry only.

``--component`` and ``--tcp-component`` name a component; ``tls_classes``
and ``tcp_classes`` resolve its classes (a ``UsageError`` for an unknown
one), so a command works unchanged with a third party's component.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import nettls
from nettls.interfaces import RegistryError

from ._errors import UsageError

__all__ = [
    "TLSClasses",
    "TCPClasses",
    "tls_classes",
    "tcp_classes",
    "client_verifies_chain",
    "tls_component_names",
    "unavailable_components",
]


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
