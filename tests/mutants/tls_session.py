"""Mutants of the session's error classes (SPEC 9) and of ``recvInto``
(SPEC 13): the stdlib component with one realistic bug each.

The error mutants raise what the session raised before the classes
existed, a bare ``TLSError`` with the same message: ``except TLSError``
still catches it, but a caller cannot tell the case without parsing words.
"""

from __future__ import annotations

from typing import Any

from nettls import TLSClosedError, TLSError, TLSModeError, TLSNotHandshakenError

from . import mutant
from .bases import FullTLS, PlainTLS


@mutant("9.error-closed")
class BareClosedError(PlainTLS):
    """A call on a closed session raises a bare TLSError, not TLSClosedError."""

    def send(self, data: Any) -> int:
        try:
            return int(super().send(data))
        except TLSClosedError as exc:
            raise TLSError(str(exc)) from None

    def connect(self, socket: Any) -> int:
        try:
            return int(super().connect(socket))
        except TLSClosedError as exc:
            raise TLSError(str(exc)) from None


@mutant("9.error-not-handshaken")
class BareNotHandshakenError(PlainTLS):
    """send()/recv() before the handshake completed raise a bare TLSError, not TLSNotHandshakenError."""

    def send(self, data: Any) -> int:
        try:
            return int(super().send(data))
        except TLSNotHandshakenError as exc:
            raise TLSError(str(exc)) from None

    def recv(self, n: int) -> bytes:
        try:
            return bytes(super().recv(n))
        except TLSNotHandshakenError as exc:
            raise TLSError(str(exc)) from None


@mutant("9.error-mode")
class BareModeError(PlainTLS):
    """connect()/accept() with a context of the wrong mode raise a bare TLSError, not TLSModeError."""

    def _start(self, sock: Any, server: bool) -> int:
        try:
            return int(super()._start(sock, server))
        except TLSModeError as exc:
            raise TLSError(str(exc)) from None


@mutant("13.recv-into")
class RecvIntoFillsTheBuffer(FullTLS):  # type: ignore[misc,valid-type]
    """A blocking recvInto() waits until the whole buffer is full, as recv(n) does,
    instead of returning what has arrived."""

    def recvInto(self, buffer: Any) -> int:
        if self._nonblocking:
            return int(super().recvInto(buffer))
        view = memoryview(buffer).cast("B")
        data = self.recv(len(view))
        view[: len(data)] = data
        return len(data)
