"""httpcore's synchronous network backend on nettls.

``connect_tcp`` connects a TCP socket of the TCP component (its
``connect()`` waits, bounded by the connect timeout through ``ITimeout``)
and makes it non-blocking; ``start_tls`` runs the handshake of a
non-blocking session on it. Every read and write then calls the channel
and, when it has to wait, polls the descriptor for at most what is left
of httpcore's timeout, so each timeout holds exactly. A read ends with
``b""`` only after close_notify; a TCP close without it (where a
truncated response could pass for a whole one), a reset or a TLS failure
raise ``httpcore.ReadError``.
"""

from __future__ import annotations

import select
import time
from typing import Any, Iterable

import httpcore

from nettls.aio._channel import CLEAN, DONE, READ, Channel, PlainChannel, SessionMaker
from nettls.aio._connect import PendingConnect
from nettls.interfaces import TLSError

__all__ = ["SyncBackend"]

#: Seconds ``close()`` waits for close_notify to be written.
CLOSE_TIMEOUT = 1.0


def _wait(fd: int, writable: bool, deadline: float | None) -> bool:
    """Wait until ``fd`` is readable (or writable); False at ``deadline``."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT if writable else select.POLLIN)
    while True:
        ms = None if deadline is None else max(0.0, deadline - time.monotonic()) * 1000.0
        if poller.poll(ms):
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


def is_readable(ch: Channel | PlainChannel) -> bool:
    """httpcore's "is_readable" of an idle connection: True when the server
    sent something or closed, either of which makes httpcore drop the
    connection rather than send it another request (so what was read is
    not kept). TLS records without data (session tickets) do not count."""
    try:
        return ch.read(65536) is not None
    except TLSError:
        return True


def check_options(local_address: str | None, socket_options: Iterable[Any] | None) -> None:
    if local_address or socket_options:
        raise httpcore.UnsupportedProtocol("nettls.httpx: local_address and socket_options are not available through net.TCPSocket")


class SyncStream(httpcore.NetworkStream):
    """A connection, plain (``PlainChannel``) or TLS (``Channel``)."""

    def __init__(self, maker: SessionMaker, channel: Channel | PlainChannel) -> None:
        self._maker = maker
        self._ch: Any = channel

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        ch, deadline = self._ch, _deadline(timeout)
        while True:
            try:
                data = ch.read(max_bytes)
            except TLSError as exc:
                raise httpcore.ReadError(str(exc)) from exc
            if data:
                return bytes(data)
            if data is not None:
                return self._ended()
            writable = ch.wants_write()
            if not _wait(ch.fd, writable, deadline):
                raise httpcore.ReadTimeout(f"no data within {timeout} s")
            if writable:
                self._flush(httpcore.ReadError)

    def _ended(self) -> bytes:
        kind, exc = self._ch.ending()
        if kind == CLEAN:
            return b""
        if exc is None:
            raise httpcore.ReadError("the server closed the connection without close_notify: the response may be truncated")
        raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        ch, deadline = self._ch, _deadline(timeout)
        try:
            ch.send(buffer)
        except (TLSError, OSError) as exc:
            raise httpcore.WriteError(str(exc)) from exc
        while ch.wants_write():
            if not _wait(ch.fd, True, deadline):
                raise httpcore.WriteTimeout(f"could not write within {timeout} s")
            self._flush(httpcore.WriteError)

    def _flush(self, error: type[Exception]) -> None:
        try:
            self._ch.flush()
        except (TLSError, OSError) as exc:
            raise error(str(exc)) from exc

    def close(self) -> None:
        ch = self._ch
        try:
            deadline = _deadline(CLOSE_TIMEOUT)
            while not ch.close_step() and _wait(ch.fd, True, deadline):
                pass
        except (TLSError, OSError):
            pass
        finally:
            ch.release()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> SyncStream:
        """The TLS stream over this connection; ``ssl_context`` (httpcore's) is
        not used: the transport's nettls context decides everything."""
        if not isinstance(self._ch, PlainChannel):
            raise httpcore.UnsupportedProtocol("nettls.httpx: TLS inside TLS (an HTTPS proxy) is not supported")
        deadline = _deadline(timeout)
        try:
            ch = self._maker.channel(self._ch.socket, server_hostname)
            while (need := ch.step()) != DONE:
                if not _wait(ch.fd, need != READ, deadline):
                    raise httpcore.ConnectTimeout(f"the TLS handshake did not complete within {timeout} s")
        except (TLSError, OSError, ValueError) as exc:
            self._ch.release()
            raise httpcore.ConnectError(str(exc)) from exc
        except BaseException:
            self._ch.release()
            raise
        return SyncStream(self._maker, ch)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return is_readable(self._ch)
        if isinstance(self._ch, Channel):
            return self._ch.info(info)
        return None


class SyncBackend(httpcore.NetworkBackend):
    """httpcore's ``NetworkBackend`` on nettls: see the module docstring."""

    def __init__(self, maker: SessionMaker) -> None:
        self._maker = maker

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> SyncStream:
        check_options(local_address, socket_options)
        pending = PendingConnect(self._maker.new_socket(), host, port, timeout)
        try:
            pending.run()
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return SyncStream(self._maker, PlainChannel(pending.sock))

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None) -> SyncStream:
        raise httpcore.UnsupportedProtocol("nettls.httpx: Unix sockets are not available through net.TCPSocket")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
