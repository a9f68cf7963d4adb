"""``nettls.httpx``: httpx's clients on every component, against ``nettls
serve --http`` (in this process), ``openssl s_server -www`` and small
servers of the test's own (HTTP/2 over ``nettls.aio``, a truncating one, a
silent one); what each component lacks is refused with its name.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import anyio
import h2.config
import h2.connection
import h2.events
import httpx
import pytest

import nettls
import nettls.aio
import nettls.httpx
from nettls.conformance import make_pki
from nettls.conformance._openssl import OpenSSL
from nettls.interfaces import (
    INegotiatedProtocol,
    IProtocolNegotiation,
    IServerName,
    ISystemTrust,
    IVerifyOnConnect,
    RegistryError,
)
from nettls.pki import throwaway_pki

from _aio_support import COMPONENTS, LOOPBACK, WAIT, PythonPeer, lacking, need, server_context, store, truncate, write_files
from _edge import serve_thread

pytestmark = pytest.mark.timeout(60)
VERIFY_NEEDS: dict[str, list[Any]] = {"TLSContext": [IVerifyOnConnect], "TLS": [IServerName]}
HTTP2_NEEDS: dict[str, list[Any]] = {"TLSContext": [IProtocolNegotiation], "TLS": [INegotiatedProtocol]}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return write_files(tmp_path_factory.mktemp("httpx-pki"))


@pytest.fixture
def nettls_serve(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[int, str]]:
    """``nettls serve --http`` on the test's component: its port and CA file."""
    component = request.node.callspec.params["component"]
    with serve_thread(component, http=True) as server:
        ca = tmp_path / "serve-ca.pem"
        ca.write_text(server.ca_certificate or "")
        assert server.endpoint is not None
        yield server.endpoint.port, str(ca)


@pytest.mark.parametrize("component", COMPONENTS)
def test_verified_get_from_nettls_serve(component: str, nettls_serve: tuple[int, str]) -> None:
    need(component, **VERIFY_NEEDS)
    port, ca = nettls_serve
    with httpx.Client(transport=nettls.httpx.HTTPTransport(component=component, verify=ca)) as client:
        for path in ("/first", "/second"):  # (nettls serve answers one request per connection)
            response = client.get(f"https://localhost:{port}{path}")
            assert response.status_code == 200 and "Hello from nettls" in response.text
            assert response.http_version == "HTTP/1.1"


@pytest.mark.parametrize("component", COMPONENTS)
def test_unverified_get_from_nettls_serve(component: str, nettls_serve: tuple[int, str]) -> None:
    """verify=False verifies nothing, except on a component whose client
    always verifies the chain (SPEC 6): there the system's roots, which do
    not know this server."""
    port, _ = nettls_serve
    with httpx.Client(transport=nettls.httpx.HTTPTransport(component=component, verify=False)) as client:
        if nettls.registry.component(component).client_verifies_chain:
            with pytest.raises(httpx.ConnectError):
                client.get(f"https://localhost:{port}/")
        else:
            assert client.get(f"https://localhost:{port}/").status_code == 200


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize("component", COMPONENTS)
def test_async_client_on_asyncio_and_trio(component: str, backend: str, nettls_serve: tuple[int, str]) -> None:
    need(component, **VERIFY_NEEDS)
    port, ca = nettls_serve

    async def main() -> httpx.Response:
        async with httpx.AsyncClient(transport=nettls.httpx.AsyncHTTPTransport(component=component, verify=ca)) as client:
            with anyio.fail_after(WAIT):
                return await client.get(f"https://127.0.0.1:{port}/async")

    response = anyio.run(main, backend=backend)
    assert response.status_code == 200 and "Hello from nettls" in response.text


@pytest.mark.parametrize("component", COMPONENTS)
def test_get_from_openssl_s_server_www(component: str, files: dict[str, str]) -> None:
    verify: Any = False if lacking(component, **VERIFY_NEEDS) else files["root"]
    trust = store(component, files["root"]) if verify is False and nettls.registry.component(component).client_verifies_chain else None
    server = OpenSSL(["s_server", "-accept", f"{LOOPBACK}:0", "-naccept", "1", "-www",
                      "-cert", files["cert"], "-key", files["key"], "-cert_chain", files["chain"]])  # fmt: skip
    try:
        port = int(server.wait_for(r"ACCEPT \S+:(\d+)").group(1))
        transport = nettls.httpx.HTTPTransport(component=component, verify=verify if trust is None else True, trust=trust)
        with httpx.Client(transport=transport, timeout=WAIT) as client:
            response = client.get(f"https://localhost:{port}/")
        assert response.status_code == 200 and "s_server" in response.text
    finally:
        server.stop()


def test_mutual_tls_against_openssl_s_server(files: dict[str, str]) -> None:
    def serve() -> tuple[OpenSSL, int]:
        proc = OpenSSL(["s_server", "-accept", f"{LOOPBACK}:0", "-naccept", "1", "-www", "-Verify", "2",
                        "-verify_return_error", "-CAfile", files["root"],
                        "-cert", files["cert"], "-key", files["key"], "-cert_chain", files["chain"]])  # fmt: skip
        return proc, int(proc.wait_for(r"ACCEPT \S+:(\d+)").group(1))

    proc, port = serve()
    try:
        cert = (files["client_cert"], files["client_key"])
        with httpx.Client(transport=nettls.httpx.HTTPTransport(verify=files["root"], cert=cert), timeout=WAIT) as client:
            response = client.get(f"https://localhost:{port}/")
        assert response.status_code == 200 and "nettls aio client" in response.text
    finally:
        proc.stop()
    proc, port = serve()
    try:
        with httpx.Client(transport=nettls.httpx.HTTPTransport(verify=files["root"]), timeout=WAIT) as client:
            with pytest.raises(httpx.TransportError):
                client.get(f"https://localhost:{port}/")
    finally:
        proc.stop()


# -- refusals and failed verification -----------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
def test_what_a_component_lacks_is_refused_by_name(component: str, files: dict[str, str]) -> None:
    cases: list[tuple[dict[str, Any], dict[str, list[Any]]]] = [
        ({"verify": True}, {**VERIFY_NEEDS, "TLSCertStore": [ISystemTrust]}),
        ({"verify": files["root"]}, VERIFY_NEEDS),
        ({"verify": False, "http2": True}, HTTP2_NEEDS),
    ]
    for kwargs, needs in cases:
        missing = lacking(component, **needs)
        if missing:
            with pytest.raises(RegistryError, match=f"{component}.*{missing[0]}"):
                nettls.httpx.HTTPTransport(component=component, **kwargs)
            with pytest.raises(RegistryError, match=missing[0]):
                nettls.httpx.AsyncHTTPTransport(component=component, **kwargs)
        else:
            nettls.httpx.HTTPTransport(component=component, **kwargs).close()


def test_bad_arguments_are_clear_errors(files: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no certificate could be loaded"):
        nettls.httpx.HTTPTransport(verify=str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match="trust= .* verify=False"):
        nettls.httpx.HTTPTransport(verify=False, trust=store("stdlib", files["root"]))
    with pytest.raises(TypeError, match="TLSCertStore"):
        nettls.httpx.HTTPTransport(trust=files["root"])
    encrypted = tmp_path / "encrypted-key.pem"
    encrypted.write_text(make_pki().client.key_pem("encrypted"))
    with pytest.raises(ValueError, match="password"):  # an encrypted key with a wrong password
        nettls.httpx.HTTPTransport(cert=(files["client_cert"], str(encrypted), "secret"))
    with pytest.raises(ValueError, match="encrypted"):  # and without one
        nettls.httpx.HTTPTransport(cert=(files["client_cert"], str(encrypted)))
    with pytest.raises(ValueError, match="no PEM private key"):
        nettls.httpx.HTTPTransport(cert=files["client_cert"])
    with pytest.raises(ValueError, match="cannot read"):
        nettls.httpx.HTTPTransport(cert=(str(tmp_path / "none.pem"), files["client_key"]))


@pytest.mark.parametrize("component", COMPONENTS)
def test_a_wrong_host_name_or_an_unknown_ca_fails_the_connection(component: str, nettls_serve: tuple[int, str]) -> None:
    need(component, **VERIFY_NEEDS)
    port, ca = nettls_serve
    url = f"https://localhost:{port}/"
    with httpx.Client(transport=nettls.httpx.HTTPTransport(component=component, verify=ca)) as client:
        with pytest.raises(httpx.ConnectError):
            client.get(url, extensions={"sni_hostname": "not-this-server.example"})
    stranger = store(component, throwaway_pki().root.cert_pem)
    with httpx.Client(transport=nettls.httpx.HTTPTransport(component=component, trust=stranger)) as client:
        with pytest.raises(httpx.ConnectError):
            client.get(url)


# -- HTTP/2, keep-alive, truncation, timeouts, plain HTTP -------------------------------------


async def h2_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A minimal HTTP/2 server: each request gets its path back."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    writer.write(conn.data_to_send())
    while data := await reader.read(65536):
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                path = dict(event.headers)[b":path"]
                body = b"h2 says " + path + b" over " + writer.get_extra_info("selected_alpn_protocol").encode()
                conn.send_headers(event.stream_id, [(":status", "200"), ("content-length", str(len(body)))])
                conn.send_data(event.stream_id, body, end_stream=True)
        writer.write(conn.data_to_send())
        await writer.drain()
    writer.close()


@pytest.fixture
def h2_server() -> Iterator[int]:
    """``h2_handler`` on ``nettls.aio.start_server`` (stdlib, ALPN h2) in a thread."""
    loop = asyncio.new_event_loop()
    started: list[Any] = []

    def run() -> None:
        async def main() -> None:
            srv = await nettls.aio.start_server(h2_handler, LOOPBACK, 0, context=server_context("stdlib", alpn=["h2"]))
            started.append(srv)
            await srv.serve_forever()

        try:
            loop.run_until_complete(main())
        except asyncio.CancelledError:
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while not started and thread.is_alive():
        threading.Event().wait(0.01)
    try:
        yield started[0].port
    finally:
        loop.call_soon_threadsafe(started[0].close)
        thread.join(WAIT)
        loop.close()


@pytest.mark.parametrize("component", COMPONENTS)
def test_http2_through_alpn(component: str, h2_server: int, files: dict[str, str]) -> None:
    need(component, TLSContext=[IVerifyOnConnect, IProtocolNegotiation], TLS=[IServerName, INegotiatedProtocol])
    transport = nettls.httpx.HTTPTransport(component=component, verify=files["root"], http2=True)
    with httpx.Client(transport=transport, timeout=WAIT) as client:
        first = client.get(f"https://localhost:{h2_server}/one")
        second = client.get(f"https://localhost:{h2_server}/two")
    assert (first.http_version, first.text) == ("HTTP/2", "h2 says /one over h2")
    assert second.text == "h2 says /two over h2"


def http_peer(responses: list[bytes], end: Callable[[ssl.SSLSocket], None] | None = None) -> PythonPeer:
    """A Python ``ssl`` server: for each request, the next response; then ``end``."""

    def script(tls: ssl.SSLSocket) -> None:
        for response in responses:
            head = b""
            while b"\r\n\r\n" not in head:
                data = tls.recv(4096)
                if not data:
                    return
                head += data
            tls.sendall(response)
        if end is not None:
            end(tls)
        else:
            while tls.recv(4096):  # until the client closes
                pass

    return PythonPeer(script)


@pytest.mark.parametrize("component", COMPONENTS)
def test_keep_alive_reuses_the_connection(component: str, files: dict[str, str]) -> None:
    """Two requests on one connection: the session tickets a TLS 1.3 server
    sends after the handshake do not make the idle connection look closed."""
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    peer = http_peer([ok, ok])
    verify: Any = False if lacking(component, **VERIFY_NEEDS) else files["root"]
    with httpx.Client(transport=nettls.httpx.HTTPTransport(component=component, verify=verify), timeout=WAIT) as client:
        assert [client.get(f"https://localhost:{peer.port}/{i}").text for i in range(2)] == ["ok", "ok"]
    peer.join()
    assert not peer.errors


@pytest.mark.parametrize("component", COMPONENTS)
def test_a_truncated_response_is_an_error_not_a_short_body(component: str, files: dict[str, str]) -> None:
    """A body delimited by the connection's end, cut by a TCP close without
    close_notify: stock httpx on Python's ssl returns the short body; here
    it is a ReadError where the component tells the two ends apart."""
    need(component, **VERIFY_NEEDS)
    peer = http_peer([b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npartial bo"], truncate)
    with httpx.Client(transport=nettls.httpx.HTTPTransport(component=component, verify=files["root"]), timeout=WAIT) as client:
        with pytest.raises(httpx.ReadError, match="close_notify"):
            client.get(f"https://localhost:{peer.port}/")
    peer.join()


def test_a_silent_server_times_out(files: dict[str, str]) -> None:
    peer = http_peer([])  # reads the request, answers nothing
    with httpx.Client(transport=nettls.httpx.HTTPTransport(verify=files["root"]), timeout=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get(f"https://localhost:{peer.port}/")
    peer.join()


def test_plain_http_urls_go_over_the_tcp_component() -> None:
    with socket.create_server((LOOPBACK, 0)) as listener:
        listener.settimeout(WAIT)
        port = listener.getsockname()[1]

        def serve() -> None:
            for _ in range(2):
                conn, _ = listener.accept()
                with conn:
                    conn.settimeout(WAIT)
                    head = b""
                    while b"\r\n\r\n" not in head:
                        head += conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nplain")

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with httpx.Client(transport=nettls.httpx.HTTPTransport(), timeout=WAIT) as client:
            assert client.get(f"http://{LOOPBACK}:{port}/").text == "plain"

        async def main() -> str:
            async with httpx.AsyncClient(transport=nettls.httpx.AsyncHTTPTransport(), timeout=WAIT) as client:
                return (await client.get(f"http://{LOOPBACK}:{port}/")).text

        assert anyio.run(main) == "plain"
        thread.join(WAIT)


def test_the_httpx_example_runs() -> None:
    """docs/async.md's httpx example: httpx on rustls, sync and async."""
    if "rustls" not in COMPONENTS:
        pytest.skip("n/a: the rustls plugin is not installed")
    example = Path(__file__).resolve().parent.parent / "examples" / "async_httpx.py"
    proc = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "200 over rustls" in proc.stdout and "async: 200 over rustls" in proc.stdout, proc.stdout
