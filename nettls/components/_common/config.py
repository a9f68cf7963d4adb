"""Contexts and stores as plain configuration, readable across components.

``BaseTLSContext`` and ``BaseCertStore`` implement the Dana methods once;
a component subclasses them and adds only how its library's native
context or store is built from the configuration (SPEC section 8: "a
session of any component can use a context of any other").

``ContextConfig`` also carries the settings of the context-level extension
interfaces (``nettls.interfaces.tlsext``: ALPN, minimum version, client
certificates, certificates by name, verification on connect), each with a
default that leaves the spec's behaviour unchanged; ``context_config``
reads them from a context of any component through those interfaces'
attributes. The methods that set them are in ``extensions.py``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from typing import Any, Iterable

from zope.interface import implementer

from nettls.interfaces import (
    CertificateError,
    TLSError,
    IClientCertificates,
    IMinimumVersion,
    IProtocolNegotiation,
    IServerNameCertificates,
    ITLSCertStore,
    ITLSContext,
    IVerifyOnConnect,
    NameCertificate,
    TLSContextConstants,
)

from .pem import (
    PEM_BEGIN,
    PEM_END,
    certificate_pem,
    check_key_matches,
    key_pem,
    parse_certificate,
    parse_certificates,
    parse_private_key,
)

__all__ = [
    "ContextConfig",
    "BaseTLSContext",
    "BaseCertStore",
    "chain_pems",
    "check_honoured",
    "context_config",
    "EXTENSION_SETTINGS",
    "store_certificates",
    "verify_inputs",
]

_MODES = (TLSContextConstants.CLIENT, TLSContextConstants.SERVER)
_CIPHER_SETS = (TLSContextConstants.CIPHER_DEFAULT, TLSContextConstants.CIPHER_ALL)
_PEM_BLOCK = re.compile(re.escape(PEM_BEGIN) + rb".+?" + re.escape(PEM_END), re.S)


@dataclass(frozen=True)
class ContextConfig:
    """A snapshot of an ``ITLSContext``'s public configuration; hashable, so
    native contexts can be cached by it."""

    mode: int
    certificate: str | None
    privateKey: str | None
    chain: tuple[str, ...]
    cipherSet: int
    # -- extension settings (nettls.interfaces.tlsext); defaults change nothing --
    #: ALPN protocols, in preference order (IProtocolNegotiation); () is off.
    applicationProtocols: tuple[str, ...] = ()
    #: The oldest protocol negotiated (IMinimumVersion).
    minimumVersion: str = "TLSv1.2"
    #: CLIENT_CERT_NONE / REQUEST / REQUIRE (IClientCertificates).
    clientCertificatePolicy: int = 0
    #: What client certificates are verified against (PEM).
    clientCertificateTrust: tuple[str, ...] = ()
    #: Certificates by SNI name (IServerNameCertificates).
    nameCertificates: tuple[NameCertificate, ...] = ()
    #: What connect() verifies the server against (IVerifyOnConnect); None is off.
    verifyTrust: tuple[str, ...] | None = None
    #: Whether connect() also checks the host name.
    verifyHostName: bool = False

    def __hash__(self) -> int:
        # Every session looks its native context up by its configuration (a
        # server: one per connection, the same object each time), so the hash
        # of all the fields is worked out once and kept on the instance.
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(tuple(getattr(self, f.name) for f in dataclasses.fields(self)))
            object.__setattr__(self, "_hash", cached)
        return cached

    @property
    def server(self) -> bool:
        return self.mode == TLSContextConstants.SERVER

    def for_name(self, entry: NameCertificate) -> "ContextConfig":
        """This configuration presenting ``entry``'s certificate instead (what a
        server switches to when a client asks for that name)."""
        return dataclasses.replace(
            self, certificate=entry.certificate, privateKey=entry.privateKey, chain=entry.chain, nameCertificates=()
        )


def context_config(ctx: Any) -> ContextConfig:
    """The configuration of ``ctx``, a context of any component."""
    if isinstance(ctx, BaseTLSContext):
        return ctx._config
    if not ITLSContext.providedBy(ctx):
        raise TypeError(f"TLS() takes an ITLSContext, not {type(ctx).__name__}")
    extras: dict[str, Any] = {}
    if IProtocolNegotiation.providedBy(ctx):
        extras["applicationProtocols"] = tuple(ctx.applicationProtocols)
    if IMinimumVersion.providedBy(ctx):
        extras["minimumVersion"] = ctx.minimumVersion
    if IClientCertificates.providedBy(ctx):
        extras["clientCertificatePolicy"] = ctx.clientCertificatePolicy
        extras["clientCertificateTrust"] = tuple(ctx.clientCertificateTrust)
    if IServerNameCertificates.providedBy(ctx):
        extras["nameCertificates"] = tuple(
            e if isinstance(e, NameCertificate) else NameCertificate(e.name, e.certificate, e.privateKey, tuple(e.chain))
            for e in ctx.nameCertificates
        )
    if IVerifyOnConnect.providedBy(ctx):
        trust = ctx.verifyTrust
        extras["verifyTrust"] = None if trust is None else tuple(trust)
        extras["verifyHostName"] = bool(ctx.verifyHostName) and trust is not None
    return ContextConfig(ctx.mode, ctx.certificate, ctx.privateKey, tuple(ctx.chain), ctx.cipherSet, **extras)


#: The extension settings of a ``ContextConfig`` and their defaults (which
#: leave the spec's behaviour unchanged).
EXTENSION_SETTINGS: dict[str, Any] = {
    f.name: f.default for f in dataclasses.fields(ContextConfig) if f.default is not dataclasses.MISSING
}


_ALL_SETTINGS = frozenset(EXTENSION_SETTINGS)


def check_honoured(session: Any, config: ContextConfig) -> None:
    """TLSError unless ``session``'s class honours every extension setting of
    ``config`` that differs from its default.

    A session class names the settings it honours in a class attribute
    ``context_extensions`` (a set of ``ContextConfig`` field names); one
    that names none honours none. So a session of a component that knows
    nothing of, say, verification on connect refuses a context that asks
    for it, rather than connecting unverified.
    """
    honoured: frozenset[str] = getattr(type(session), "context_extensions", frozenset())
    if honoured >= _ALL_SETTINGS:  # honours everything: nothing to look at (every handshake asks)
        return
    unhonoured = [name for name, default in EXTENSION_SETTINGS.items() if getattr(config, name) != default and name not in honoured]
    if unhonoured:
        component = getattr(session, "component", type(session).__name__)
        raise TLSError(
            f"a {component} session cannot honour the context's {', '.join(unhonoured)}: "
            f"use a context without them, or a component whose sessions provide the matching extensions"
        )


def store_certificates(store: Any) -> tuple[str, ...]:
    """The trusted PEM certificates of ``store``, a store of any component."""
    if isinstance(store, BaseCertStore):
        return store._certificates
    if not ITLSCertStore.providedBy(store):
        raise TypeError(f"verifyCertificate() takes an ITLSCertStore, not {type(store).__name__}")
    return tuple(store.certificates)


@implementer(ITLSContext)
class BaseTLSContext(TLSContextConstants):
    """``net.TLSContext`` as configuration; see ``ITLSContext``."""

    def __init__(self, mode: int) -> None:
        if type(mode) is not int or mode not in _MODES:
            raise ValueError(f"TLSContext mode must be CLIENT (0x1) or SERVER (0x2), not {mode!r}")
        self._config = ContextConfig(mode, None, None, (), self.CIPHER_DEFAULT)

    def _update(self, **changes: Any) -> None:
        self._config = dataclasses.replace(self._config, **changes)

    @property
    def mode(self) -> int:
        return self._config.mode

    @property
    def certificate(self) -> str | None:
        return self._config.certificate

    @property
    def privateKey(self) -> str | None:
        return self._config.privateKey

    @property
    def chain(self) -> tuple[str, ...]:
        return self._config.chain

    @property
    def cipherSet(self) -> int:
        return self._config.cipherSet

    def setCertificate(self, cert: str | bytes, key: str | bytes) -> bool:
        parsed_cert = parse_certificate(cert, "certificate")
        parsed_key = parse_private_key(key)
        check_key_matches(parsed_cert, parsed_key)
        self._update(certificate=certificate_pem(parsed_cert), privateKey=key_pem(parsed_key))
        return True

    def setCertificateChain(self, chain: Iterable[str | bytes] | str | bytes) -> bool:
        self._update(chain=chain_pems(chain))
        return True

    def setCipherSet(self, mode: int) -> bool:
        if type(mode) is not int or mode not in _CIPHER_SETS:
            raise ValueError(f"cipher set must be CIPHER_DEFAULT (1) or CIPHER_ALL (2), not {mode!r}")
        self._update(cipherSet=mode)
        return True

    def __repr__(self) -> str:
        mode = "SERVER" if self._config.server else "CLIENT"
        cert = "with certificate" if self._config.certificate else "no certificate"
        return f"<{type(self).__module__}.{type(self).__qualname__} {mode} {cert}>"


def chain_pems(chain: Any) -> tuple[str, ...]:
    """Canonical PEM of a certificate chain given as PEM text or a list of
    PEM texts (as ``setCertificateChain`` takes it); CertificateError otherwise."""
    if isinstance(chain, (str, bytes, bytearray)):
        items: list[Any] = [chain]
    else:
        try:
            items = list(chain)
        except TypeError:
            raise CertificateError(f"certificate chain must be a list of PEM certificates, not {type(chain).__name__}") from None
    pems: list[str] = []
    for i, item in enumerate(items):
        pems.extend(certificate_pem(c) for c in parse_certificates(item, f"chain certificate {i}"))
    return tuple(pems)


def _certificates_in(raw: bytes) -> list[str]:
    """Canonical PEM of each certificate block in ``raw`` that parses."""
    found = []
    for block in _PEM_BLOCK.findall(raw):
        try:
            found.append(certificate_pem(parse_certificate(block)))
        except CertificateError:
            continue
    return found


@implementer(ITLSCertStore)
class BaseCertStore:
    """``net.TLSCertStore`` as a tuple of PEM; see ``ITLSCertStore``."""

    def __init__(self) -> None:
        self._certificates: tuple[str, ...] = ()

    @property
    def certificates(self) -> tuple[str, ...]:
        return self._certificates

    def _add(self, pems: Iterable[str]) -> None:
        known = set(self._certificates)
        new = [p for p in dict.fromkeys(pems) if p not in known]
        if new:
            self._certificates = self._certificates + tuple(new)

    def addCertificate(self, pem: str | bytes) -> bool:
        try:
            certs = parse_certificates(pem)
        except CertificateError:
            return False
        self._add(certificate_pem(c) for c in certs)
        return True

    def loadLocation(self, path: Any) -> bool:
        try:
            path = os.fspath(path)
            if os.path.isdir(path):
                files = sorted(os.path.join(path, name) for name in os.listdir(path))
            else:
                files = [path]
            found: list[str] = []
            for name in files:
                if not os.path.isfile(name):
                    continue
                try:
                    with open(name, "rb") as f:
                        found.extend(_certificates_in(f.read()))
                except OSError:
                    continue
        except (OSError, TypeError, ValueError):
            return False
        if not found:
            return False
        self._add(found)
        return True

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.{type(self).__qualname__} {len(self._certificates)} certificates>"


def verify_inputs(certificate: Any, chain: Any) -> tuple[Any, list[Any]]:
    """Parse ``verifyCertificate``'s certificate and chain arguments.

    Returns the leaf and the chain as ``cryptography`` certificates; raises
    CertificateError saying which input does not parse.
    """
    leaf = parse_certificate(certificate, "certificate")
    others: list[Any] = []
    if chain is not None:
        if isinstance(chain, (str, bytes, bytearray)):
            chain = [chain]
        try:
            items = list(chain)
        except TypeError:
            raise CertificateError(f"chain must be a list of PEM certificates or None, not {type(chain).__name__}") from None
        for i, item in enumerate(items):
            others.extend(parse_certificates(item, f"chain certificate {i}"))
    return leaf, others

