"""Mutants of the TLS extension clauses (SPEC 11): the full stdlib classes,
one extension broken each."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from nettls import CertificateError

from nettls.components._common.config import EXTENSION_SETTINGS

from . import mutant
from .bases import FullContext, FullStore, FullTLS


class _Ignoring(FullTLS):  # type: ignore[misc,valid-type]
    """A session whose native context ignores some settings of its context."""

    ignored: dict[str, Any] = {}

    def _native_context(self, config: Any) -> Any:
        return super()._native_context(dataclasses.replace(config, **self.ignored))


@mutant("11.verify-on-connect")
class LaxHostName(_Ignoring):
    """Verification on connect checks the chain but never the host name."""

    ignored = {"verifyHostName": False}


@mutant("11.client-certificates")
class NoClientCertificates(_Ignoring):
    """A server never asks for a client certificate, whatever its context says."""

    ignored = {"clientCertificatePolicy": 0, "clientCertificateTrust": ()}


@mutant("11.name-certificates")
class NoNameCertificates(_Ignoring):
    """A server presents its default certificate whatever name the client sent."""

    ignored = {"nameCertificates": ()}


@mutant("11.minimum-version")
class NoMinimumVersion(_Ignoring):
    """setMinimumVersion("TLSv1.3") is recorded but TLS 1.2 peers are still accepted."""

    ignored = {"minimumVersion": "TLSv1.2"}


@mutant("11.alpn")
class NoNegotiatedProtocol(FullTLS):  # type: ignore[misc,valid-type]
    """getApplicationProtocol() forgets the protocol the handshake chose."""

    def getApplicationProtocol(self) -> Any:
        return None


@mutant("11.end-of-stream")
class AlwaysClean(FullTLS):  # type: ignore[misc,valid-type]
    """endedCleanly() calls every end of stream clean, a truncation too."""

    def endedCleanly(self) -> Any:
        ended = super().endedCleanly()
        return None if ended is None else True


@mutant("11.resumption")
class NoResume(FullTLS):  # type: ignore[misc,valid-type]
    """setResumptionData() is accepted but never used: every handshake is a full one."""

    def setResumptionData(self, data: Any) -> bool:
        super().setResumptionData(data)
        self._resume = None
        return True


@mutant("11.server-name")
class ServerForgetsName(FullTLS):  # type: ignore[misc,valid-type]
    """A server session does not record the name the client sent: getServerName() is None."""

    def getServerName(self) -> Any:
        return None if self._config.server else super().getServerName()


@mutant("11.session-info")
class LibraryVersionName(FullTLS):  # type: ignore[misc,valid-type]
    """getProtocolVersion() gives the library's constant name ("TLSv1_3"), not "TLSv1.3"."""

    def getProtocolVersion(self) -> Any:
        version = super().getProtocolVersion()
        return None if version is None else version.replace(".", "_")


@mutant("11.alert-delivery")
class AlertDropped(FullTLS):  # type: ignore[misc,valid-type]
    """A failing session drops the alert its library wrote instead of handing it to the socket."""

    def _fail(self, reason: str) -> None:
        sock, self._sock = self._sock, None
        try:
            super()._fail(reason)
        finally:
            self._sock = sock
        if self._engine is not None:
            with self._elock:
                self._engine.output()


@mutant("11.ext-interfaces")
class ServerNameTakesPort(FullTLS):  # type: ignore[misc,valid-type]
    """setServerName() grew a required port argument, so the class no longer
    implements IServerName, which it still declares."""

    def setServerName(self, name: Any, port: int) -> bool:  # type: ignore[override]
        return bool(super().setServerName(name))


@mutant("11.ext-context-any")
class ForeignExtensionsIgnored(FullTLS):  # type: ignore[misc,valid-type]
    """The extension settings of another component's context are dropped: only
    its own contexts' reach the native context."""

    def __init__(self, context: Any) -> None:
        self._foreign = not isinstance(context, FullContext)
        super().__init__(context)

    def _native_context(self, config: Any) -> Any:
        if self._foreign:
            config = dataclasses.replace(config, **EXTENSION_SETTINGS)
        return super()._native_context(config)


@mutant("11.ext-interop")
class ServerNeverResumed(FullTLS):  # type: ignore[misc,valid-type]
    """A server's isResumed() is always False: it reads the flag only a client sets."""

    def isResumed(self) -> bool:
        return False if self._config.server else bool(super().isResumed())


@mutant("11.system-trust")
class SystemTrustNotRead(FullStore):  # type: ignore[misc,valid-type]
    """loadSystemTrust() says True once it found the system's bundle, without reading it."""

    def loadSystemTrust(self) -> bool:
        from nettls.components._common.trust import system_trust

        pems, _source = system_trust()
        return bool(pems)


@mutant("11.key-log")
class KeyLogTouched(FullContext):  # type: ignore[misc,valid-type]
    """setKeyLogFile() creates the file at once to see that it can, with the
    process's default mode (readable by others)."""

    def setKeyLogFile(self, path: Any) -> bool:
        if isinstance(path, (str, os.PathLike)):
            with open(path, "a", encoding="ascii"):
                pass
        return bool(super().setKeyLogFile(path))


@mutant("11.encrypted-keys")
class PasswordInError(FullContext):  # type: ignore[misc,valid-type]
    """A wrong password's CertificateError names the password tried, "to help"."""

    def setCertificateWithPassword(self, cert: Any, key: Any, password: Any) -> bool:
        try:
            return bool(super().setCertificateWithPassword(cert, key, password))
        except CertificateError as exc:
            raise CertificateError(f"{exc} (password tried: {password!r})") from exc
