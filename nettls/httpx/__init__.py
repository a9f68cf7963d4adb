"""httpx transports on nettls: any component under ``httpx.Client``.

::

    import httpx, nettls.httpx
    client = httpx.Client(transport=nettls.httpx.HTTPTransport(component="rustls"))
    client.get("https://example.org/")

``HTTPTransport`` and ``AsyncHTTPTransport`` are httpx's own transports
(request and response handling, connection pooling, HTTP/1.1 and HTTP/2
are httpcore's) on a network backend that runs each connection on a
non-blocking nettls session (``nettls.aio``'s channel), so every component
works, a third party's included (SPEC section 13). What a transport
verifies and presents is one nettls context made from its arguments (see
``_settings``); a component that lacks an extension the arguments need is
refused with a ``nettls.RegistryError`` naming it. Needs ``nettls[httpx]``
(``AsyncHTTPTransport`` also anyio, which httpx brings).
"""

from __future__ import annotations

import os
from typing import Any

try:
    import httpcore
    import httpx
except ImportError as exc:  # pragma: no cover - the extra is not installed
    raise ImportError(f"nettls.httpx needs httpx and httpcore: pip install 'nettls[httpx]' ({exc})") from exc

from ._settings import ClientSettings

__all__ = ["HTTPTransport", "AsyncHTTPTransport"]


def _pool_options(http2: bool, limits: httpx.Limits, retries: int) -> dict[str, Any]:
    import ssl

    # httpcore sets ALPN on the ssl_context it is given, and makes a default
    # one (loading a CA bundle: slow) for every connection when given none;
    # the backend never uses it (the nettls context decides), so a bare one.
    placeholder = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return {
        "ssl_context": placeholder,
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
        "http1": True,
        "http2": http2,
        "retries": retries,
    }


class HTTPTransport(httpx.HTTPTransport):
    """httpx's ``HTTPTransport`` on a nettls component.

    Args:
        component: the TLS component (default: the one linked to ``net.TLS``).
        verify: True (the system's roots and the host name: needs
            IVerifyOnConnect, IServerName and ISystemTrust), a CA file or
            directory path (its certificates and the host name), or False
            (nothing verified).
        cert: a client certificate for mutual TLS: ``(certfile, keyfile)``,
            ``(certfile, keyfile, password)`` for a PKCS#8 encrypted key, or
            one file holding certificate and unencrypted key.
        trust: a ``TLSCertStore`` (any component's) to trust instead of the
            system's roots.
        http2: offer HTTP/2 through ALPN (needs h2 and the ALPN extensions).
        limits, retries: as httpx's.
        tcp_component: the TCP component (default: the linked one).
    """

    def __init__(
        self,
        component: str | None = None,
        verify: bool | str | os.PathLike[str] = True,
        cert: Any = None,
        trust: Any = None,
        http2: bool = False,
        *,
        limits: httpx.Limits = httpx.Limits(max_connections=100, max_keepalive_connections=20),
        retries: int = 0,
        tcp_component: str | None = None,
    ) -> None:
        from ._sync import SyncBackend

        self.settings = ClientSettings(component, verify, cert, trust, http2, tcp_component)
        super().__init__(verify=False, http2=http2, limits=limits, retries=retries)
        self._pool = httpcore.ConnectionPool(
            **_pool_options(http2, limits, retries), network_backend=SyncBackend(self.settings.maker)
        )


class AsyncHTTPTransport(httpx.AsyncHTTPTransport):
    """httpx's ``AsyncHTTPTransport`` on a nettls component (asyncio or trio);
    arguments as ``HTTPTransport``'s."""

    def __init__(
        self,
        component: str | None = None,
        verify: bool | str | os.PathLike[str] = True,
        cert: Any = None,
        trust: Any = None,
        http2: bool = False,
        *,
        limits: httpx.Limits = httpx.Limits(max_connections=100, max_keepalive_connections=20),
        retries: int = 0,
        tcp_component: str | None = None,
    ) -> None:
        from ._async import AsyncBackend

        self.settings = ClientSettings(component, verify, cert, trust, http2, tcp_component)
        super().__init__(verify=False, http2=http2, limits=limits, retries=retries)
        self._pool = httpcore.AsyncConnectionPool(
            **_pool_options(http2, limits, retries), network_backend=AsyncBackend(self.settings.maker)
        )
