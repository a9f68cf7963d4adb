"""SPEC 7: one-directional transfers under TLS 1.3 lose nothing.

After a TLS 1.3 handshake the server's session tickets are still on their
way to the client. A client that only sends, closes and disconnects,
without ever reading, leaves them unread in its kernel; a careless close
turns its FIN into a reset that can destroy data the server has not read
yet. The server below reads only after the client is gone.
"""

from __future__ import annotations

import pytest

from nettls.interfaces import ISessionInfo

from ._support import payload
from .makers import BLOCKING

OK = 1
SIZE = 1 << 20  # more than the reader's window: some is still queued at the close


def _require_tls13(pair):
    if ISessionInfo.providedBy(pair.client):
        version = pair.client.getProtocolVersion()
        if version != "TLSv1.3":
            pytest.fail(f"negotiated {version}, not TLSv1.3 (SPEC 8: TLS 1.3 on)")


@pytest.mark.clause("7.one-way-tls13")
def test_client_only_sends_then_closes(harness, mode):
    pair = harness.tls_pair(mode)
    _require_tls13(pair)
    data = payload(SIZE, 30)
    if mode == BLOCKING:
        assert pair.client.send(data) == len(data)
    else:
        server = pair.endpoint("server")
        server.unwatch()  # the server does not read until the client is gone
        client = pair.endpoint("client")
        client.feed(data)
        pair.driver.run_until(lambda: client.idle, "the client's data to leave")
    assert pair.close("client") == OK
    pair.client_socket.disconnect()
    if mode != BLOCKING:
        pair.endpoint("server").watch()
    assert pair.read_to_end("server") == data, "the server lost data the client sent before closing"


@pytest.mark.clause("7.one-way-tls13")
def test_server_only_sends_then_closes(harness, mode):
    pair = harness.tls_pair(mode)
    _require_tls13(pair)
    data = payload(SIZE, 31)
    if mode == BLOCKING:
        assert pair.server.send(data) == len(data)
    else:
        client = pair.endpoint("client")
        client.unwatch()
        server = pair.endpoint("server")
        server.feed(data)
        pair.driver.run_until(lambda: server.idle, "the server's data to leave")
    assert pair.close("server") == OK
    pair.server_socket.disconnect()
    if mode != BLOCKING:
        pair.endpoint("client").watch()
    assert pair.read_to_end("client") == data, "the client lost data the server sent before closing"
