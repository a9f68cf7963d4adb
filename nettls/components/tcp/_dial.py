"""Dialling: a connected OS socket to a host and port, trying every address
the name resolves to, against one deadline for the whole call."""

from __future__ import annotations

import errno
import socket
import time
from typing import Any

from ._addresses import _addresses_of
from ._errors import ConnectTimeoutError, _connection_error, _is_timeout


def _dial(address: str, port: int, timeout: float | None) -> tuple[socket.socket, Any]:
    """The first of ``address``'s addresses that accepts a connection, as
    (socket, socket address). Running out of ``timeout`` seconds raises
    ``ConnectTimeoutError``; any other failure a ``ConnectionError`` naming
    the address (the last address's reason)."""
    what = f"cannot connect to {address} port {port}"
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        infos = _addresses_of(address, port)
    except OSError as exc:
        raise _connection_error(exc, what) from exc
    last: OSError | None = None
    for family, kind, proto, _, sockaddr in infos:
        try:
            sock = socket.socket(family, kind, proto)
        except OSError as exc:
            last = exc
            continue
        try:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise socket.timeout("timed out")
                sock.settimeout(remaining)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last = exc
            if _is_timeout(exc):
                break
            continue
        return sock, sockaddr
    if last is None:  # getaddrinfo gave nothing usable
        raise ConnectionError(f"{what}: no usable address")
    if _is_timeout(last):
        raise ConnectTimeoutError(errno.ETIMEDOUT, f"{what}: timed out after {timeout} s") from last
    raise _connection_error(last, what) from last
