"""The engine protocol: one TLS library's connection over memory buffers.

A component adapts its library to ``Engine``; the shared session
(``session.TLSSession``) drives any engine and is the only code that moves
bytes between an engine and a socket. Library exceptions become
``EngineError`` (``EngineEOF`` for a truncation) inside the engine.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Engine", "EngineError", "EngineEOF", "RECORD_PLAINTEXT"]

#: Plaintext per application record: TLS's maximum fragment (2^14).
RECORD_PLAINTEXT = 16384


class EngineError(Exception):
    """The TLS library failed; ``str()`` is the reason, ``__cause__`` its exception."""


class EngineEOF(EngineError):
    """The stream ended without close_notify (a truncation)."""


class Engine(Protocol):
    """One TLS library's connection over memory buffers (implemented per component)."""

    def handshake(self) -> bool:
        """Advance the handshake: True when complete, False when it needs input."""

    def read(self, n: int) -> bytes | None:
        """Up to ``n`` plaintext bytes; None when it needs input; b"" after close_notify."""

    def read_into(self, view: memoryview) -> int | None:
        """As ``read``, into ``view``; returns the count (0 after close_notify)."""

    def write(self, data: memoryview) -> None:
        """Encrypt all of ``data`` into the output buffer."""

    def shutdown(self) -> None:
        """Put close_notify into the output buffer."""

    def feed(self, data: bytes) -> None:
        """Give the engine ciphertext received from the peer."""

    def feed_eof(self) -> None:
        """Tell the engine the peer's stream ended."""

    def output(self) -> bytes:
        """Take the ciphertext produced so far (b"" if none)."""

    def peer_chain(self) -> list[bytes]:
        """The peer's certificates as DER, leaf first, as sent; [] if none."""

    def version(self) -> str | None:
        """The negotiated protocol, such as "TLSv1.3"."""

    def cipher(self) -> str | None:
        """The negotiated cipher suite's name."""

    # Optional: ``pending() -> bool``, False when a read would certainly need
    # input (no plaintext and no ciphertext buffered). Where an engine has
    # it, the session skips the read that would only say so (an exception
    # in most libraries) after the last record of a burst.
