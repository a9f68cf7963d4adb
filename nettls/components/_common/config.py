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
import functools
import itertools
import os
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

from nettls.escape import escape_control

from . import limits
from .locations import load_location, log
from .pem import (
    LimitError,
    as_bytes,
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
#: Fields of ``ContextConfig`` that hold certificates, shown by count in its repr.
_PEM_FIELDS = frozenset({"certificate", "chain", "clientCertificateTrust", "verifyTrust"})


def _shown(name: str, value: Any) -> str:
    """How ``ContextConfig``'s repr shows a field: never the key, PEM by count."""
    if value is None or name not in _PEM_FIELDS | {"privateKey"}:
        return repr(value)
    if name == "privateKey":
        return "<private key>"
    count = 1 if isinstance(value, str) else len(value)
    return f"<{count} PEM certificate{'s' if count != 1 else ''}>"


@dataclass(frozen=True, repr=False)
class ContextConfig:
    """A snapshot of an ``ITLSContext``'s public configuration; hashable, so
    native contexts can be cached by it. Its repr shows no key material."""

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
    #: Where the session keys are logged (IKeyLog); None: SSLKEYLOGFILE, if set.
    keyLogFile: str | None = None

    def __hash__(self) -> int:
        # Every session looks its native context up by its configuration (a
        # server: one per connection, the same object each time), so the hash
        # of all the fields is worked out once and kept on the instance.
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = hash(tuple(getattr(self, f.name) for f in dataclasses.fields(self)))
            object.__setattr__(self, "_hash", cached)
        return cached

    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}={_shown(f.name, getattr(self, f.name))}" for f in dataclasses.fields(self))
        return f"ContextConfig({fields})"

    @property
    def server(self) -> bool:
        return self.mode == TLSContextConstants.SERVER

    def for_name(self, entry: NameCertificate) -> "ContextConfig":
        """This configuration presenting ``entry``'s certificate instead (what a
        server switches to when a client asks for that name)."""
        return dataclasses.replace(
            self, certificate=entry.certificate, privateKey=entry.privateKey, chain=entry.chain, nameCertificates=()
        )


@functools.lru_cache(maxsize=256)
def _canonical_certificates(pems: tuple[Any, ...], what: str) -> tuple[str, ...]:
    """``pems`` re-encoded by the one parser (SPEC 14), for what another
    implementation's context or store hands over."""
    return tuple(certificate_pem(c) for i, pem in enumerate(pems) for c in parse_certificates(pem, f"{what} {i}"))


def _canonical_key(pem: Any) -> str:  # not cached: no key outlives its context in a cache
    return key_pem(parse_private_key(pem, "the context's private key"))


def _canonical_certificate(pem: Any, what: str) -> str:
    return certificate_pem(parse_certificate(pem, what))


def _canonical_entry(entry: Any) -> NameCertificate:
    return NameCertificate(
        entry.name,
        _canonical_certificate(entry.certificate, "name certificate"),
        _canonical_key(entry.privateKey),
        _canonical_certificates(tuple(entry.chain), "name certificate chain"),
    )


def context_config(ctx: Any) -> ContextConfig:
    """The configuration of ``ctx``, a context of any component.

    A context of another implementation is read through the interfaces
    and its PEM re-encoded by the one parser (CertificateError if it does
    not parse), so no library sees text that did not go through it.
    """
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
        extras["clientCertificateTrust"] = _canonical_certificates(tuple(ctx.clientCertificateTrust), "client certificate trust")
    if IServerNameCertificates.providedBy(ctx):
        extras["nameCertificates"] = tuple(_canonical_entry(e) for e in ctx.nameCertificates)
    if IVerifyOnConnect.providedBy(ctx):
        trust = ctx.verifyTrust
        extras["verifyTrust"] = None if trust is None else _canonical_certificates(tuple(trust), "verification trust")
        extras["verifyHostName"] = bool(ctx.verifyHostName) and trust is not None
    certificate = None if ctx.certificate is None else _canonical_certificate(ctx.certificate, "the context's certificate")
    key = None if ctx.privateKey is None else _canonical_key(ctx.privateKey)
    chain = _canonical_certificates(tuple(ctx.chain), "the context's chain certificate")
    return ContextConfig(ctx.mode, certificate, key, chain, ctx.cipherSet, **extras)


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
    """The trusted PEM certificates of ``store``, a store of any component
    (another implementation's re-encoded by the one parser; one that does
    not parse is left out, with a WARNING: it cannot be trusted)."""
    if isinstance(store, BaseCertStore):
        return store._certificates
    if not ITLSCertStore.providedBy(store):
        raise TypeError(f"verifyCertificate() takes an ITLSCertStore, not {type(store).__name__}")
    return _foreign_store(tuple(store.certificates))


@functools.lru_cache(maxsize=32)
def _foreign_store(pems: tuple[Any, ...]) -> tuple[str, ...]:
    kept: list[str] = []
    for i, pem in enumerate(pems):
        try:
            kept.extend(_canonical_certificates((pem,), f"store certificate {i}"))
        except CertificateError as exc:
            log.warning("%s; it is not trusted", exc)
    return tuple(kept)


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


def _chain(chain: Any, what: str, most: int) -> list[Any]:
    """The certificates of a chain given as PEM text or a list of PEM
    texts, at most ``most`` of them and ``limits.MAX_CHAIN_BYTES`` of text
    (LimitError past either, before the rest is read or parsed)."""
    if isinstance(chain, (str, bytes, bytearray, memoryview)):
        items: list[Any] = [chain]
    else:
        try:
            items = list(itertools.islice(iter(chain), most + 1))
        except TypeError:
            raise CertificateError(f"{what} must be a list of PEM certificates, not {type(chain).__name__}") from None
    if len(items) > most:
        raise LimitError(f"{what} holds more than {most} certificates, the limit")
    certificates: list[Any] = []
    size = 0
    for i, item in enumerate(items):
        raw = as_bytes(item, f"chain certificate {i}")
        size += len(raw)
        if size > limits.MAX_CHAIN_BYTES:
            raise LimitError(f"{what} is over the limit of {limits.MAX_CHAIN_BYTES} bytes of PEM in all")
        certificates.extend(parse_certificates(raw, f"chain certificate {i}"))
        if len(certificates) > most:
            raise LimitError(f"{what} holds more than {most} certificates, the limit")
    return certificates


def chain_pems(chain: Any) -> tuple[str, ...]:
    """Canonical PEM of a certificate chain given as PEM text or a list of
    PEM texts (as ``setCertificateChain`` takes it); CertificateError otherwise."""
    return tuple(certificate_pem(c) for c in _chain(chain, "certificate chain", limits.MAX_CONTEXT_CHAIN_CERTIFICATES))


@implementer(ITLSCertStore)
class BaseCertStore:
    """``net.TLSCertStore`` as a tuple of PEM; see ``ITLSCertStore``.

    Bounded (``limits.py``): a call that would take the store over its
    limits, or that reads too much, adds nothing, returns False and logs
    why as a WARNING on the ``nettls`` logger.
    """

    def __init__(self) -> None:
        self._certificates: tuple[str, ...] = ()
        self._known: set[str] = set()
        self._bytes = 0

    @property
    def certificates(self) -> tuple[str, ...]:
        return self._certificates

    def _add(self, pems: Iterable[str]) -> None:
        """Add canonical PEM not yet held; LimitError (and nothing added) past the store's limits."""
        new = [p for p in dict.fromkeys(pems) if p not in self._known]
        if not new:
            return
        count = len(self._certificates) + len(new)
        if count > limits.MAX_STORE_CERTIFICATES:
            raise LimitError(f"the store would hold {count} certificates, over the limit of {limits.MAX_STORE_CERTIFICATES}")
        size = self._bytes + sum(len(p) for p in new)
        if size > limits.MAX_STORE_BYTES:
            raise LimitError(f"the store would hold {size} bytes of PEM, over the limit of {limits.MAX_STORE_BYTES}")
        self._certificates = self._certificates + tuple(new)
        self._known.update(new)
        self._bytes = size

    def addCertificate(self, pem: str | bytes) -> bool:
        try:
            self._add(certificate_pem(c) for c in parse_certificates(pem))
        except LimitError as exc:
            log.warning("addCertificate(): %s", exc)
            return False
        except CertificateError as exc:  # Dana's False; the reason goes to the log
            log.warning("addCertificate(): %s", exc)
            return False
        return True

    def loadLocation(self, path: Any) -> bool:
        try:
            shown = escape_control(os.fsdecode(os.fspath(path)))
        except TypeError as exc:
            log.warning("loadLocation(): %s", exc)
            return False
        try:
            pems = load_location(path).pems
            if not pems:
                missing = not os.path.exists(os.fspath(path))
                log.warning("loadLocation(%s): %s", shown, "no such file or directory" if missing else "no certificate there")
                return False
            self._add(pems)
        except LimitError as exc:
            log.warning("loadLocation(%s): %s", shown, exc)
            return False
        except (OSError, TypeError, ValueError) as exc:  # a typo in a CA path must not pass unseen
            log.warning("loadLocation(%s): %s", shown, escape_control(exc))
            return False
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
        if isinstance(chain, (str, bytes, bytearray, memoryview)):
            chain = [chain]
        try:
            items = list(chain)
        except TypeError:
            raise CertificateError(f"chain must be a list of PEM certificates or None, not {type(chain).__name__}") from None
        most = limits.MAX_VERIFY_CHAIN_CERTIFICATES
        if len(items) > most:  # before parsing: 5,000 certificates would cost their parse first
            raise CertificateError(f"chain too long: {len(items)} certificates given, at most {most} are accepted")
        for i, item in enumerate(items):
            others.extend(parse_certificates(item, f"chain certificate {i}"))
    return leaf, others

