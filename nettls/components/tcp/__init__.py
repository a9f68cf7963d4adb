"""The ``tcp`` component: ``net.TCPSocket``, ``net.TCPServerSocket`` and
``net.TCPMonitor`` on Python's ``socket``, ``select`` and ``selectors``.

This package is the public face; the implementation lives in private
modules, each opening with its own theory of operation:

- ``_socket``: ``TCPSocket``: its states, blocking and non-blocking modes,
  the send queue (SPEC section 7), full duplex across threads, and closing.
- ``_server``: ``TCPServerSocket``: binding (wildcards, dual stack) and
  accepting.
- ``_monitor``: ``TCPMonitor`` and its back ends, ``select.epoll`` on
  Linux and ``selectors`` elsewhere.
- ``_addresses``: argument checks and ``NetworkEndpoint`` helpers.
- ``_errors``: ``ConnectTimeoutError`` and the rewording of ``OSError``.
- ``_io``: waiting for a socket to turn readable, and draining unread input.

Imports run one way: ``_errors``, ``_addresses`` and ``_io`` import nothing
of the package, ``_server`` imports them, ``_socket`` imports them and ``_server``
(``accept`` takes a ``TCPServerSocket``), and ``_monitor`` needs none of
them: it reaches a socket through ``ISelectable`` (and, in the selectors
fallback, a ``TCPSocket``'s ``_peer_gone`` looked up by name).
"""

from __future__ import annotations

import platform

from nettls.interfaces.component import Component

from ._errors import ConnectTimeoutError
from ._monitor import _HAS_EPOLL, TCPMonitor
from ._server import TCPServerSocket
from ._socket import TCPSocket

__all__ = ["TCPSocket", "TCPServerSocket", "TCPMonitor", "ConnectTimeoutError", "COMPONENT"]


COMPONENT = Component(
    name="tcp",
    provides={
        "net.TCPSocket": TCPSocket,
        "net.TCPServerSocket": TCPServerSocket,
        "net.TCPMonitor": TCPMonitor,
    },
    description="TCP sockets, server sockets and a readiness monitor on Python's socket and selectors",
    library=f"Python {platform.python_version()} socket and {'epoll' if _HAS_EPOLL else 'selectors'}",
)
