"""``SSLKEYLOGFILE``: honoured as curl and browsers honour it, by every
component that provides IKeyLog, when the context sets no file of its own."""

from __future__ import annotations

import uuid

import pytest

import nettls
from nettls.conformance import Harness
from nettls.interfaces import IKeyLog

from _edge import COMPONENTS


@pytest.mark.parametrize("component", COMPONENTS)
def test_sslkeylogfile_is_honoured(component: str, tmp_path, monkeypatch) -> None:
    ctx_cls = nettls.resolve("net.TLSContext", component=component)
    if not IKeyLog.implementedBy(ctx_cls):
        pytest.skip(f"{component} does not provide IKeyLog")
    path = tmp_path / "env-keys.log"
    monkeypatch.setenv("SSLKEYLOGFILE", str(path))
    with Harness(component) as harness:
        ctx = harness.kit.client_context()
        # A configuration no other test made: native contexts are cached per
        # configuration, and the variable is read when one is built.
        ctx.setApplicationProtocols([f"keylog-{uuid.uuid4().hex[:12]}"])
        pair = harness.tls_pair(client_context=ctx)
        assert pair.exchange(b"ping", b"pong") == (b"ping", b"pong")
    assert b"SECRET" in path.read_bytes() or b"CLIENT_RANDOM" in path.read_bytes()
