"""The registry: Dana interface names resolved to the linked component.

Theory of operation
-------------------
Interfaces are known by their Dana names (``net.TLS``), which each
interface carries as a tagged value. Components (``nettls.Component``
records) arrive through the ``nettls.components`` entry-point group, the
built-in ones exactly like a third party's. Registering a component checks
every class it provides against its interface with
``zope.interface.verify.verifyClass`` and records the class in a
``zope.interface.registry.Components`` as a utility for that interface,
named after the component. The *link* of an interface is the unnamed
utility for it: resolving ``net.TLS`` asks the zope registry for it, and
``link()`` re-registers it.

Links come, in increasing precedence, from the package manifest (Dana's
``defaultLinks``), the ``NETTLS_LINKS`` environment variable, and
``link()`` calls.

Capabilities: ``resolve(name, provides=[...])`` asks for the class of an
interface that also provides extension interfaces (``IServerName``, or its
name ``"IServerName"``): the linked component's class when it has them all,
else the first available component's (by name) that does, else a
RegistryError naming, for each component, what it lacks. Discovery is lazy: nothing is imported until the first
lookup, and a component whose import fails is listed as unavailable with
the reason while every other component keeps working.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from importlib import metadata, resources
from typing import Any, Iterable, Iterator, Literal, Mapping, TypeVar, overload

from zope.interface.interface import InterfaceClass
from zope.interface.registry import Components
from zope.interface.verify import verifyClass

from .interfaces import DANA_NAME, EXTENSION_INTERFACES, SPEC_INTERFACES, RegistryError
from .interfaces import protocols
from .interfaces.component import Component
from .interfaces.documented import document_from_interfaces

__all__ = ["Registry", "ComponentStatus", "registry", "resolve", "link", "load"]

ENTRY_POINT_GROUP = "nettls.components"
LINKS_VARIABLE = "NETTLS_LINKS"

T = TypeVar("T")
log = logging.getLogger("nettls")


@dataclass(frozen=True)
class ComponentStatus:
    """One component as the registry knows it: usable, or why not."""

    name: str
    available: bool
    reason: str | None = None
    component: Component | None = None
    origin: str = ""


def interface_for(name: str) -> InterfaceClass:
    """The spec interface called ``name`` (``"net.TLS"`` or short ``"TLS"``)."""
    if not isinstance(name, str):
        raise TypeError(f"an interface name is a str such as 'net.TLS', not {type(name).__name__}")
    full = name if "." in name else f"net.{name}"
    try:
        return SPEC_INTERFACES[full]
    except KeyError:
        known = ", ".join(sorted(SPEC_INTERFACES))
        raise RegistryError(f"unknown interface {name!r}; known interfaces: {known}") from None


def extension_for(extension: object) -> InterfaceClass:
    """The extension interface ``extension`` names: an interface, or the name
    of one in ``EXTENSION_INTERFACES`` (``"IServerName"``)."""
    if isinstance(extension, InterfaceClass):
        return extension
    if isinstance(extension, str):
        iface = EXTENSION_INTERFACES.get(extension) or EXTENSION_INTERFACES.get(extension.rpartition(".")[2])
        if iface is not None:
            return iface
        known = ", ".join(sorted(EXTENSION_INTERFACES))
        raise RegistryError(f"unknown extension interface {extension!r}; known: {known}")
    raise TypeError(f"an extension is an interface or its name such as 'IServerName', not {type(extension).__name__}")


def _extensions(provides: Iterable[object] | str | InterfaceClass) -> tuple[InterfaceClass, ...]:
    items: Iterable[object] = [provides] if isinstance(provides, (str, InterfaceClass)) else provides
    return tuple(dict.fromkeys(extension_for(e) for e in items))


def _lacking(cls: type, extensions: tuple[InterfaceClass, ...]) -> list[str]:
    return [e.__name__ for e in extensions if not e.implementedBy(cls)]


def dana_name(iface: InterfaceClass) -> str:
    return str(iface.getTaggedValue(DANA_NAME))


def _extenders(iface: InterfaceClass) -> list[str]:
    return sorted(dana_name(i) for i in SPEC_INTERFACES.values() if i is not iface and i.extends(iface))


def _is_abstract(iface: InterfaceClass) -> bool:
    return bool(_extenders(iface))


def check_component(component: Component) -> None:
    """Raise RegistryError unless every provider conforms to its interface.

    The message names the component, the class, the interface and every
    problem ``verifyClass`` found (a missing method, a wrong signature).
    """
    if not isinstance(component, Component):
        raise RegistryError(f"a component is declared with nettls.Component, not {type(component).__name__}")
    if not component.name or not isinstance(component.name, str):
        raise RegistryError(f"component has no name: {component!r}")
    problems = []
    for name, cls in component.provides.items():
        try:
            iface = interface_for(name)
        except RegistryError as exc:
            problems.append(f"provides {name!r}: {exc}")
            continue
        try:
            verifyClass(iface, cls)
        except Exception as exc:  # zope's Invalid / MultipleInvalid / BrokenImplementation
            problems.append(f"{getattr(cls, '__qualname__', cls)!s} does not conform to {dana_name(iface)}: {exc}")
    for name in component.requires:
        try:
            interface_for(name)
        except RegistryError as exc:
            problems.append(f"requires {name!r}: {exc}")
    if problems:
        raise RegistryError(f"component {component.name!r} refused: " + "; ".join(problems))


def read_manifest(text: str, origin: str = "manifest") -> list[tuple[str, str]]:
    """The ``(interface, component)`` pairs of a Dana-style manifest's defaultLinks."""
    try:
        data = json.loads(text)
        pairs = [(str(entry["interface"]), str(entry["component"])) for entry in data.get("defaultLinks", [])]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise RegistryError(f"{origin}: not a manifest with defaultLinks [{{interface, component}}]: {exc}") from exc
    return [(dana_name(interface_for(iface)), comp) for iface, comp in pairs]


def parse_links_variable(value: str) -> list[tuple[str, str]]:
    """Parse ``NETTLS_LINKS``: ``net.TLS=pyopenssl,net.TLSContext=pyopenssl``."""
    pairs = []
    for item in value.split(","):
        item = item.strip()
        if not item:
            continue
        name, sep, comp = item.partition("=")
        if not sep or not name.strip() or not comp.strip():
            raise RegistryError(f"{LINKS_VARIABLE}: {item!r} is not INTERFACE=COMPONENT")
        try:
            iface = interface_for(name.strip())
        except RegistryError as exc:
            raise RegistryError(f"{LINKS_VARIABLE}: {exc}") from None
        pairs.append((dana_name(iface), comp.strip()))
    return pairs


class Registry:
    """Components, the interfaces they provide, and the links between them.

    Args:
        discover: load the ``nettls.components`` entry points on first use.
        manifest: the manifest's JSON text; None reads the package's own.
        environ: where ``NETTLS_LINKS`` is read; None means ``os.environ``.
    """

    def __init__(
        self,
        *,
        discover: bool = True,
        manifest: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._zope = Components("nettls")
        self._status: dict[str, ComponentStatus] = {}
        self._discover = discover
        self._manifest = manifest
        self._environ = environ
        self._ready = False
        self._lock = threading.RLock()

    # -- setting up ---------------------------------------------------------

    def _ensure_ready(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            if self._discover:
                self._load_entry_points()
            self._ready = True
            self._apply_default_links()

    def _load_entry_points(self) -> None:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            origin = f"entry point {ep.name} = {ep.value}"
            if ep.name in self._status:
                continue
            try:
                component = ep.load()
            except Exception as exc:  # any import failure makes it unavailable
                self._status[ep.name] = ComponentStatus(ep.name, False, f"{type(exc).__name__}: {exc}", None, origin)
                continue
            try:
                self._register(component, origin)
            except RegistryError as exc:
                self._status[ep.name] = ComponentStatus(ep.name, False, str(exc), None, origin)

    def _apply_default_links(self) -> None:
        text = self._manifest
        origin = "manifest"
        if text is None:
            text = resources.files("nettls").joinpath("manifest.json").read_text(encoding="utf-8")
            origin = "nettls/manifest.json"
        for iface, comp in read_manifest(text, origin):
            if self._available(comp):
                self._link(iface, comp)
        environ = os.environ if self._environ is None else self._environ
        value = environ.get(LINKS_VARIABLE, "")
        for iface, comp in parse_links_variable(value):
            status = self._status.get(comp)
            if status is None:
                raise RegistryError(f"{LINKS_VARIABLE}: unknown component {comp!r} for {iface}; known: {self._known()}")
            if not status.available:
                raise RegistryError(f"{LINKS_VARIABLE}: component {comp!r} for {iface} is unavailable: {status.reason}")
            self._link(iface, comp)

    def _known(self) -> str:
        return ", ".join(sorted(self._status)) or "none"

    def _available(self, name: str) -> bool:
        status = self._status.get(name)
        return status is not None and status.available

    def _register(self, component: Component, origin: str) -> None:
        check_component(component)
        with self._lock:
            for name, cls in component.provides.items():
                document_from_interfaces(cls)  # help(TLS.connect) shows the contract
                self._zope.registerUtility(cls, interface_for(name), component.name, event=False)
            self._status[component.name] = ComponentStatus(component.name, True, None, component, origin)

    def register(self, component: Component) -> None:
        """Add ``component``, refusing it (RegistryError) if a provider does
        not conform to its interface."""
        self._ensure_ready()
        self._register(component, "registered at run time")

    # The zope stubs type queryUtility and getUtilitiesFor for an interface
    # named in the source (the argument its class, the result an instance of
    # it). Ours are found by Dana name at run time and what is registered for
    # them is a class, so these two hold the only lookups and say so.

    def _utility(self, iface: InterfaceClass, name: str = "") -> type | None:
        """The class registered for ``iface`` under ``name`` (``""``: the link), or None."""
        provided: Any = iface
        cls: type | None = self._zope.queryUtility(provided, name)
        return cls

    def _utilities(self, iface: InterfaceClass) -> Iterator[tuple[str, type]]:
        """``(component name, class)`` for every class registered for ``iface``."""
        provided: Any = iface
        return self._zope.getUtilitiesFor(provided)

    def _link(self, name: str, component: str) -> None:
        iface = interface_for(name)
        cls = self._utility(iface, component)
        if cls is None:
            raise RegistryError(f"component {component!r} does not provide {dana_name(iface)}")
        self._zope.registerUtility(cls, iface, "", event=False)

    # -- the public API -------------------------------------------------------

    def link(self, name: str, component: str) -> None:
        """Link interface ``name`` to ``component`` from now on.

        Objects already made keep their class; new resolutions use the new link.
        """
        self._ensure_ready()
        status = self._status.get(component)
        if status is None:
            raise RegistryError(f"unknown component {component!r}; known: {self._known()}")
        if not status.available:
            raise RegistryError(f"component {component!r} is unavailable: {status.reason}")
        with self._lock:
            self._link(name, component)

    def resolve(self, name: str, component: str | None = None, *, provides: Iterable[object] = ()) -> type:
        """The class implementing interface ``name``: the linked component's,
        or ``component``'s when given. Raises RegistryError otherwise.

        With ``provides`` (extension interfaces, or their names such as
        ``"IServerName"``), the class must also provide each of them: the
        linked component's if it does, else the first available component,
        by name, whose class does. With ``component`` too, that component's
        class must. A RegistryError names what each candidate lacks.
        """
        self._ensure_ready()
        iface = interface_for(name)
        extensions = _extensions(provides)
        if _is_abstract(iface):
            raise RegistryError(
                f"{dana_name(iface)} is abstract: resolve one of the interfaces that extend it "
                f"({', '.join(_extenders(iface))})"
            )
        if component is None and extensions:
            return self._resolve_providing(iface, extensions)
        if component is None:
            cls = self._utility(iface)
            if cls is None:
                providers = self.providers(name)
                hint = f"; link one of: {', '.join(providers)}" if providers else "; no available component provides it"
                raise RegistryError(f"{dana_name(iface)} is not linked to any component{hint}")
            return cls
        status = self._status.get(component)
        if status is None:
            raise RegistryError(f"unknown component {component!r}; known: {self._known()}")
        if not status.available:
            raise RegistryError(f"component {component!r} is unavailable: {status.reason}")
        cls = self._utility(iface, component)
        if cls is None:
            raise RegistryError(f"component {component!r} does not provide {dana_name(iface)}")
        lacking = _lacking(cls, extensions)
        if lacking:
            raise RegistryError(f"component {component!r}: its {dana_name(iface)} does not provide {', '.join(lacking)}")
        return cls

    def _resolve_providing(self, iface: InterfaceClass, extensions: tuple[InterfaceClass, ...]) -> type:
        """The linked class if it provides ``extensions``, else the first
        available component's that does; RegistryError naming what lacks what."""
        linked = self._utility(iface)
        if linked is not None and not _lacking(linked, extensions):
            return linked
        candidates = sorted((n, c) for n, c in self._utilities(iface) if n)
        for name, cls in candidates:
            if not _lacking(cls, extensions):
                if linked is not None:
                    log.warning(
                        "%s: using the %s component instead of the linked one, which does not provide %s",
                        dana_name(iface),
                        name,
                        ", ".join(_lacking(linked, extensions)),
                    )
                return cls
        wanted = ", ".join(e.__name__ for e in extensions)
        gaps = "; ".join(f"{n} lacks {', '.join(_lacking(c, extensions))}" for n, c in candidates)
        raise RegistryError(
            f"no available component provides {dana_name(iface)} with {wanted}" + (f" ({gaps})" if gaps else "")
        )

    def providers(self, name: str, *, provides: Iterable[object] = ()) -> list[str]:
        """Names of the available components that provide interface ``name``
        (and, with ``provides``, every one of those extension interfaces)."""
        self._ensure_ready()
        iface = interface_for(name)
        extensions = _extensions(provides)
        return sorted(n for n, c in self._utilities(iface) if n and not _lacking(c, extensions))

    def linked(self, name: str) -> str | None:
        """The name of the component ``name`` is linked to, or None."""
        self._ensure_ready()
        iface = interface_for(name)
        cls = self._utility(iface)
        if cls is None:
            return None
        for comp, other in self._utilities(iface):
            if comp and other is cls:
                return comp
        return None

    def links(self) -> dict[str, str | None]:
        """Every concrete spec interface and the component it is linked to."""
        return {n: self.linked(n) for n, i in SPEC_INTERFACES.items() if not _is_abstract(i)}

    def components(self) -> list[ComponentStatus]:
        """Every component found, available or not, by name."""
        self._ensure_ready()
        return [self._status[n] for n in sorted(self._status)]

    def component(self, name: str) -> Component:
        """The declaration of available component ``name``."""
        self._ensure_ready()
        status = self._status.get(name)
        if status is None:
            raise RegistryError(f"unknown component {name!r}; known: {self._known()}")
        if status.component is None:
            raise RegistryError(f"component {name!r} is unavailable: {status.reason}")
        return status.component

    def load(self, app: type[T], *args: Any, **kwargs: Any) -> T:
        """Make an instance of ``app`` with its required interfaces wired.

        ``app.requires`` names what it needs, as Dana's ``requires`` does:
        a sequence of interface names (each becomes an attribute named
        after the interface, ``net.TLS`` -> ``self.TLS``) or a mapping of
        attribute name to interface name. The attributes hold the linked
        classes and are set before ``__init__`` runs with ``args``.
        """
        wiring = self.wiring(getattr(app, "requires", None), owner=getattr(app, "__qualname__", repr(app)))
        obj = app.__new__(app)
        for attr, cls in wiring.items():
            setattr(obj, attr, cls)
        obj.__init__(*args, **kwargs)  # type: ignore[misc]
        return obj

    def wiring(self, requires: Iterable[str] | Mapping[str, str] | None, owner: str = "application") -> dict[str, type]:
        """Resolve a ``requires`` declaration to ``{attribute: class}``."""
        if requires is None:
            raise RegistryError(f"{owner} declares no 'requires' (a list of interface names such as 'net.TLS')")
        if isinstance(requires, str):
            requires = [requires]
        pairs = requires.items() if isinstance(requires, Mapping) else ((dana_name(interface_for(n)).split(".")[-1], n) for n in requires)
        wired = {}
        for attr, name in pairs:
            try:
                wired[attr] = self.resolve(name)
            except RegistryError as exc:
                raise RegistryError(f"{owner} requires {name}: {exc}") from None
        return wired


#: The process-wide registry that ``nettls.resolve`` and friends use.
registry = Registry()


# Typed for the Dana names (long and short), so that a type checker knows what
# the class makes: nettls.interfaces.protocols mirrors each interface.
@overload
def resolve(name: Literal["net.TLS", "TLS"], component: str | None = None, *, provides: Iterable[object] = ()) -> type[protocols.TLS]: ...
@overload
def resolve(name: Literal["net.TLSContext", "TLSContext"], component: str | None = None, *, provides: Iterable[object] = ()) -> type[protocols.TLSContext]: ...
@overload
def resolve(name: Literal["net.TLSCertStore", "TLSCertStore"], component: str | None = None, *, provides: Iterable[object] = ()) -> type[protocols.TLSCertStore]: ...
@overload
def resolve(name: Literal["net.TCPSocket", "TCPSocket"], component: str | None = None, *, provides: Iterable[object] = ()) -> type[protocols.TCPSocket]: ...
@overload
def resolve(name: Literal["net.TCPServerSocket", "TCPServerSocket"], component: str | None = None, *, provides: Iterable[object] = ()) -> type[protocols.TCPServerSocket]: ...
@overload
def resolve(name: Literal["net.TCPMonitor", "TCPMonitor"], component: str | None = None, *, provides: Iterable[object] = ()) -> type[protocols.TCPMonitor]: ...
@overload
def resolve(name: str, component: str | None = None, *, provides: Iterable[object] = ()) -> type: ...
def resolve(name: str, component: str | None = None, *, provides: Iterable[object] = ()) -> type:
    """``registry.resolve``: the class implementing ``name`` (see Registry.resolve)."""
    return registry.resolve(name, component, provides=provides)


def link(name: str, component: str) -> None:
    """``registry.link``: link interface ``name`` to ``component``."""
    registry.link(name, component)


def load(app: type[T], *args: Any, **kwargs: Any) -> T:
    """``registry.load``: an instance of ``app`` with its requirements wired."""
    return registry.load(app, *args, **kwargs)
