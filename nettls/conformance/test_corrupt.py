"""SPEC 4 and 6: corrupt records and fatal alerts in the middle of a stream.

After the handshake and some data, the peer's side of the connection
carries something a session must refuse: a record that does not decrypt,
one of an unknown type, one longer than TLS allows, an unprotected alert,
or a real fatal alert (an OpenSSL peer, through Python's ``ssl``, that was
itself sent a corrupt record). Whatever the damage, in both modes, the
session under test:

- gives the data that arrived before the damage, then ``b""`` on every
  ``recv()``, never raising;
- says ``FAIL`` from ``getStatus()`` from then on;
- raises ``TLSConnectionError`` from ``send()`` (a broken connection, SPEC 4),
  never a library's exception;
- keeps the peer's certificate, and (``ISessionInfo``) gives a reason.
"""

from __future__ import annotations

import ssl
import threading
from typing import Any

import pytest

from . import pyssl
from .checks import DAMAGE, assert_broken, check_damage
from .makers import BLOCKING, LOOPBACK, read_to_end, recv_exactly, set_timeout

OK = 1


@pytest.mark.clause("4.broken-recv")
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damage_after_data(harness, mode, damage):
    check_damage(harness, mode, damage)


@pytest.mark.clause("4.broken-recv")
def test_fatal_alert_after_data(harness, pki, mode, tmp_path):
    """The peer refuses a corrupt record with an encrypted fatal alert
    (bad_record_mac): the session under test ends as SPEC 4 says."""
    greeting = b"before the alert"
    done = threading.Event()

    def peer(tls: Any) -> str:
        tls.sendall(greeting)
        try:
            tls.recv(100)  # the corrupt record: OpenSSL answers with a fatal alert
        except (ssl.SSLError, OSError) as exc:
            error = str(exc)
        else:
            error = ""
        done.wait(harness.timeout)  # the connection stays open: the alert alone ends it
        return error

    served = pyssl.server(pki.ec, tmp_path, peer)
    harness.callback(done.set)
    sock = harness.tcp_kit.TCPSocket()
    harness.callback(sock.disconnect)
    set_timeout(sock, harness.timeout)
    sock.connect(LOOPBACK, served.port)
    client = harness.kit.TLS(harness.kit.client_context())
    if mode == BLOCKING:
        assert client.connect(sock) == OK
        assert recv_exactly(client, len(greeting)) == greeting
        sock.send(DAMAGE["bad-mac"])  # to the peer, behind the session's back
        assert read_to_end(client) == b""
    else:
        driver = harness.driver()
        ep = driver.add(client, sock, name="client", data="client")
        assert driver.complete(ep, lambda: client.connect(sock), "connect()") == OK
        driver.run_until(lambda: len(ep.received) >= len(greeting), "the peer's greeting")
        sock.send(DAMAGE["bad-mac"])
        assert driver.read_to_end(ep) == greeting
    assert_broken(client, mode, "after a fatal alert")
    done.set()
    assert served.join(), "the peer did not refuse the corrupt record"


@pytest.mark.clause("4.broken-send")
def test_send_while_the_peer_reads_garbage(harness, pki, mode):
    """A session whose peer failed mid-stream: its sends fail with TLSError
    once the peer's alert and close arrive, never with a library's exception."""
    pair = harness.tls_pair(mode, identity=pki.ec)
    pair.client_socket.send(DAMAGE["bad-mac"])  # the server reads garbage from the client's side
    assert pair.read_to_end("server") == b""
    assert_broken(pair.server, mode, "a server that read a corrupt record")
    pair.server_socket.disconnect()  # the server gives up on the connection
    assert pair.read_to_end("client") == b""
    assert_broken(pair.client, mode, "a client whose peer failed and left")
