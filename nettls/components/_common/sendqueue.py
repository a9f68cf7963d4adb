"""The byte queue behind non-blocking ``send()`` (SPEC section 7)."""

from __future__ import annotations

__all__ = ["SendQueue"]

# Compact the buffer once this many consumed bytes sit at its front (and
# they are at least half of it), so a long-lived queue does not grow
# without bound while each consume stays O(1).
_COMPACT_AT = 1 << 20


class SendQueue:
    """FIFO of bytes waiting for the kernel: one bytearray and a read offset.

    ``peek()`` returns a view the caller must release (``with``) before the
    next ``append()`` or ``consume()``, since a bytearray with an exported
    view cannot be resized.
    """

    __slots__ = ("_buf", "_pos")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0

    def __len__(self) -> int:
        return len(self._buf) - self._pos

    def append(self, data: bytes | bytearray | memoryview) -> None:
        self._buf += data

    def peek(self, limit: int | None = None) -> memoryview:
        end = len(self._buf) if limit is None else min(len(self._buf), self._pos + limit)
        return memoryview(self._buf)[self._pos:end]

    def consume(self, n: int) -> None:
        self._pos += n
        if self._pos >= len(self._buf):
            self._buf.clear()
            self._pos = 0
        elif self._pos >= _COMPACT_AT and self._pos * 2 >= len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0

    def clear(self) -> None:
        self._buf.clear()
        self._pos = 0
