"""nettls in async programs: asyncio transports and streams, anyio streams and listeners.

Every entry point drives one non-blocking nettls session by the readiness
of its socket's descriptor, so every component works, a third party's
included (SPEC section 13); none has TLS code of its own. See
``docs/async.md``.

asyncio (asyncio's own signatures, with a nettls ``context``)::

    reader, writer = await nettls.aio.open_connection(host, port, context=ctx)
    transport, protocol = await nettls.aio.create_connection(factory, host, port, context=ctx)
    server = await nettls.aio.start_server(handle, host, port, context=server_ctx)

anyio (asyncio and trio backends; needs ``nettls[async]``)::

    stream = await nettls.aio.connect_tls(host, port, context=ctx)
    listener = nettls.aio.TLSListener(host, port, context=server_ctx)
"""

from __future__ import annotations

from typing import Any

from ._asyncio import Server, create_connection, create_server, open_connection, start_server
from ._channel import EXTRA_INFO, SessionInfo
from ._transport import TLSTransport

__all__ = [
    "TLSTransport",
    "Server",
    "SessionInfo",
    "EXTRA_INFO",
    "create_connection",
    "open_connection",
    "create_server",
    "start_server",
    "connect_tls",
    "TLSStream",
    "TLSListener",
    "NettlsAttribute",
]

#: What needs anyio, imported on first use so that asyncio alone needs nothing more.
_ANYIO_NAMES = ("connect_tls", "TLSStream", "TLSListener", "NettlsAttribute")


def __getattr__(name: str) -> Any:
    if name in _ANYIO_NAMES:
        try:
            from . import _anyio
        except ImportError as exc:
            raise ImportError(f"nettls.aio.{name} needs anyio: pip install 'nettls[async]' ({exc})") from exc
        return getattr(_anyio, name)
    raise AttributeError(f"module 'nettls.aio' has no attribute {name!r}")
