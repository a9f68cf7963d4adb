"""Mutants of the core TLS clauses (SPEC 4, 6, 7, 8, 9, 10): the stdlib
component stripped of its extensions, one realistic bug each.

Each class says in its docstring what is wrong; where it needs the
session's internals (``_common.session``), it touches as few as it can.
"""

from __future__ import annotations

import datetime
import os
import select
import ssl
import tempfile
import threading
from typing import Any

from cryptography import x509

from nettls import TLSConnectionError, TLSError, TLSHandshakeError, VerifyStatus
from nettls.components._common.config import context_config
from nettls.interfaces import ISelectable

from . import mutant
from .bases import PlainContext, PlainStore, PlainTLS

OK, FAIL, WAIT_READ, WAIT_WRITE = 1, 0, 2, 3


# -- SPEC 4: the stream -----------------------------------------------------------


@mutant("4.recv-args")
class ZeroRecvIsEmpty(PlainTLS):
    """recv(0) returns b"" as socket.recv(0) does, instead of a ValueError."""

    def recv(self, n: int) -> bytes:
        if n == 0:
            return b""
        return super().recv(n)


@mutant("4.recv-blocking")
class SocketStyleRecv(PlainTLS):
    """A blocking recv(n) returns what is decrypted so far, as socket.recv does,
    instead of waiting for n bytes."""

    def _recv_blocking(self, n: int) -> bytes:
        data: bytes = super()._recv_blocking(1)
        if data and n > 1:
            with self._elock:
                more = self._engine.read(n - 1)
            data += more or b""
        return data


@mutant("4.recv-nonblocking")
class PollingRecv(PlainTLS):
    """A non-blocking recv() with nothing to return polls the socket for 1.5 s
    before giving up, "to save the caller a round trip"."""

    def recv(self, n: int) -> bytes:
        data = super().recv(n)
        sock = self.getSocket()
        if not data and self._nonblocking and self.getStatus() == WAIT_READ and sock is not None:
            select.select([sock.fileno()], [], [], 1.5)
            data = super().recv(n)
        return data


@mutant("4.send-types")
class EncodesStr(PlainTLS):
    """send() takes a str too, encoding it as UTF-8."""

    def send(self, data: Any) -> int:
        if isinstance(data, str):
            data = data.encode()
        return int(super().send(data))


@mutant("4.send-blocking")
class OneRecordSend(PlainTLS):
    """A blocking send() writes one record (16 KiB) and returns its count, as socket.send does."""

    def send(self, data: Any) -> int:
        if self._nonblocking:
            return int(super().send(data))
        view = memoryview(data).cast("B")
        return int(super().send(view[:16384]))


@mutant("4.broken-send")
class RawBrokenPipe(PlainTLS):
    """send() on a broken connection raises the socket's BrokenPipeError,
    not TLSConnectionError."""

    def send(self, data: Any) -> int:
        try:
            return int(super().send(data))
        except TLSConnectionError as exc:
            raise BrokenPipeError(str(exc)) from exc


@mutant("4.full-duplex")
class OneLockTLS(PlainTLS):
    """One lock around every call makes the session "thread-safe": a thread
    blocked in recv() keeps a sender out."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._everything = threading.RLock()

    def recv(self, n: int) -> bytes:
        with self._everything:
            return bytes(super().recv(n))

    def send(self, data: Any) -> int:
        with self._everything:
            return int(super().send(data))


# -- SPEC 6: the session ---------------------------------------------------------------


@mutant("6.context-any")
class ForeignStoreIgnored(PlainTLS):
    """verifyCertificate() reads the trusted certificates of its own store class
    only: another component's store counts as empty."""

    def verifyCertificate(self, store: Any, certificate: Any, chain: Any) -> Any:
        if not isinstance(store, PlainStore):
            store = PlainStore()
        return super().verifyCertificate(store, certificate, chain)


@mutant("6.context-snapshot")
class LateContextRead(PlainTLS):
    """The session reads its context at connect()/accept(), not when made, so a
    later change of the context reaches it."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._context = context

    def _start(self, sock: Any, server: bool) -> int:
        if self._engine is None:
            self._config = context_config(self._context)
            self._native = self._native_context(self._config)
        return int(super()._start(sock, server))


@mutant("6.role")
class RoleValueError(PlainTLS):
    """connect() with a SERVER context (accept() with a CLIENT one) raises ValueError, not TLSError."""

    def _start(self, sock: Any, server: bool) -> int:
        if self._engine is None and server != self._config.server:
            raise ValueError("wrong context mode for this call")
        return int(super()._start(sock, server))


@mutant("6.socket-interface")
class NeedsSelectable(PlainTLS):
    """The session works only over a socket with a descriptor (ISelectable)."""

    def _start(self, sock: Any, server: bool) -> int:
        if not ISelectable.providedBy(sock):
            raise TypeError("the socket has no file descriptor")
        return int(super()._start(sock, server))


@mutant("6.handshake")
class SmallHandshakeBuffer(PlainTLS):
    """During the handshake the engine takes one 16 KiB buffer per socket read and
    waits for the next read before taking the rest (the rustls stall on a large
    ClientHello)."""

    _held = b""

    def _feed(self, data: bytes) -> None:
        if self._state.value not in ("new", "handshaking") and not self._held:
            super()._feed(data)
            return
        data, self._held = self._held + data, b""
        if len(data) > 16384:
            data, self._held = data[:16384], data[16384:]
        super()._feed(data)


@mutant("6.handshake-failure")
class ReasonlessHandshakeError(PlainTLS):
    """A failed blocking handshake raises TLSHandshakeError without the reason."""

    def _start(self, sock: Any, server: bool) -> int:
        try:
            return int(super()._start(sock, server))
        except TLSHandshakeError as exc:
            raise TLSHandshakeError() from exc.__cause__


@mutant("6.no-verify")
class RefusesExpiredPeer(PlainTLS):
    """connect() refuses a server whose certificate has expired (a "helpful" check
    SPEC 6 leaves to verifyCertificate())."""

    def connect(self, socket: Any) -> int:
        status = int(super().connect(socket))
        leaf = self.getPeerCertificate() if status == OK else None
        if leaf is not None:
            cert = x509.load_pem_x509_certificate(leaf.encode())
            if cert.not_valid_after_utc < datetime.datetime.now(datetime.timezone.utc):
                self._fail("the server's certificate has expired")
                if self._nonblocking:
                    return FAIL
                raise TLSHandshakeError("the server's certificate has expired")
        return status


@mutant("6.handshake-signature")
class SignatureErrorsLeftToVerify(PlainTLS):
    """connect() ignores handshake errors about signatures and certificates:
    "connect() does not verify; verifyCertificate() will" (SPEC 6 misread)."""

    def connect(self, socket: Any) -> int:
        try:
            status = int(super().connect(socket))
        except TLSHandshakeError as exc:
            if _about_signatures(str(exc)):
                return OK
            raise
        if status == FAIL and _about_signatures(self._failure or ""):
            return OK
        return status


def _about_signatures(reason: str) -> bool:
    return any(word in reason.lower() for word in ("signature", "certificate", "verify"))


@mutant("6.mode")
class LateSetNonBlockingIgnored(PlainTLS):
    """setNonBlocking() after the handshake only notes the mode for the next
    connection: the socket stays blocking."""

    def setNonBlocking(self, sendWaitData: Any = None) -> bool:
        if self.getSocket() is not None:
            self._send_wait_data = sendWaitData
            return True
        return bool(super().setNonBlocking(sendWaitData))


@mutant("6.get-socket")
class ForgetsSocketOnClose(PlainTLS):
    """getSocket() returns None once the session is closed (it drops the socket)."""

    def getSocket(self) -> Any:
        return None if self._state.value in ("closing", "closed") else super().getSocket()


@mutant("6.peer-certificate")
class DERPeerCertificate(PlainTLS):
    """getPeerCertificate() returns the leaf as DER bytes, as ssl's getpeercert(True)."""

    def getPeerCertificate(self) -> Any:
        pem = super().getPeerCertificate()
        if pem is None:
            return None
        return ssl.PEM_cert_to_DER_cert(pem)


@mutant("6.peer-chain")
class ReversedIntermediates(PlainTLS):
    """getPeerCertChain() keeps the leaf first but gives the rest root-most first."""

    def getPeerCertChain(self) -> list[str]:
        chain = list(super().getPeerCertChain())
        return chain[:1] + chain[1:][::-1]


@mutant("6.verify-ok")
class OrderedChainOnly(PlainTLS):
    """verifyCertificate() takes the chain as a path in order (each the issuer of
    the one before), with no path building."""

    def verifyCertificate(self, store: Any, certificate: Any, chain: Any) -> Any:
        try:
            certs = [_load(certificate), *(_load(c) for c in chain or ())]
        except ValueError:
            return super().verifyCertificate(store, certificate, chain)
        certs = [c for i, c in enumerate(certs) if i == 0 or c != certs[0]]
        for child, parent in zip(certs, certs[1:]):
            if child.issuer != parent.subject:
                return VerifyStatus(VerifyStatus.FAIL, None, "the chain is not in order")
        return super().verifyCertificate(store, certificate, chain)


def _load(pem: Any) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)


@mutant("6.verify-fail")
class IgnoresValidity(PlainTLS):
    """verifyCertificate() does not check validity periods (a clock check
    switched off "for tests")."""

    def verifyCertificate(self, store: Any, certificate: Any, chain: Any) -> Any:
        result = super().verifyCertificate(store, certificate, chain)
        reason = (result.failedReason or "").lower()
        if result.status == VerifyStatus.FAIL and ("expired" in reason or "not yet valid" in reason or "validity" in reason):
            return VerifyStatus(VerifyStatus.OK)
        return result


@mutant("6.verify-purpose-free")
class RequiresServerAuth(PlainTLS):
    """verifyCertificate() applies the web's server profile: the leaf needs the
    serverAuth extended key usage and a subject alternative name."""

    def verifyCertificate(self, store: Any, certificate: Any, chain: Any) -> Any:
        result = super().verifyCertificate(store, certificate, chain)
        if result.status != VerifyStatus.OK:
            return result
        leaf = _load(certificate)
        try:
            usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            return VerifyStatus(VerifyStatus.FAIL, str(certificate), "not a server certificate")
        if x509.oid.ExtendedKeyUsageOID.SERVER_AUTH not in usage:
            return VerifyStatus(VerifyStatus.FAIL, str(certificate), "not a server certificate")
        return result


@mutant("6.verify-malformed")
class ParseErrorEscapes(PlainTLS):
    """verifyCertificate() parses the certificate first and lets the parser's
    ValueError escape."""

    def verifyCertificate(self, store: Any, certificate: Any, chain: Any) -> Any:
        _load(certificate)
        return super().verifyCertificate(store, certificate, chain)


@mutant("6.verify-unconnected")
class ServerSessionCannotVerify(PlainTLS):
    """verifyCertificate() on a session of a SERVER context fails: it looks for
    the client-certificate settings a server session would verify with."""

    def verifyCertificate(self, store: Any, certificate: Any, chain: Any) -> Any:
        if self._config.server and self.getSocket() is None:
            return VerifyStatus(VerifyStatus.FAIL, None, "no client certificate policy")
        return super().verifyCertificate(store, certificate, chain)


@mutant("6.status")
class StatusKeptAfterData(PlainTLS):
    """A non-blocking recv() that returns data leaves getStatus() at the
    WAIT_READ of the call before."""

    def recv(self, n: int) -> bytes:
        before = self._status
        data = bytes(super().recv(n))
        if data and before == WAIT_READ and self._status == OK:
            self._status = WAIT_READ
        return data


@mutant("6.nonblocking-reads")
class SocketFirstRecv(PlainTLS):
    """A non-blocking recv() asks the socket first and returns b"" when it has
    nothing new, though decrypted data waits inside the session."""

    def recv(self, n: int) -> bytes:
        sock = self.getSocket()
        if self._nonblocking and self.getStatus() != FAIL and sock is not None and sock.fileno() >= 0:
            if not select.select([sock.fileno()], [], [], 0)[0]:
                self._status = WAIT_READ
                return b""
        return bytes(super().recv(n))


@mutant("6.eof")
class DropsTailAtCloseNotify(PlainTLS):
    """A blocking recv(n) that meets the peer's close_notify before n bytes
    drops what it had gathered and returns b""."""

    def _recv_blocking(self, n: int) -> bytes:
        data = bytes(super()._recv_blocking(n))
        if len(data) < n and self._clean_eof:
            return b""
        return data


@mutant("6.close")
class CloseNotifyOnlyByClose(PlainTLS):
    """close() with data queued returns WAIT_WRITE and writes close_notify only
    when close() itself is called again: sendBuffer() alone never finishes it."""

    _deferred = False

    def close(self) -> int:
        if self._nonblocking and self.getBufferUnsent() > 0 and self._state.value == "open":
            self._deferred = True
            self.sendBuffer()
            return WAIT_WRITE
        if self._deferred:
            self._deferred = False
            self.sendBuffer()
            if self.getBufferUnsent() > 0:
                self._deferred = True
                return WAIT_WRITE
        return int(super().close())


# -- SPEC 7: the send buffer -------------------------------------------------------------


@mutant("7.send-count")
class OverReporting(PlainTLS):
    """send() reports every byte written the moment it is encrypted, queued or not."""

    def send(self, data: Any) -> int:
        super().send(data)
        return len(memoryview(data).cast("B"))


@mutant("7.send-wait")
class IdentityUnsubscribe(PlainTLS):
    """sendWait.unsubscribe() compares listeners by identity, so a bound method
    (a new object each time it is named) is never removed."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        event = self.sendWait

        def unsubscribe(listener: Any) -> None:
            event._listeners = tuple(x for x in event._listeners if x is not listener)

        self.sendWait = _EventView(event, unsubscribe)


class _EventView:
    """An event with one method replaced."""

    def __init__(self, event: Any, unsubscribe: Any) -> None:
        self._event = event
        self.unsubscribe = unsubscribe

    def subscribe(self, listener: Any) -> None:
        self._event.subscribe(listener)

    def fire(self, source: Any, details: Any) -> None:
        self._event.fire(source, details)


@mutant("7.delivery")
class ResendsQueuedPlaintext(PlainTLS):
    """The session keeps its own copy of the plaintext the socket queued and
    writes it again once the socket's queue has drained."""

    _copy = b""

    def send(self, data: Any) -> int:
        raw = bytes(memoryview(data).cast("B"))
        n = int(super().send(raw))
        if self.getBufferUnsent() > 0 and not self._copy:
            self._copy = raw[n:]
        return n

    def sendBuffer(self) -> int:
        n = int(super().sendBuffer())
        sock = self.getSocket()
        if self._copy and sock is not None and sock.getBufferUnsent() == 0:
            copy, self._copy = self._copy, b""
            super().send(copy)
        return n


@mutant("7.blocking")
class BlockingSendBufferCount(PlainTLS):
    """In blocking mode sendBuffer() returns the count of the last send()."""

    _last = 0

    def send(self, data: Any) -> int:
        n = int(super().send(data))
        self._last = n
        return n

    def sendBuffer(self) -> int:
        n = int(super().sendBuffer())
        return n if self._nonblocking else self._last


# -- SPEC 8: contexts and stores ----------------------------------------------------------


@mutant("8.context-mode")
class AnyModeContext(PlainContext):
    """TLSContext(mode) takes any mode: SERVER if its SERVER bit is set, else CLIENT."""

    def __init__(self, mode: int) -> None:
        if mode not in (self.CLIENT, self.SERVER):
            mode = self.SERVER if isinstance(mode, int) and mode & self.SERVER else self.CLIENT
        super().__init__(mode)


@mutant("8.set-certificate")
class PKCS8OnlyContext(PlainContext):
    """setCertificate() takes a PKCS#8 key only ("BEGIN PRIVATE KEY")."""

    def setCertificate(self, cert: Any, key: Any) -> bool:
        text = key.decode() if isinstance(key, bytes) else key
        if "-----BEGIN PRIVATE KEY-----" not in text:
            raise TLSError("the key must be PKCS#8")
        return bool(super().setCertificate(cert, key))


@mutant("8.certificate-errors")
class LibraryKeyErrorEscapes(PlainContext):
    """setCertificate() loads the key with cryptography first and lets its
    exception (TypeError for an encrypted key) escape."""

    def setCertificate(self, cert: Any, key: Any) -> bool:
        from cryptography.hazmat.primitives import serialization

        serialization.load_pem_private_key(key.encode() if isinstance(key, str) else key, password=None)
        return bool(super().setCertificate(cert, key))


@mutant("8.set-chain")
class EmptyChainIgnored(PlainContext):
    """setCertificateChain([]) leaves the chain set before (an empty list is skipped)."""

    def setCertificateChain(self, chain: Any) -> bool:
        if not chain:
            return True
        return bool(super().setCertificateChain(chain))


@mutant("8.cipher-set")
class AnyCipherSet(PlainContext):
    """setCipherSet() takes any int, treating unknown ones as the default."""

    def setCipherSet(self, mode: int) -> bool:
        if mode not in (self.CIPHER_DEFAULT, self.CIPHER_ALL):
            mode = self.CIPHER_DEFAULT
        return bool(super().setCipherSet(mode))


@mutant("8.read-only")
class WritableCipherSet(PlainContext):
    """cipherSet is a plain attribute: assigning it changes the configuration behind setCipherSet()'s back."""

    @property
    def cipherSet(self) -> int:
        return int(self._config.cipherSet)

    @cipherSet.setter
    def cipherSet(self, value: int) -> None:
        self.setCipherSet(value if value is not None else self.CIPHER_DEFAULT)


@mutant("8.store-add")
class AddRaisesOnGarbage(PlainStore):
    """addCertificate() raises the parser's ValueError for what is not a certificate."""

    def addCertificate(self, pem: Any) -> bool:
        if not super().addCertificate(pem):
            raise ValueError("not a certificate")
        return True


@mutant("8.store-load")
class EmptyDirectoryLoads(PlainStore):
    """loadLocation() of a directory says True even when it held no certificate."""

    def loadLocation(self, path: Any) -> bool:
        loaded = bool(super().loadLocation(path))
        return loaded or os.path.isdir(path)


@mutant("8.secure-defaults")
class AcceptsTLS11(PlainTLS):
    """The native context keeps the library's old floor: TLS 1.0 and 1.1 accepted."""

    def _native_context(self, config: Any) -> Any:
        from nettls.components.stdlib import native_context

        ctx = native_context.__wrapped__(config)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        return ctx


@mutant("8.key-files")
class KeyFileLeft(PlainContext):
    """setCertificate() keeps the key in a temporary file for the library, and
    never removes it."""

    def setCertificate(self, cert: Any, key: Any) -> bool:
        fd, _path = tempfile.mkstemp(suffix=".pem")
        with os.fdopen(fd, "w") as handle:
            handle.write(key.decode() if isinstance(key, bytes) else key)
        return bool(super().setCertificate(cert, key))


# -- SPEC 9, 10: errors and interop -----------------------------------------------------------


@mutant("9.errors")
class CauseDropped(PlainTLS):
    """A failed handshake raises TLSHandshakeError "from None": the library's exception is lost."""

    def _start(self, sock: Any, server: bool) -> int:
        try:
            return int(super()._start(sock, server))
        except TLSHandshakeError as exc:
            raise TLSHandshakeError(str(exc)) from None


@mutant("10.interop-data")
class NoIntermediatesSent(PlainTLS):
    """A server sends its leaf alone: the context's chain never reaches the native context."""

    def _native_context(self, config: Any) -> Any:
        import dataclasses

        if config.server:
            config = dataclasses.replace(config, chain=())
        return super()._native_context(config)


@mutant("10.interop-context")
class ForeignContextDropped(PlainTLS):
    """A session made with another component's context uses a fresh context of
    its own mode instead (its native state is cached on its own contexts only)."""

    def __init__(self, context: Any) -> None:
        if not isinstance(context, PlainContext):
            context = PlainContext(context.mode)
        super().__init__(context)


# -- SPEC 14: bounds under hostile input --------------------------------------------


@mutant("14.work-per-call")
class RetriesAnEmptyRead(PlainTLS):
    """A non-blocking recv() that found no plaintext tries again a few times
    before it answers "nothing yet": a flood of post-handshake records is
    taken many reads at a time in one call."""

    def recv(self, n: int) -> bytes:
        data = super().recv(n)
        for _ in range(16):
            if data or self.getStatus() != WAIT_READ:
                break
            data = super().recv(n)
        return data


@mutant("14.post-handshake-flood")
class IdleInputCountedPerCall(PlainTLS):
    """The count of ciphertext that brought no plaintext starts again at each
    call, so a flood fed 64 KiB a call never reaches the limit."""

    def recv(self, n: int) -> bytes:
        try:
            return super().recv(n)
        finally:
            self._ct_idle = 0
