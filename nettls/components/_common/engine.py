"""The engine protocol: one TLS library's connection over memory buffers.

A component adapts its library to ``Engine``; the shared session drives any
engine, and its pump (``pump.Pump``) is the only code that moves bytes
between an engine and a socket. Library exceptions become
``EngineError`` (``EngineEOF`` for a truncation) inside the engine.
``fail_with_alert`` ends any engine's connection with a fatal alert.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["Engine", "EngineError", "EngineEOF", "RECORD_PLAINTEXT", "fail_with_alert"]

#: Plaintext per application record: TLS's maximum fragment (2^14).
RECORD_PLAINTEXT = 16384
#: A record no peer sent: application data of TLS 1.3's largest length
#: (2^14 + 256), all zeros, which authenticates under no key. Twice: the
#: first completes whatever part of a record the engine holds (no record
#: body exceeds 2^14 + 2048 bytes), so at least a whole one follows it.
_UNAUTHENTIC = (b"\x17\x03\x03\x41\x00" + bytes(0x4100)) * 2


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
    #
    # Optional: ``read_into(view: memoryview) -> int | None``, as ``read``
    # but decrypting into ``view`` (the count; 0 after close_notify). The
    # session's ``recvInto`` uses it; without it, ``read`` and a copy.


def fail_with_alert(engine: Engine, handshaking: bool) -> None:
    """End ``engine``'s connection with a fatal alert, left in its output.

    No library offers a call that sends an alert of the caller's choosing,
    but every one must answer a record that does not authenticate with a
    fatal bad_record_mac alert and end the connection (RFC 8446 section 5.2,
    RFC 5246 section 6.2.3.3; a header that cannot start a record gets another
    fatal alert). So the engine is fed records no peer could have sent
    (``_UNAUTHENTIC``) and asked to go on; the failure it reports is its own
    business, and the caller states the real reason. Call it only when the
    engine last asked for input: then it holds no plaintext to hand out
    first. Best effort where a library keeps quiet: rustls 0.23 sends no
    alert when the record interrupts a handshake message split over
    records (its MessageInterleavedWithHandshakeMessage).
    """
    try:
        engine.feed(_UNAUTHENTIC)
        if handshaking:
            engine.handshake()
        else:
            engine.read(1)
    except EngineError:
        pass  # the failure sought: its alert is in the output
