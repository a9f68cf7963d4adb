"""Errors of the ``tcp`` component: ``ConnectTimeoutError`` and the rewording
of an ``OSError`` into one that names the call and the peer, keeping its
errno (and so its subclass)."""

from __future__ import annotations

import errno
import socket

__all__ = ["ConnectTimeoutError"]


class ConnectTimeoutError(ConnectionError, TimeoutError):
    """``connect()`` ran out of time: both a ``ConnectionError`` (as
    ``connect`` promises) and a ``TimeoutError`` (as ``setTimeout`` does)."""


def _os_error(exc: OSError, message: str) -> OSError:
    """A new ``OSError`` (same errno, so the same subclass) saying ``message``."""
    if exc.errno is None or isinstance(exc, socket.gaierror):
        return OSError(f"{message}: {exc.strerror or exc}")
    return OSError(exc.errno, f"{message}: {exc.strerror}")


def _connection_error(exc: OSError, message: str) -> ConnectionError:
    """``exc`` as a ``ConnectionError`` saying ``message``, keeping the subclass
    (``ConnectionRefusedError`` ...) where it already was one."""
    cls = type(exc) if isinstance(exc, ConnectionError) else ConnectionError
    if exc.errno is None or isinstance(exc, socket.gaierror):
        return cls(f"{message}: {exc.strerror or exc}")
    return cls(exc.errno, f"{message}: {exc.strerror}")


def _timed_out(call: str, where: str, seconds: float | None) -> TimeoutError:
    """The ``TimeoutError`` of a ``call`` on the connection ``where`` bounded by ``seconds``."""
    return TimeoutError(errno.ETIMEDOUT, f"{call} on {where} timed out after {seconds} s")


def _is_timeout(exc: OSError) -> bool:
    """Python's own socket timeout (errno None), not a kernel ETIMEDOUT."""
    return isinstance(exc, TimeoutError) and exc.errno is None
