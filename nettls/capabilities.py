"""The three TLS roles from one component, chosen by what they can do.

``resolve("net.TLS", provides=[...])`` answers for one interface at a time,
so a program that also needs a context and a store could end up with a
session of one component and a context of another that lacks the setting
it wants. ``resolve_tls`` answers for the three roles at once: the session,
context and store classes of ONE component that, between them, provide
every extension asked for. It prefers the component linked to ``net.TLS``;
when that one lacks something and another is chosen instead, the
substitution is logged at WARNING on the ``nettls`` logger, since it
overrides the user's link.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable

from zope.interface.interface import InterfaceClass

from .interfaces import RegistryError
from .registry import extension_for, registry

__all__ = ["TLSClasses", "resolve_tls"]

log = logging.getLogger("nettls")

_ROLES = ("net.TLS", "net.TLSContext", "net.TLSCertStore")


@dataclass(frozen=True)
class TLSClasses:
    """One TLS component's classes: ``TLS``, ``TLSContext``, ``TLSCertStore``."""

    component: str
    TLS: Any
    TLSContext: Any
    TLSCertStore: Any


def _classes(name: str) -> TLSClasses:
    found = [registry.resolve(role, component=name) for role in _ROLES]
    return TLSClasses(name, *found)


def _lacking(classes: TLSClasses, wanted: tuple[InterfaceClass, ...]) -> list[str]:
    roles = (classes.TLS, classes.TLSContext, classes.TLSCertStore)
    return [iface.__name__ for iface in wanted if not any(iface.implementedBy(cls) for cls in roles)]


def resolve_tls(component: str | None = None, *, provides: Iterable[object] = ()) -> TLSClasses:
    """The TLS classes of one component providing every extension in ``provides``.

    Args:
        component: that component's, or None: the component linked to
            ``net.TLS`` when it has them all, else the first available one
            by name that does (logged at WARNING as a substitution).
        provides: extension interfaces or their names (``"IServerName"``),
            each provided by the session, the context or the store class.

    Raises:
        RegistryError: no such component, or none provides them all (the
            message says what each candidate lacks).
    """
    items: Iterable[object] = [provides] if isinstance(provides, (str, InterfaceClass)) else provides
    wanted = tuple(dict.fromkeys(extension_for(e) for e in items))
    if component is not None:
        classes = _classes(component)
        lacking = _lacking(classes, wanted)
        if lacking:
            raise RegistryError(f"component {component!r} does not provide {', '.join(lacking)}")
        return classes
    linked = registry.linked("net.TLS")
    if linked is None:
        raise RegistryError("net.TLS is not linked to any component")
    candidates = [linked, *(n for n in registry.providers("net.TLS") if n != linked)]
    gaps = []
    for name in candidates:
        try:
            classes = _classes(name)
        except RegistryError as exc:  # a component providing net.TLS but not the other roles
            gaps.append(f"{name}: {exc}")
            continue
        lacking = _lacking(classes, wanted)
        if not lacking:
            if name != linked:
                log.warning(
                    "using the %s component instead of %s, linked to net.TLS, which does not provide %s",
                    name,
                    linked,
                    ", ".join(_lacking(_classes(linked), wanted)),
                )
            return classes
        gaps.append(f"{name} lacks {', '.join(lacking)}")
    asked = ", ".join(i.__name__ for i in wanted)
    raise RegistryError(f"no available component provides the TLS roles with {asked} ({'; '.join(gaps)})")
