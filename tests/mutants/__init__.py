"""Deliberately broken components: each breaks one SPEC clause the way a
real backend bug would, and the conformance suite must catch it by that
clause (``tests/test_conformance_can_fail.py``).

A mutant is one small class, a subclass of a real component's class with
one wrong behaviour, declared with ``@mutant(CLAUSE)``:

- a TLS mutant subclasses ``PlainTLS``, ``PlainContext`` or ``PlainStore``
  (``bases.py``): the stdlib component stripped of every extension
  interface, so the core clauses must catch it by themselves; a mutant of
  an extension clause subclasses the full stdlib classes instead
  (``FullTLS``...);
- a TCP mutant subclasses ``PlainTCPSocket``, ``PlainServerSocket`` or
  ``PlainMonitor`` (or the full tcp classes, for the clauses of SPEC 11);
- ``under_tls=True``: a TCP mutant whose bug shows only beneath TLS
  sessions; it runs as the TCP component under the plain TLS classes.

The component's name is the class name in kebab case. ``plugin.py``
registers the mutants a run names (``NETTLS_MUTANTS``) and keeps each to
its own clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Mutant", "MUTANTS", "mutant", "kebab"]


@dataclass(frozen=True)
class Mutant:
    """One deliberately broken component."""

    name: str
    clause: str
    cls: type
    #: which spec interface ``cls`` stands in for: net.TLS, net.TLSContext ...
    interface: str
    #: True for a mutant of an extension clause (full base classes)
    full: bool
    under_tls: bool = False
    bug: str = field(default="", compare=False)

    @property
    def tcp(self) -> bool:
        return self.interface.startswith("net.TCP")


#: name -> Mutant, in declaration order
MUTANTS: dict[str, Mutant] = {}


def kebab(name: str) -> str:
    """``NoLeafTLS`` -> ``no-leaf-tls``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", name).lower()


def mutant(clause: str, *, under_tls: bool = False) -> Callable[[type], type]:
    """Declare the decorated class a mutant that clause ``clause`` must catch."""

    def register(cls: type) -> type:
        from . import bases

        interface, full = bases.role_of(cls)
        name = kebab(cls.__name__)
        if name in MUTANTS:
            raise ValueError(f"two mutants named {name}")
        bug = " ".join((cls.__doc__ or "").split())
        if not bug:
            raise ValueError(f"mutant {cls.__name__} needs a docstring saying what its bug is")
        MUTANTS[name] = Mutant(name, clause, cls, interface, full, under_tls, bug)
        return cls

    return register


def load_all() -> dict[str, Mutant]:
    """Import every module of mutants; returns ``MUTANTS``."""
    from . import tcp, tls_core, tls_ext, tls_session  # noqa: F401  (registers by import)

    return MUTANTS


def provides(m: Mutant) -> dict[str, Any]:
    """The ``provides`` map of the component of mutant ``m``."""
    from . import bases

    base = dict(bases.FULL_TCP if m.full else bases.PLAIN_TCP) if m.tcp else dict(
        bases.FULL_TLS if m.full else bases.PLAIN_TLS
    )
    base[m.interface] = m.cls
    if m.under_tls:
        base.update(bases.PLAIN_TLS)
    return base
