"""Interface docstrings carried over to the classes that implement them.

The contract lives on the interfaces (zope's manner), so an implementing
class's own methods are usually bare, and ``help(TLS.connect)`` or an IDE
hover would show nothing. ``document_from_interfaces(cls)`` gives every
method of ``cls`` that has no docstring of its own the docstring of the
interface method it implements, headed by where it comes from. The
registry calls it for every class a component provides, a third party's
included.
"""

from __future__ import annotations

import inspect
from typing import Any

from zope.interface import implementedBy
from zope.interface.interface import Method

__all__ = ["document_from_interfaces"]


def _function(cls: type, name: str) -> Any:
    """The plain function behind ``cls.name`` (None for a property, a slot, a builtin)."""
    for klass in cls.__mro__:
        if name in klass.__dict__:
            member = klass.__dict__[name]
            member = getattr(member, "__func__", member)  # staticmethod, classmethod
            return member if inspect.isfunction(member) else None
    return None


def document_from_interfaces(cls: type) -> None:
    """Fill the empty docstrings of ``cls``'s methods from its interfaces."""
    for iface in implementedBy(cls).flattened():
        for name, spec in iface.namesAndDescriptions(all=False):
            if not isinstance(spec, Method):
                continue
            func = _function(cls, name)
            if func is None or (func.__doc__ or "").strip():
                continue
            doc = inspect.cleandoc(spec.getDoc() or "")
            if doc:
                func.__doc__ = f"{iface.__name__}.{name}{spec.getSignatureString()}: {doc}"
