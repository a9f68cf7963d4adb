"""``nettls.connect_tls`` and ``nettls.resolve_tls`` against a real server.

The server is ``nettls serve``'s in-process ``Server`` with a throwaway CA
(valid for localhost and 127.0.0.1); its root goes to a file the client
names as ``cafile``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Iterator

import pytest

import nettls
from nettls.conformance import make_pki
from nettls.interfaces import ITLS, IServerName, IVerifyOnConnect

from _edge import COMPONENTS, port_of, serve_thread

pytestmark = pytest.mark.timeout(60)



def _verifies(component: str) -> bool:
    try:
        nettls.resolve_tls(component, provides=[IVerifyOnConnect, IServerName])
    except nettls.RegistryError:
        return False
    return True


#: Components whose classes provide what connect_tls needs.
VERIFYING = [c for c in COMPONENTS if _verifies(c)]


@pytest.fixture
def echo_server(tmp_path: Path) -> Iterator[tuple[int, str]]:
    """(port, path of a file holding the server's root CA)."""
    with serve_thread("stdlib") as server:
        ca = tmp_path / "ca.pem"
        assert server.ca_certificate is not None
        ca.write_text(server.ca_certificate)
        yield port_of(server), str(ca)


@pytest.mark.parametrize("component", VERIFYING)
def test_connect_tls_gives_a_verified_session(echo_server: tuple[int, str], component: str) -> None:
    port, ca = echo_server
    with nettls.connect_tls("127.0.0.1", port, component=component, cafile=ca, server_name="localhost") as session:
        assert ITLS.providedBy(session)
        assert session.getVerifyResult().ok
        assert session.send(b"ping") == 4
        assert session.recv(4) == b"ping"
        sock = session.getSocket()
    assert not sock.connected(), "close() at the end of with also disconnects the socket"


@pytest.mark.parametrize("component", VERIFYING)
def test_connect_tls_checks_the_host_name(echo_server: tuple[int, str], component: str) -> None:
    port, ca = echo_server
    with pytest.raises(nettls.TLSHandshakeError, match="www.example.com"):
        nettls.connect_tls("127.0.0.1", port, component=component, cafile=ca, server_name="www.example.com")


def test_connect_tls_refuses_an_untrusted_server(echo_server: tuple[int, str], tmp_path: Path) -> None:
    port, _ca = echo_server
    other = tmp_path / "other.pem"
    other.write_text(make_pki().ec.root.cert_pem)
    with pytest.raises(nettls.TLSHandshakeError, match="(?i)verif"):
        nettls.connect_tls("127.0.0.1", port, cafile=str(other), server_name="localhost")


def test_connect_tls_says_when_the_cafile_is_unusable(echo_server: tuple[int, str], tmp_path: Path) -> None:
    port, _ca = echo_server
    missing = tmp_path / "no-such-ca.pem"
    with pytest.raises(nettls.CertificateError, match="no-such-ca.pem"):
        nettls.connect_tls("127.0.0.1", port, cafile=str(missing))


def test_a_component_without_the_extensions_is_refused_by_name() -> None:
    lacking = [c for c in COMPONENTS if c not in VERIFYING]
    if not lacking:
        pytest.skip("every installed component provides the extensions")
    with pytest.raises(nettls.RegistryError, match="IVerifyOnConnect|IServerName"):
        nettls.connect_tls("127.0.0.1", 1, component=lacking[0], cafile=__file__)


def test_resolve_tls_gives_three_roles_of_one_component() -> None:
    classes = nettls.resolve_tls(provides=["IVerifyOnConnect", "IServerName"])
    assert classes.component == nettls.registry.linked("net.TLS")
    for role, cls in (("net.TLS", classes.TLS), ("net.TLSContext", classes.TLSContext), ("net.TLSCertStore", classes.TLSCertStore)):
        assert cls is nettls.resolve(role, component=classes.component)
    assert IVerifyOnConnect.implementedBy(classes.TLSContext)


def test_resolve_tls_substitution_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Linked to a component without the extensions, resolve_tls takes the
    three roles from another one, and says so."""
    lacking = [c for c in COMPONENTS if c not in VERIFYING]
    if not lacking:
        pytest.skip("every installed component provides the extensions")
    before = {name: nettls.registry.linked(name) for name in ("net.TLS", "net.TLSContext", "net.TLSCertStore")}
    try:
        for name in before:
            nettls.link(name, lacking[0])
        with caplog.at_level(logging.WARNING, logger="nettls"):
            classes: Any = nettls.resolve_tls(provides=[IVerifyOnConnect, IServerName])
        assert classes.component != lacking[0]
        assert classes.TLSContext is nettls.resolve("net.TLSContext", component=classes.component)
        assert any(lacking[0] in r.getMessage() and "IVerifyOnConnect" in r.getMessage() for r in caplog.records)
    finally:
        for name, component in before.items():
            if component is not None:
                nettls.link(name, component)


def test_handshakes_are_logged_at_debug(echo_server: tuple[int, str], caplog: pytest.LogCaptureFixture) -> None:
    """The nettls logger says each handshake's outcome at DEBUG (silent unless asked)."""
    port, ca = echo_server
    with caplog.at_level(logging.DEBUG, logger="nettls"):
        with nettls.connect_tls("127.0.0.1", port, cafile=ca, server_name="localhost"):
            pass
        with pytest.raises(nettls.TLSHandshakeError):
            nettls.connect_tls("127.0.0.1", port, cafile=ca, server_name="www.example.com")
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("nettls")]
    assert any("handshake done" in m and "TLSv1.3" in m for m in messages), messages
    assert any("handshake failed" in m for m in messages), messages
