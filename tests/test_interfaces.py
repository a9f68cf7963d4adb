"""The contract's own shape: names, constants, data types, errors, providers."""

from __future__ import annotations

import dataclasses

import pytest
from zope.interface.verify import verifyObject

import nettls
import nettls.interfaces as ifaces
from nettls.interfaces import DANA_NAME, SPEC_INTERFACES


def test_public_names_are_exported() -> None:
    for name in ifaces.__all__:
        assert hasattr(ifaces, name), name
    for name in nettls.__all__:
        assert hasattr(nettls, name), name
    assert set(nettls.__all__) >= {"resolve", "link", "load", "TLSError", "VerifyStatus", "Component"}


def test_each_interface_carries_its_dana_name() -> None:
    assert set(SPEC_INTERFACES) == {
        "net.Stream",
        "net.TCPSocket",
        "net.TCPServerSocket",
        "net.TCPMonitor",
        "net.TLS",
        "net.TLSContext",
        "net.TLSCertStore",
    }
    for name, iface in SPEC_INTERFACES.items():
        assert iface.getTaggedValue(DANA_NAME) == name
    assert ifaces.ITLS.extends(ifaces.IStream)
    assert ifaces.ITCPSocket.extends(ifaces.IStream)


def test_interface_methods_have_docstrings_and_dana_spelling() -> None:
    for iface in [*SPEC_INTERFACES.values(), ifaces.ISelectable, ifaces.IServerSocketOptions, ifaces.IHalfClose, ifaces.ITimeout, ifaces.ISessionInfo]:
        for name, desc in iface.namesAndDescriptions():
            assert desc.getDoc().strip(), f"{iface.__name__}.{name} has no docstring"
            assert "_" not in name, f"{iface.__name__}.{name} is not Dana camelCase"
    assert "getPeerCertChain" in ifaces.ITLS
    assert "sendBuffer" in ifaces.ITCPSocket


def test_constants_have_danas_values() -> None:
    tls = nettls.resolve("net.TLS")
    ctx = nettls.resolve("net.TLSContext")
    server = nettls.resolve("net.TCPServerSocket")
    assert (tls.FAIL, tls.OK, tls.WAIT_READ, tls.WAIT_WRITE) == (0, 1, 2, 3)
    assert (ctx.CLIENT, ctx.SERVER, ctx.CIPHER_DEFAULT, ctx.CIPHER_ALL) == (1, 2, 1, 2)
    assert (server.ANY_ADDRESS, server.ANY_ADDRESS_v4, server.ANY_ADDRESS_v6) == ("ANY", "ANY_v4", "ANY_v6")
    assert tls(ctx(ctx.CLIENT)).OK == 1, "instances carry the constants too"
    assert (nettls.VerifyStatus.OK, nettls.VerifyStatus.FAIL) == (0, 1), "the inverse of TLS.OK/FAIL, as Dana"


def test_data_types_are_plain_records() -> None:
    for cls in (nettls.NetworkEndpoint, nettls.MonitorEvent, nettls.VerifyStatus, nettls.EventData):
        assert dataclasses.is_dataclass(cls)
    ep = nettls.NetworkEndpoint("127.0.0.1", 443)
    assert (ep.address, ep.port) == ("127.0.0.1", 443)
    status = nettls.VerifyStatus(nettls.VerifyStatus.FAIL, None, "why")
    assert not status and status.failedReason == "why"
    assert status.ok is False
    assert nettls.VerifyStatus(nettls.VerifyStatus.OK)
    assert nettls.VerifyStatus(nettls.VerifyStatus.OK).ok is True
    # The trap .ok avoids: Dana's VerifyStatus.FAIL equals TLS.OK.
    assert status.status == nettls.resolve("net.TLS").OK


def test_error_taxonomy() -> None:
    assert issubclass(nettls.TLSHandshakeError, nettls.TLSError)
    assert issubclass(nettls.TLSConnectionError, nettls.TLSError)
    assert issubclass(nettls.TLSConnectionError, ConnectionError)
    assert issubclass(nettls.TLSTimeoutError, TimeoutError)
    assert issubclass(nettls.CertificateError, nettls.TLSError)
    assert issubclass(nettls.CertificateError, ValueError)
    assert issubclass(nettls.RegistryError, LookupError)


@pytest.mark.parametrize("component", [s.name for s in nettls.registry.components() if s.available])
def test_verify_object_for_every_provider(component: str) -> None:
    """Instances, not only classes, provide what their component declares."""
    decl = nettls.registry.component(component)
    ctx_cls = nettls.resolve("net.TLSContext")
    makers = {
        "net.TLS": lambda cls: cls(ctx_cls(ctx_cls.CLIENT)),
        "net.TLSContext": lambda cls: cls(cls.SERVER),
    }
    for name, cls in decl.provides.items():
        obj = makers.get(name, lambda cls: cls())(cls)
        try:
            assert verifyObject(SPEC_INTERFACES[name], obj)
        finally:
            for closer in ("disconnect", "unbind", "close"):
                if name.startswith("net.TCP") and hasattr(obj, closer):
                    getattr(obj, closer)()
                    break


def test_implementations_show_the_contract() -> None:
    """help(TLS.connect) on any component shows the interface's text: the
    registry fills the docstrings a class leaves empty."""
    import inspect

    from zope.interface import implementedBy
    from zope.interface.interface import Method

    checked = 0
    for status in nettls.registry.components():
        if not status.available or status.component is None:
            continue
        for cls in status.component.provides.values():
            for iface in implementedBy(cls).flattened():
                for name, spec in iface.namesAndDescriptions(all=False):
                    if isinstance(spec, Method) and inspect.isfunction(getattr(cls, name, None)):
                        assert (getattr(cls, name).__doc__ or "").strip(), f"{status.name}: {cls.__name__}.{name} has no docstring"
                        checked += 1
    assert checked > 100
    connect = nettls.resolve("net.TLS").connect
    assert "handshake" in (connect.__doc__ or "") and "ITLS.connect" in (connect.__doc__ or "")
