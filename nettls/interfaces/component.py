"""What a component declares: the Python form of a Dana component header.

A component module exposes one ``Component`` (conventionally named
``COMPONENT``) and names it in the ``nettls.components`` entry-point group::

    COMPONENT = Component(
        name="stdlib",
        provides={"net.TLS": TLS, "net.TLSContext": TLSContext},
        description="TLS on Python's ssl module",
    )

The registry checks every provider against its interface when the
component is registered, and refuses one that does not conform.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["Component"]


@dataclass(frozen=True)
class Component:
    """A named set of implementations, keyed by the Dana interface names
    they provide (``"net.TLS"``), plus the interfaces the component requires
    from others (Dana's ``requires``)."""

    name: str
    provides: Mapping[str, type] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    description: str = ""
    #: The implementing library and its version, for display.
    library: str = ""
    #: Known deviations from the contract: conformance case id -> reason.
    #: The conformance suite expects exactly these cases to fail (strict
    #: xfail), so a deviation is never a silent skip and a stale entry shows.
    deviations: Mapping[str, str] = field(default_factory=dict)
    #: True when the component's TLS client cannot check the server's
    #: handshake signature without also verifying its chain (SPEC 6): its
    #: ``connect()`` then verifies the chain during the handshake, against
    #: the context's verify-on-connect store (``IVerifyOnConnect``) or else
    #: the system's roots, and refuses to connect when it has neither. The
    #: conformance suite gives such a client the suite's roots.
    client_verifies_chain: bool = False
