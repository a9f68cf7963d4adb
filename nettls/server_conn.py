"""A connection of ``nettls.server``: where it is in its life, the legal
moves between phases, and what it makes the server hold.

Memory (SPEC section 14). Per idle connection the server itself keeps a
``Connection`` (slots), one heap entry and a set entry; the session, its
socket and the TLS library's state are the components'. What a connection
makes the server hold (``Connection.held()``) is counted as:

- plaintext the session has not sent yet (``tls.getBufferUnsent()``);
- ciphertext queued in the socket (``sock.getBufferUnsent()``): the echo,
  and what the library sends on its own, such as the answer to every
  KeyUpdate that asks for one;
- the HTTP request head being collected (at most 16 KiB + one read).

The first two may count the same bytes twice, as plaintext and as its
ciphertext: the count errs on the safe side. The server looks at it after
every ``recv()`` and after every turn, and above ``HIGH_WATER`` the
connection stops reading (PAUSED) until the peer has taken enough to bring
it under ``LOW_WATER``. Past the mark, one ``recv()`` can add at most the
answers to 64 KiB of ciphertext (64 KiB), one record of plaintext and its
echo (about 32 KiB); the session's own input buffer holds at most 64 KiB of
ciphertext (SPEC section 14). So whatever a peer sends, and whether or not
it reads, a connection costs the server less than ``MEMORY_BOUND``
(256 KiB), the kernel's socket buffers aside.
"""

from __future__ import annotations

import enum
import math
from typing import Any

from nettls.interfaces import NetworkEndpoint
from nettls.server_http import RequestHead

__all__ = ["Phase", "MOVES", "Connection", "format_endpoint", "HIGH_WATER", "LOW_WATER", "MEMORY_BOUND"]

#: Bytes held for a connection (``Connection.held()``) above which it stops reading ...
HIGH_WATER = 64 * 1024
#: ... and at or below which it reads again.
LOW_WATER = 16 * 1024
#: What the server holds for one connection stays under this (SPEC 14; see above).
MEMORY_BOUND = 256 * 1024


class Phase(enum.Enum):
    """Where a connection is in its life (see ``nettls.server``'s theory of operation)."""

    HANDSHAKE = "handshake"
    OPEN = "open"
    PAUSED = "paused"
    CLOSING = "closing"
    LINGER = "linger"
    DONE = "done"


#: The legal moves: a move not in the table is a bug, and raises.
MOVES: dict[Phase, frozenset[Phase]] = {
    Phase.HANDSHAKE: frozenset({Phase.OPEN, Phase.LINGER, Phase.DONE}),
    Phase.OPEN: frozenset({Phase.PAUSED, Phase.CLOSING, Phase.LINGER, Phase.DONE}),
    Phase.PAUSED: frozenset({Phase.OPEN, Phase.CLOSING, Phase.LINGER, Phase.DONE}),
    Phase.CLOSING: frozenset({Phase.LINGER, Phase.DONE}),
    Phase.LINGER: frozenset({Phase.DONE}),
    Phase.DONE: frozenset(),
}


def format_endpoint(ep: NetworkEndpoint | None) -> str:
    """``HOST:PORT``, ``[ADDR]:PORT`` for IPv6, "-" when unknown."""
    if ep is None:
        return "-"
    return f"[{ep.address}]:{ep.port}" if ":" in ep.address else f"{ep.address}:{ep.port}"


class Connection:
    """One client connection: its socket, its session and where it is."""

    __slots__ = (
        "sock",
        "tls",
        "phase",
        "peer",
        "started",
        "deadline",
        "heap_at",
        "bytes_in",
        "bytes_out",
        "outcome",
        "head",
        "protocol",
        "cipher",
        "peer_eof",
    )

    def __init__(self, sock: Any, tls: Any, peer: str, now: float, deadline: float) -> None:
        self.sock = sock
        self.tls = tls
        self.phase = Phase.HANDSHAKE
        self.peer = peer
        self.started = now
        self.deadline = deadline
        self.heap_at = math.inf  # the time of this connection's live heap entry
        self.bytes_in = 0
        self.bytes_out = 0
        self.outcome: str | None = None
        self.head: RequestHead | None = None  # an HTTP request head being collected
        self.protocol: str | None = None
        self.cipher: str | None = None
        self.peer_eof = False  # the peer's FIN was read

    def held(self) -> int:
        """Bytes the server holds for this connection (see the module docstring)."""
        head = self.head
        return self.tls.getBufferUnsent() + self.sock.getBufferUnsent() + (len(head) if head is not None else 0)

    def __repr__(self) -> str:
        return f"<connection {self.peer} {self.phase.value}>"
