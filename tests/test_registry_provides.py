"""Capability resolution: ``resolve(name, provides=[...])`` and ``providers(name, provides=...)``.

Third-party components are registered at run time on a private Registry,
so the process-wide one is never touched.
"""

from __future__ import annotations

import pytest
import nettls
from nettls import Component, Registry, RegistryError
from nettls.interfaces import (
    EXTENSION_INTERFACES,
    INegotiatedProtocol,
    IServerName,
    ISessionInfo,
    ISystemTrust,
    ITLS,
)

STDLIB_TLS = nettls.resolve("net.TLS", component="stdlib")
STDLIB_CONTEXT = nettls.resolve("net.TLSContext", component="stdlib")
STDLIB_STORE = nettls.resolve("net.TLSCertStore", component="stdlib")


def plain_tls() -> type:
    """A TLS class with the spec interface and ISessionInfo only."""
    from nettls.components._common.session import TLSSession

    class Plain(TLSSession):
        component = "plain"

        def _native_context(self, config):  # pragma: no cover - never connected here
            return None

    from zope.interface import classImplementsOnly

    classImplementsOnly(Plain, ITLS, ISessionInfo)
    return Plain


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.delenv("NETTLS_LINKS", raising=False)
    reg = Registry()
    reg.register(Component(name="plain", provides={"net.TLS": plain_tls(), "net.TLSContext": STDLIB_CONTEXT, "net.TLSCertStore": STDLIB_STORE}))
    return reg


def test_linked_component_is_kept_when_it_has_the_extensions(registry):
    assert registry.resolve("net.TLS", provides=[IServerName]) is STDLIB_TLS
    assert registry.resolve("net.TLS", provides=["IServerName", "INegotiatedProtocol"]) is STDLIB_TLS
    assert registry.resolve("net.TLS", provides=[]) is STDLIB_TLS


def test_falls_back_to_a_component_that_has_them(registry):
    registry.link("net.TLS", "plain")
    assert registry.resolve("net.TLS") is not STDLIB_TLS
    found = registry.resolve("net.TLS", provides=[IServerName, INegotiatedProtocol])
    assert IServerName.implementedBy(found) and INegotiatedProtocol.implementedBy(found)
    assert registry.resolve("net.TLS", provides=[ISessionInfo]) is registry.resolve("net.TLS"), "the link has it"


def test_a_named_component_must_have_them(registry):
    assert registry.resolve("net.TLS", component="stdlib", provides=[IServerName]) is STDLIB_TLS
    with pytest.raises(RegistryError) as info:
        registry.resolve("net.TLS", component="plain", provides=[IServerName, ISessionInfo])
    message = str(info.value)
    assert "plain" in message and "IServerName" in message and "ISessionInfo" not in message


def test_missing_everywhere_names_what_each_lacks(registry):
    with pytest.raises(RegistryError) as info:
        registry.resolve("net.TLS", provides=[ISystemTrust])
    message = str(info.value)
    assert "no available component provides net.TLS with ISystemTrust" in message
    assert "plain lacks ISystemTrust" in message and "stdlib lacks ISystemTrust" in message
    assert isinstance(info.value, LookupError)
    assert registry.resolve("net.TLSCertStore", provides=[ISystemTrust]) is STDLIB_STORE


def test_unknown_extension_names(registry):
    with pytest.raises(RegistryError) as info:
        registry.resolve("net.TLS", provides=["IFlyingCar"])
    assert "IFlyingCar" in str(info.value) and "IServerName" in str(info.value)
    with pytest.raises(TypeError):
        registry.resolve("net.TLS", provides=[42])
    assert registry.resolve("net.TLS", provides="IServerName") is STDLIB_TLS, "one name alone is accepted"
    assert registry.resolve("net.TLS", provides=["nettls.interfaces.tlsext.IServerName"]) is STDLIB_TLS


def test_providers_filter_by_extension(registry):
    assert "plain" in registry.providers("net.TLS")
    with_names = registry.providers("net.TLS", provides=[IServerName])
    assert "stdlib" in with_names and "plain" not in with_names


def test_module_level_resolve_takes_provides():
    assert nettls.resolve("net.TLS", provides=["IResumption"]) is nettls.resolve("net.TLS", provides=["IResumption"])
    assert set(EXTENSION_INTERFACES) >= {"IServerName", "IVerifyOnConnect", "ISystemTrust", "ISessionInfo", "ISelectable"}

