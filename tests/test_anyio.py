"""``nettls.aio`` on anyio: ``connect_tls`` and ``TLSListener`` on anyio's
asyncio and trio backends, on every component, against ``openssl
s_server`` and Python's ``ssl``; the ends of a stream give what anyio's
own ``TLSStream`` gives, a peer that stops reading holds ``send()`` back,
and cancellation leaves nothing open.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
from typing import Any, Callable

import anyio
import pytest
from anyio.abc import SocketAttribute
from cryptography.hazmat.primitives.serialization import Encoding
from anyio.streams.tls import TLSAttribute

import nettls
import nettls.aio
from nettls.conformance._openssl import s_server
from nettls.interfaces import IEndOfStream, IServerName, IVerifyOnConnect, TLSHandshakeError, TLSTimeoutError
from nettls.pki import throwaway_pki

from _aio_support import (
    COMPONENTS,
    LOOPBACK,
    WAIT,
    PythonPeer,
    client_context,
    close_notify,
    descriptor,
    half_close_server,
    lacking,
    need,
    open_fds,
    pki,
    reset,
    server_context,
    still_open,
    truncate,
    write_files,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]
KiB = 1024
PAIRS = sorted({(s, c) for s in COMPONENTS for c in COMPONENTS if s == c or "stdlib" in (s, c)})


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return write_files(tmp_path_factory.mktemp("anyio-pki"))


async def echo(stream: nettls.aio.TLSStream) -> None:
    async with stream:
        try:
            while True:
                await stream.send(await stream.receive())
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass


@pytest.mark.parametrize("server,client", PAIRS)
async def test_connect_tls_and_listener_echo(server: str, client: str) -> None:
    fds = open_fds()
    listener = nettls.aio.TLSListener(LOOPBACK, 0, context=server_context(server))
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, echo)
            stream = await nettls.aio.connect_tls(LOOPBACK, listener.port, context=client_context(client))
            payload = bytes(range(256)) * 1200
            got = bytearray()

            async def receive_all() -> None:  # a reader task while this one sends: full duplex
                while len(got) < len(payload):
                    got.extend(await stream.receive())

            async with anyio.create_task_group() as inner:
                inner.start_soon(receive_all)
                for i in range(0, len(payload), 50 * KiB):
                    await stream.send(payload[i : i + 50 * KiB])
            assert got == payload
            assert stream.extra(TLSAttribute.tls_version) in ("TLSv1.2", "TLSv1.3")
            assert stream.extra(TLSAttribute.server_side) is False
            assert stream.extra(TLSAttribute.standard_compatible) is True
            assert stream.extra(TLSAttribute.cipher)[1] == stream.extra(TLSAttribute.tls_version)
            assert stream.extra(TLSAttribute.peer_certificate_binary) == pki().leaf.cert.public_bytes(Encoding.DER)
            assert stream.extra(SocketAttribute.remote_port) == listener.port
            assert stream.extra(SocketAttribute.remote_address) == (LOOPBACK, listener.port)
            assert stream.extra(nettls.aio.NettlsAttribute.peer_chain)[1] == pki().intermediate.cert_pem
            assert stream.extra(nettls.aio.NettlsAttribute.component) == client
            await stream.aclose()
            with pytest.raises(anyio.ClosedResourceError):
                await stream.receive()
            tg.cancel_scope.cancel()
    await listener.aclose()
    assert open_fds() == fds, "a descriptor was left open"


@pytest.mark.parametrize("component", COMPONENTS)
async def test_connect_tls_to_openssl_s_server(component: str, files: dict[str, str]) -> None:
    verify = not lacking(component, TLSContext=[IVerifyOnConnect], TLS=[IServerName])
    proc, port = s_server(files)
    try:
        with anyio.fail_after(WAIT):
            stream = await nettls.aio.connect_tls("localhost", port, context=client_context(component, verify=verify), component=component)
            await stream.send(b"hello anyio\n")
            got = b""
            while not got.endswith(b"\n"):
                got += await stream.receive()
            assert got == b"oiyna olleh\n"
            await stream.aclose()
    finally:
        proc.stop()


# -- ends of stream ------------------------------------------------------------------------------


def hello_then(end: Callable[[ssl.SSLSocket], None]) -> Callable[[ssl.SSLSocket], None]:
    def script(tls: ssl.SSLSocket) -> None:
        tls.sendall(b"hello")
        threading.Event().wait(0.1)
        end(tls)

    return script


async def outcome_of(stream: Any) -> tuple[bytes, str]:
    got = b""
    try:
        while True:
            got += await stream.receive()
    except (anyio.EndOfStream, anyio.BrokenResourceError) as exc:
        return got, type(exc).__name__


async def anyio_own(end: Callable[[ssl.SSLSocket], None]) -> tuple[bytes, str]:
    """What anyio's own TLSStream (``standard_compatible``) gives for the same peer."""
    peer = PythonPeer(hello_then(end))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=pki().root.cert_pem)
    stream = await anyio.connect_tcp(LOOPBACK, peer.port, ssl_context=ctx, tls_hostname="localhost")
    try:
        return await outcome_of(stream)
    finally:
        await anyio.aclose_forcefully(stream)
        peer.join()


@pytest.mark.parametrize("end", [truncate, reset, close_notify], ids=["truncation", "reset", "close_notify"])
@pytest.mark.parametrize("component", COMPONENTS)
async def test_ends_of_stream_give_anyios_own_outcomes(component: str, end: Callable[[ssl.SSLSocket], None]) -> None:
    peer = PythonPeer(hello_then(end))
    with anyio.fail_after(WAIT):
        stream = await nettls.aio.connect_tls(LOOPBACK, peer.port, context=client_context(component))
        got = await outcome_of(stream)
        cause = None
        try:
            await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError) as exc:  # the end is for good
            assert type(exc).__name__ == got[1]
            cause = exc.__cause__
        await stream.aclose()
        peer.join()
        assert got == await anyio_own(end)
    assert got == (b"hello", "EndOfStream" if end is close_notify else "BrokenResourceError")
    if end is reset:
        assert isinstance(cause, ConnectionResetError)
    elif end is truncate and IEndOfStream.implementedBy(nettls.resolve("net.TLS", component=component)):
        assert stream.extra(nettls.aio.NettlsAttribute.ended_cleanly) is False


# -- flow control and cancellation ----------------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
async def test_send_waits_for_a_peer_that_stops_reading(component: str) -> None:
    go, counted = threading.Event(), []

    def script(tls: ssl.SSLSocket) -> None:
        go.wait(WAIT)
        total = 0
        while data := tls.recv(256 * KiB):
            total += len(data)
        counted.append(total)

    peer = PythonPeer(script)
    chunk = bytes(64 * KiB)
    sent = 0
    stream = await nettls.aio.connect_tls(LOOPBACK, peer.port, context=client_context(component))
    session = stream.extra(nettls.aio.NettlsAttribute.session)
    with anyio.move_on_after(0.5) as scope:
        for _ in range(2000):  # 125 MiB: far beyond what the kernel buffers
            await stream.send(chunk)
            sent += len(chunk)
            assert session.getBufferUnsent() == 0, "send() returned with data still queued"
    assert scope.cancelled_caught, "send() never waited for the peer"
    assert session.getBufferUnsent() <= len(chunk), "more than one send()'s data held"
    go.set()
    with anyio.fail_after(WAIT):
        await stream.aclose()  # what the cancelled send() queued goes first, then close_notify
    await anyio.to_thread.run_sync(peer.join)
    assert counted and counted[0] in (sent, sent + len(chunk))


@pytest.mark.parametrize("component", COMPONENTS)
async def test_cancel_in_the_middle_of_a_handshake_closes_the_socket(component: str) -> None:
    with socket.create_server((LOOPBACK, 0)) as silent:
        port = silent.getsockname()[1]
        fds = open_fds()
        with anyio.move_on_after(0.2):
            await nettls.aio.connect_tls(LOOPBACK, port, context=client_context(component))
        assert open_fds() == fds, "the cancelled handshake left a descriptor open"
        with pytest.raises(TLSTimeoutError, match="0.2 s"):
            await nettls.aio.connect_tls(LOOPBACK, port, context=client_context(component), handshake_timeout=0.2)
        assert open_fds() == fds, "the timed-out handshake left a descriptor open"


@pytest.mark.parametrize("component", COMPONENTS)
async def test_cancel_in_the_middle_of_a_receive_and_aclose(component: str) -> None:
    peer = PythonPeer(lambda tls: None if tls.recv(1) else None)  # never sends; ends when we do
    stream = await nettls.aio.connect_tls(LOOPBACK, peer.port, context=client_context(component))
    fd = descriptor(stream.extra(nettls.aio.NettlsAttribute.session).getSocket())
    with anyio.move_on_after(0.2) as scope:
        await stream.receive()
    assert scope.cancelled_caught
    await stream.aclose()
    assert not still_open(*fd)
    await anyio.to_thread.run_sync(peer.join)


# -- half-close, listeners, refusals --------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
async def test_send_eof_sends_close_notify_and_keeps_receiving(component: str) -> None:
    async def answer_at_end(stream: nettls.aio.TLSStream) -> None:
        got = 0
        try:
            while True:
                got += len(await stream.receive())
        except anyio.EndOfStream:
            await stream.send(b"got %d" % got)
        await stream.aclose()

    # The server writes after the client's close_notify.
    listener = nettls.aio.TLSListener(LOOPBACK, 0, context=server_context(half_close_server(component)))
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, answer_at_end)
            stream = await nettls.aio.connect_tls(LOOPBACK, listener.port, context=client_context(component))
            await stream.send(b"x" * 5000)
            missing = lacking(component, TLS=[IEndOfStream])
            if missing:
                with pytest.raises(NotImplementedError, match="IEndOfStream"):
                    await stream.send_eof()
            else:
                await stream.send_eof()
                assert await outcome_of(stream) == (b"got 5000", "EndOfStream")
            await stream.aclose()
            tg.cancel_scope.cancel()
    await listener.aclose()
    if missing:
        pytest.skip(f"n/a: the {component} component does not provide {', '.join(missing)}")


@pytest.mark.parametrize("component", COMPONENTS)
async def test_a_failed_handshake_is_logged_and_the_listener_goes_on(component: str, caplog: pytest.LogCaptureFixture) -> None:
    need(component, TLSContext=[IVerifyOnConnect], TLS=[IServerName])
    caplog.set_level(logging.DEBUG, "nettls.aio")
    listener = nettls.aio.TLSListener(LOOPBACK, 0, context=server_context(component))
    stranger = throwaway_pki().root.cert_pem
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, echo)
            with pytest.raises(TLSHandshakeError, match=component):
                await nettls.aio.connect_tls("localhost", listener.port, context=client_context(component, verify=True, root=stranger))
            stream = await nettls.aio.connect_tls("localhost", listener.port, context=client_context(component, verify=True))
            await stream.send(b"ok")
            assert await stream.receive() == b"ok"
            await stream.aclose()
            tg.cancel_scope.cancel()
    await listener.aclose()
    assert any("handshake failed" in r.getMessage() for r in caplog.records)


async def test_listener_accept_and_concurrent_receives_are_refused() -> None:
    listener = nettls.aio.TLSListener(LOOPBACK, 0, context=server_context("stdlib"), handshake_timeout=WAIT)
    with anyio.fail_after(WAIT):
        async with anyio.create_task_group() as tg:
            accepted: list[nettls.aio.TLSStream] = []

            async def accept_one() -> None:
                accepted.append(await listener.accept())

            tg.start_soon(accept_one)
            stream = await nettls.aio.connect_tls(LOOPBACK, listener.port, context=client_context("stdlib"))
            while not accepted:
                await anyio.sleep(0.01)
            first: list[bytes] = []

            async def receive_one() -> None:
                first.append(await stream.receive())

            tg.start_soon(receive_one)
            await anyio.sleep(0.05)
            with pytest.raises(anyio.BusyResourceError):
                await stream.receive()
            await accepted[0].send(b"!")  # ends the first receive
            while not first:
                await anyio.sleep(0.01)
            assert first == [b"!"]
            await accepted[0].aclose()
            await stream.aclose()
    assert listener.extra(SocketAttribute.local_port) == listener.port
    await listener.aclose()
    assert listener.extra_attributes == {}


def test_the_anyio_names_need_anyio_only_when_used() -> None:
    assert set(nettls.aio.__all__) >= {"connect_tls", "TLSListener", "TLSStream", "open_connection"}
    with pytest.raises(AttributeError):
        nettls.aio.no_such_name  # noqa: B018

