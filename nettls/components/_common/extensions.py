"""The TLS extension interfaces, implemented once for every memory-buffer component.

``ExtendedTLSContext``, ``ExtendedCertStore`` and ``ExtendedTLSSession``
subclass the spec bases (``BaseTLSContext``, ``BaseCertStore``,
``TLSSession``) and add the extension interfaces of
``nettls.interfaces.tlsext``. Components inherit them instead of the bases
and supply what only their library can do:

- a context's settings are configuration (``ContextConfig``, SPEC 8; the
  context and store classes live in ``extcontext``): the
  setters here validate and store them; the component's native-context
  builder honours them, and ``_check_native`` lets it refuse a setting its
  library refuses, at the call rather than at the next handshake;
- a session passes its per-connection choices to the component's engine
  through ``_engine_options()`` (the server name, the session to resume)
  and reads back what only the engine knows through the ``ExtendedEngine``
  protocol below;
- resumption data is bound to what it was verified under (the server name
  and the context's configuration, verification settings included): a
  session refuses data of another name or other settings, in the setter
  that sees the difference or, failing that, in ``connect()``.

Nothing here changes the spec's behaviour while no extension is used: every
default of ``ContextConfig`` is the spec's, and the session's own state
machine (``TLSSession``) is untouched; the session wraps ``connect()`` and
``accept()`` only to note that a handshake completed. ``recvInto`` reads
through the session's pump like ``recv`` (the engine's ``read_into``, or a
read and a copy where an engine has none).
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, cast

from zope.interface import implementer

from nettls.hostname import ServerName, server_name
from nettls.interfaces import (
    IEndOfStream,
    INegotiatedProtocol,
    IResumption,
    IServerName,
    IVerifiedChain,
    IVerifyResult,
    TLSError,
    TLSModeError,
    TLSNotHandshakenError,
    VerifyStatus,
)
from nettls.interfaces.tlsext import IRecvInto

from .config import EXTENSION_SETTINGS
from .pem import (
    der_to_pem,
)
from .resumption import ResumptionData, resumption_mismatch, shown
from .session import EngineError, State, TLSSession
from .state import HANDSHAKE_DONE, READABLE, UNFINISHED

__all__ = [
    "ExtendedEngine",
    "ExtendedTLSContext",
    "ExtendedCertStore",
    "ExtendedTLSSession",
    "ResumptionData",
    "select_name_certificate",
]

from .extcontext import ExtendedCertStore, ExtendedTLSContext, select_name_certificate


# --- sessions --------------------------------------------------------------------------------


class ExtendedEngine(Protocol):
    """What an engine tells the extended session beyond ``Engine``."""

    def server_name(self) -> str | None:
        """Server: the SNI name the client sent; client: the name it sends."""

    def alpn(self) -> str | None:
        """The application protocol selected."""

    def resumed(self) -> bool:
        """Whether the handshake resumed an earlier session."""

    def session(self) -> Any:
        """The library's resumable session object, or None while not resumable."""

    def verify_failure(self) -> VerifyStatus | None:
        """The failure of the handshake's own verification, if it failed there."""

    def verified_chain(self) -> list[bytes]:
        """DER of the chain the library built when it verified the peer (leaf
        to trust anchor); what it holds when nothing was verified is
        undefined: the session asks only after a verification succeeded."""


@implementer(IServerName, INegotiatedProtocol, IVerifyResult, IVerifiedChain, IResumption, IEndOfStream, IRecvInto)
class ExtendedTLSSession(TLSSession):
    """``TLSSession`` with the session-level extensions; see their interfaces.

    A component's ``_make_engine`` passes ``_engine_options()`` to its engine.
    """

    #: Every extension setting of a context is honoured (see ``check_honoured``).
    context_extensions: ClassVar[frozenset[str]] = frozenset(EXTENSION_SETTINGS)

    # Slots, as the base's (a subclass without its own __slots__ gets a __dict__).
    __slots__ = ("_server_name", "_resume", "_opened")

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._server_name: ServerName | None = None
        self._resume: ResumptionData | None = None
        self._opened = False  # the handshake completed once

    # -- the handshake: note that it completed ------------------------------------------------

    def connect(self, socket: Any) -> int:
        status = super().connect(socket)
        if status == self.OK:
            self._opened = True
        return status

    def accept(self, socket: Any) -> int:
        status = super().accept(socket)
        if status == self.OK:
            self._opened = True
        return status

    def _engine_options(self) -> tuple[ServerName | None, Any]:
        """``(server name, native session to resume)`` for a new engine.

        Raises EngineError (a handshake failure) when the context asks
        connect() to check the host name and no server name was set, or
        when the resumption data set is for another server name.
        """
        if self._server:  # (set by connect()/accept() before the engine is made)
            return None, None
        config = self._config
        if config.verifyHostName and self._server_name is None:
            raise EngineError(
                "the context verifies the host name on connect, but the session has no server name: "
                "call setServerName() before connect()"
            )
        resume = self._resume
        if resume is None:
            return self._server_name, None
        mismatch = resumption_mismatch(resume, config, self._server_name)
        if mismatch is not None:  # one of the two has a name, the other none: the setters let it pass
            raise EngineError(f"the resumption data set does not belong to this session: {mismatch}")
        return self._server_name, resume.native

    def _client_before_connect(self, call: str) -> None:
        if self._config.server:
            raise TLSModeError(f"{call} is for a client session; this session's context is SERVER")
        if self._state is not State.NEW:
            raise TLSError(f"{call} must come before connect(); this session is already {self._state.value}")

    def _completed_engine(self) -> Any:
        """The engine once the handshake completed, else None."""
        return self._engine if self._opened else None

    # -- IServerName ----------------------------------------------------------------------------

    def setServerName(self, name: Any) -> bool:
        self._client_before_connect("setServerName()")
        parsed = server_name(name)
        resume = self._resume
        if resume is not None and resume.server_name is not None and resume.server_name != parsed:
            raise ValueError(f"setServerName({name!r}): the resumption data set is for {shown(resume.server_name)}")
        self._server_name = parsed
        return True

    def getServerName(self) -> str | None:
        if not self._config.server:
            return None if self._server_name is None else self._server_name.text
        engine = self._engine
        if engine is None:
            return None
        with self._elock:
            name: str | None = cast(ExtendedEngine, engine).server_name()
        return name

    # -- INegotiatedProtocol --------------------------------------------------------------------

    def getApplicationProtocol(self) -> str | None:
        engine = self._completed_engine()
        if engine is None:
            return None
        with self._elock:
            protocol: str | None = engine.alpn()
        return protocol or None

    # -- IVerifyResult ----------------------------------------------------------------------------

    def getVerifyResult(self) -> VerifyStatus | None:
        engine = self._engine
        if engine is None:
            return None
        with self._elock:
            failure: VerifyStatus | None = cast(ExtendedEngine, engine).verify_failure()
        if failure is not None:
            return failure
        if not self._opened:
            return None
        config = self._config
        if config.server:
            if config.clientCertificatePolicy and self.getPeerCertificate() is not None:
                return VerifyStatus(VerifyStatus.OK)
            return None
        return VerifyStatus(VerifyStatus.OK) if config.verifyTrust is not None else None

    # -- IVerifiedChain ---------------------------------------------------------------------------

    def getVerifiedChain(self) -> list[str]:
        result = self.getVerifyResult()
        if result is None or result.status != VerifyStatus.OK:
            return []
        if self.isResumed():  # nothing verified in this handshake: the resumed session's chain
            resume = self._resume
            return [] if resume is None else list(resume.verified_chain)
        with self._elock:
            ders = self._verified_ders(self._engine)
        return [der_to_pem(der) for der in ders]

    def _verified_ders(self, engine: Any) -> list[bytes]:
        """DER of the chain ``engine``'s library verified (a hook for engines
        that cannot say it themselves)."""
        ders: list[bytes] = engine.verified_chain()
        return ders

    # -- IResumption ------------------------------------------------------------------------------

    def getResumptionData(self) -> ResumptionData | None:
        engine = self._completed_engine()
        if engine is None or self._config.server or self._state not in HANDSHAKE_DONE:
            return None
        with self._elock:
            native = engine.session()
            protocol = engine.version()
        if native is None:
            return None
        chain = tuple(self.getVerifiedChain())
        return ResumptionData(self.component, self._config, native, protocol, self._server_name, chain)

    def setResumptionData(self, data: Any) -> bool:
        self._client_before_connect("setResumptionData()")
        if not isinstance(data, ResumptionData) or data.component != self.component:
            raise TypeError(
                f"setResumptionData() takes what getResumptionData() of a {self.component} session returned, "
                f"not {data!r}"
            )
        name = self._server_name
        mismatch = resumption_mismatch(data, self._config, data.server_name if name is None else name)
        if mismatch is not None:  # a name still to come is checked by setServerName() or connect()
            raise ValueError(f"setResumptionData(): {mismatch}")
        self._resume = data
        return True

    def isResumed(self) -> bool:
        engine = self._completed_engine()
        if engine is None:
            return False
        with self._elock:
            resumed = bool(engine.resumed())
        return resumed

    # -- IEndOfStream -------------------------------------------------------------------------------

    def endedCleanly(self) -> bool | None:
        if self._clean_eof is not None:
            return self._clean_eof
        if self._opened and self._state is State.FAILED:
            return False
        return None

    # -- IRecvInto ----------------------------------------------------------------------------------

    def recvInto(self, buffer: Any) -> int:
        view = _writable_view(buffer)
        state = self._state
        if state in UNFINISHED:
            raise TLSNotHandshakenError("recvInto() before the handshake completed")
        if self._leftover or state not in READABLE:
            data = self._take_leftover(len(view))
            view[: len(data)] = data
            return len(data)
        count = self._receive(self._read_into_step, view) or 0
        # Records the engine already holds go straight in after it, without a read of the socket.
        while count and count < len(view) and not self._starved:
            more = self._read_into_step(view[count:])
            if not more:
                break  # (close_notify: the next call says so)
            count += more
        return count


def _writable_view(buffer: Any) -> memoryview:
    """A flat byte view of writable ``buffer``: TypeError if it is not one, ValueError if empty."""
    try:
        view = memoryview(buffer)
    except TypeError:
        raise TypeError(f"recvInto() takes a writable bytes-like object, not {type(buffer).__name__}") from None
    if view.readonly:
        raise TypeError(f"recvInto() takes a writable bytes-like object; this {type(buffer).__name__} is read-only")
    if not view.c_contiguous:
        raise TypeError("recvInto() takes a contiguous buffer")
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    if not len(view):
        raise ValueError("recvInto() takes a buffer of at least one byte")
    return view
