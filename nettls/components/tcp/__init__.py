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
- ``_dial``: ``connect``'s work, every address of a name against one deadline.
- ``_io``: the system-call loops on an OS socket (waiting, writing,
  draining, reading on, closing).

Imports run one way: ``_errors`` and ``_addresses`` import nothing of the
package, ``_dial`` and ``_io`` import them, ``_server`` imports those,
``_socket`` imports them and ``_server`` (``accept`` takes a
``TCPServerSocket``), and ``_monitor`` needs none of them: it reaches a
socket through ``ISelectable`` (and, in the selectors fallback, a
``TCPSocket``'s ``_peer_gone`` looked up by name).

Timeouts: every call bounded by ``setTimeout`` that runs out raises the
built-in ``TimeoutError`` (``connect``: ``ConnectTimeoutError``, also a
``ConnectionError``), never a ``TLSError``: a TCP socket is not TLS (SPEC
sections 5 and 11); a TLS session over it raises ``TLSTimeoutError``.
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
