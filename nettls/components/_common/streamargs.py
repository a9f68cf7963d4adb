"""Argument checks every ``IStream`` implementation applies the same way."""

from __future__ import annotations

__all__ = ["check_recv_size", "as_view"]


def check_recv_size(n: object) -> int:
    """Return ``n`` if it is a positive int; else TypeError / ValueError."""
    if type(n) is not int:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"recv() takes a positive int, not {type(n).__name__}")
    if n <= 0:
        raise ValueError(f"recv() takes a positive int, not {n}")
    return n


def as_view(data: object) -> memoryview:
    """A byte view of ``data`` (bytes, bytearray, memoryview); str is a TypeError."""
    if isinstance(data, memoryview):  # first: the caller already passes bytes by
        return data if data.format == "B" and data.ndim == 1 else data.cast("B")
    if isinstance(data, (bytes, bytearray)):
        return memoryview(data)
    raise TypeError(f"send() takes bytes, bytearray or memoryview, not {type(data).__name__}")
