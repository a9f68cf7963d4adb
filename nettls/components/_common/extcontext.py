"""The context and store extension interfaces, implemented once for every memory-buffer component.

``ExtendedTLSContext`` and ``ExtendedCertStore`` subclass the spec bases and
add the extensions of ``nettls.interfaces.tlsext`` that live on a context or
a store (see ``extensions`` for the whole picture): a context's settings are
configuration (``ContextConfig``); the setters here validate and store
them, the component's native-context builder honours them, and
``_check_native`` lets it refuse a setting its library refuses, at the call
rather than at the next handshake.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any, Callable, ClassVar

from zope.interface import implementer

from nettls.hostname import name_pattern, server_name
from nettls.interfaces import (
    TLS_VERSIONS,
    ClientCertificateConstants,
    IClientCertificates,
    IEncryptedKeys,
    IKeyLog,
    IMinimumVersion,
    IProtocolNegotiation,
    IServerNameCertificates,
    ISystemTrust,
    ITLSCertStore,
    IVerifyOnConnect,
    NameCertificate,
    TLSModeError,
)

from .config import BaseCertStore, BaseTLSContext, ContextConfig, chain_pems, store_certificates
from .pem import (
    certificate_pem,
    check_key_matches,
    key_pem,
    parse_certificate,
    parse_encrypted_private_key,
    parse_private_key,
)
from .trust import system_trust


__all__ = ["ExtendedTLSContext", "ExtendedCertStore", "select_name_certificate"]

_POLICIES = (
    ClientCertificateConstants.CLIENT_CERT_NONE,
    ClientCertificateConstants.CLIENT_CERT_REQUEST,
    ClientCertificateConstants.CLIENT_CERT_REQUIRE,
)
#: RFC 7301: a protocol name is 1 to 255 bytes.
_MAX_PROTOCOL = 255


def _store_pems(store: Any, call: str) -> tuple[str, ...]:
    if not ITLSCertStore.providedBy(store):
        raise TypeError(f"{call} takes an ITLSCertStore, not {type(store).__name__}")
    pems = store_certificates(store)
    if not pems:
        raise ValueError(f"{call}: the store is empty, so nothing would be trusted")
    return pems


def select_name_certificate(config: ContextConfig, name: str | None) -> NameCertificate | None:
    """The entry of ``config.nameCertificates`` a client asking for ``name``
    gets: an exact name first, then a wildcard; None for the context's own."""
    if not name or not config.nameCertificates:
        return None
    try:
        wanted = server_name(name)
    except (TypeError, ValueError):
        return None
    if wanted.is_ip:
        return None
    for entry in config.nameCertificates:
        if entry.name == wanted.text:
            return entry
    head, _, tail = wanted.text.partition(".")
    if head and tail:
        for entry in config.nameCertificates:
            if entry.name.startswith("*.") and entry.name[2:] == tail:
                return entry
    return None


# --- contexts ------------------------------------------------------------------------------


@implementer(
    IProtocolNegotiation, IMinimumVersion, IClientCertificates, IServerNameCertificates, IVerifyOnConnect, IKeyLog, IEncryptedKeys
)
class ExtendedTLSContext(ClientCertificateConstants, BaseTLSContext):
    """``BaseTLSContext`` with the context-level extensions; see their interfaces."""

    #: The component's native-context builder (cached by configuration), or
    #: None: used to surface the library's own refusal of a setting at once.
    _native_builder: ClassVar[Callable[[ContextConfig], Any] | None] = None

    def _check_native(self, config: ContextConfig) -> None:
        """Build what the component's library needs for ``config`` (and each
        name certificate), raising its refusal (CertificateError, ValueError)."""
        build = type(self)._native_builder
        if build is not None:
            build(config)
            for entry in config.nameCertificates:
                build(config.for_name(entry))

    def setCertificate(self, cert: str | bytes, key: str | bytes) -> bool:
        super().setCertificate(cert, key)
        self._check_native(self._config)  # the library's own refusal here, not at accept()
        return True

    def _apply(self, **changes: Any) -> None:
        """Change the configuration, first letting the component refuse it."""
        config = replace(self._config, **changes)
        self._check_native(config)
        self._config = config

    # -- IKeyLog ---------------------------------------------------------------------------

    @property
    def keyLogFile(self) -> str | None:
        return self._config.keyLogFile

    def setKeyLogFile(self, path: Any) -> bool:
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"setKeyLogFile() takes a path or None, not {type(path).__name__}")
        self._apply(keyLogFile=None if path is None else os.fsdecode(os.fspath(path)))
        return True

    # -- IEncryptedKeys -------------------------------------------------------------------

    def setCertificateWithPassword(self, cert: str | bytes, key: str | bytes, password: Any) -> bool:
        secret = password() if callable(password) else password
        if isinstance(secret, str):
            secret = secret.encode("utf-8")
        if not isinstance(secret, (bytes, bytearray)):
            raise TypeError(f"the password is bytes, str or a callable returning one, not {type(secret).__name__}")
        parsed_cert = parse_certificate(cert, "certificate")
        parsed_key = parse_encrypted_private_key(key, bytes(secret))
        check_key_matches(parsed_cert, parsed_key)
        self._apply(certificate=certificate_pem(parsed_cert), privateKey=key_pem(parsed_key))
        return True

    def _need(self, server: bool, call: str) -> None:
        if self._config.server != server:
            have, other = ("CLIENT", "SERVER") if server else ("SERVER", "CLIENT")
            raise TLSModeError(f"{call} is for {other} contexts; this context is {have}")

    # -- IProtocolNegotiation ---------------------------------------------------------

    @property
    def applicationProtocols(self) -> tuple[str, ...]:
        return self._config.applicationProtocols

    def setApplicationProtocols(self, protocols: Any) -> bool:
        if not isinstance(protocols, (list, tuple)):
            raise TypeError(f"setApplicationProtocols() takes a list of str, not {type(protocols).__name__}")
        for p in protocols:
            if not isinstance(p, str):
                raise TypeError(f"an application protocol is a str such as 'h2', not {type(p).__name__}")
            if not p or len(p) > _MAX_PROTOCOL or not p.isascii() or not p.isprintable():
                raise ValueError(f"application protocol {p!r}: 1 to {_MAX_PROTOCOL} printable ASCII characters")
        if len(set(protocols)) != len(protocols):
            raise ValueError(f"application protocols {list(protocols)!r} name one twice")
        self._apply(applicationProtocols=tuple(protocols))
        return True

    # -- IMinimumVersion -------------------------------------------------------------------

    @property
    def minimumVersion(self) -> str:
        return self._config.minimumVersion

    def setMinimumVersion(self, version: Any) -> bool:
        if not isinstance(version, str) or version not in TLS_VERSIONS:
            raise ValueError(f"minimum version must be one of {', '.join(TLS_VERSIONS)}, not {version!r}")
        self._apply(minimumVersion=version)
        return True

    # -- IClientCertificates -------------------------------------------------------------------

    @property
    def clientCertificatePolicy(self) -> int:
        return self._config.clientCertificatePolicy

    @property
    def clientCertificateTrust(self) -> tuple[str, ...]:
        return self._config.clientCertificateTrust

    def setClientCertificatePolicy(self, policy: Any, store: Any = None) -> bool:
        self._need(True, "setClientCertificatePolicy()")
        if type(policy) is not int or policy not in _POLICIES:
            raise ValueError(
                f"client certificate policy must be CLIENT_CERT_NONE (0), CLIENT_CERT_REQUEST (1) or "
                f"CLIENT_CERT_REQUIRE (2), not {policy!r}"
            )
        if policy == self.CLIENT_CERT_NONE:
            self._apply(clientCertificatePolicy=policy, clientCertificateTrust=())
            return True
        if store is None:
            raise ValueError("setClientCertificatePolicy(): requesting a client certificate needs a store to verify it against")
        self._apply(clientCertificatePolicy=policy, clientCertificateTrust=_store_pems(store, "setClientCertificatePolicy()"))
        return True

    # -- IServerNameCertificates ----------------------------------------------------------------

    @property
    def nameCertificates(self) -> tuple[NameCertificate, ...]:
        return self._config.nameCertificates

    def setCertificateForName(self, name: Any, cert: str | bytes, key: str | bytes, chain: Any = None) -> bool:
        self._need(True, "setCertificateForName()")
        pattern = name_pattern(name)
        parsed_cert = parse_certificate(cert, "certificate")
        parsed_key = parse_private_key(key)
        check_key_matches(parsed_cert, parsed_key)
        entry = NameCertificate(
            pattern, certificate_pem(parsed_cert), key_pem(parsed_key), () if chain is None else chain_pems(chain)
        )
        entries = list(self._config.nameCertificates)
        for i, old in enumerate(entries):
            if old.name == pattern:
                entries[i] = entry
                break
        else:
            entries.append(entry)
        self._apply(nameCertificates=tuple(entries))
        return True

    # -- IVerifyOnConnect ------------------------------------------------------------------------

    @property
    def verifyTrust(self) -> tuple[str, ...] | None:
        return self._config.verifyTrust

    @property
    def verifyHostName(self) -> bool:
        return self._config.verifyHostName

    def setVerifyOnConnect(self, store: Any, checkHostName: Any = True) -> bool:
        self._need(False, "setVerifyOnConnect()")
        if type(checkHostName) is not bool:
            raise TypeError(f"checkHostName is True or False, not {checkHostName!r}")
        if store is None:
            self._apply(verifyTrust=None, verifyHostName=False)
            return True
        self._apply(verifyTrust=_store_pems(store, "setVerifyOnConnect()"), verifyHostName=checkHostName)
        return True


# --- stores ----------------------------------------------------------------------------------


@implementer(ISystemTrust)
class ExtendedCertStore(BaseCertStore):
    """``BaseCertStore`` with the system's trusted roots; see ``ISystemTrust``."""

    def __init__(self) -> None:
        super().__init__()
        self._system_source: str | None = None

    @property
    def systemTrustSource(self) -> str | None:
        return self._system_source

    def loadSystemTrust(self) -> bool:
        pems, source = system_trust()
        if not pems:
            return False
        self._add(pems)
        self._system_source = source
        return True
