"""httpcore's asynchronous network backend on nettls, through anyio (so
httpx's ``AsyncClient`` runs on asyncio and on trio alike).

Each connection is a ``nettls.aio`` stream: ``ChannelStream`` over a
plain TCP socket until ``start_tls``, then a ``TLSStream``; httpcore's
timeouts become anyio deadlines, and the stream's errors httpcore's:
close_notify is the end (``b""``); a TCP close without it, a reset or a
TLS failure (anyio's ``BrokenResourceError``) is ``httpcore.ReadError``.
"""

from __future__ import annotations

from typing import Any, Iterable

import anyio
import httpcore

from nettls.aio._anyio import ChannelStream, TLSStream, connect_socket, handshake
from nettls.aio._channel import Channel, PlainChannel, SessionMaker
from nettls.interfaces import TLSError

from ._sync import check_options, is_readable

__all__ = ["AsyncBackend"]


class AsyncStream(httpcore.AsyncNetworkStream):
    """A connection, plain or TLS, over a ``nettls.aio`` stream."""

    def __init__(self, maker: SessionMaker, stream: ChannelStream) -> None:
        self._maker = maker
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            with anyio.fail_after(timeout):
                return await self._stream.receive(max_bytes)
        except anyio.EndOfStream:
            return b""
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(f"no data within {timeout} s") from exc
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, TLSError) as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            with anyio.fail_after(timeout):
                await self._stream.send(buffer)
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(f"could not write within {timeout} s") from exc
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> AsyncStream:
        """The TLS stream over this connection; httpcore's ``ssl_context`` is
        not used: the transport's nettls context decides everything."""
        plain = self._stream.channel
        if not isinstance(plain, PlainChannel):
            raise httpcore.UnsupportedProtocol("nettls.httpx: TLS inside TLS (an HTTPS proxy) is not supported")
        try:
            ch = self._maker.channel(plain.socket, server_hostname)
        except BaseException as exc:
            plain.release()
            if isinstance(exc, (TLSError, ValueError)):
                raise httpcore.ConnectError(str(exc)) from exc
            raise
        try:
            await handshake(ch, timeout)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except (TLSError, OSError) as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return AsyncStream(self._maker, TLSStream(ch))

    def get_extra_info(self, info: str) -> Any:
        ch = self._stream.channel
        if info == "is_readable":
            return is_readable(ch)
        return ch.info(info) if isinstance(ch, Channel) else None


class AsyncBackend(httpcore.AsyncNetworkBackend):
    """httpcore's ``AsyncNetworkBackend`` on nettls: see the module docstring."""

    def __init__(self, maker: SessionMaker) -> None:
        self._maker = maker

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> AsyncStream:
        check_options(local_address, socket_options)
        try:
            sock = await connect_socket(self._maker, host, port, timeout)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return AsyncStream(self._maker, ChannelStream(PlainChannel(sock)))

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> AsyncStream:
        raise httpcore.UnsupportedProtocol("nettls.httpx: Unix sockets are not available through net.TCPSocket")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)
