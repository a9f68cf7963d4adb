"""SPEC 1 and 3: providers conform to their interfaces and carry Dana's constants."""

from __future__ import annotations

import pytest
from zope.interface.verify import verifyClass, verifyObject

import nettls
from nettls.interfaces import ITCPMonitor, ITCPServerSocket, ITCPSocket, ITLS, ITLSCertStore, ITLSContext

from .clauses import CLAUSES
from .makers import TCPKit


@pytest.mark.clause("1.interfaces")
def test_tls_classes_conform(kit, pki):
    for iface, cls in ((ITLS, kit.TLS), (ITLSContext, kit.TLSContext), (ITLSCertStore, kit.TLSCertStore)):
        assert iface.implementedBy(cls), f"{cls!r} does not declare {iface.__name__}"
        verifyClass(iface, cls)
    ctx = kit.TLSContext(kit.TLSContext.CLIENT)
    verifyObject(ITLSContext, ctx)
    verifyObject(ITLSCertStore, kit.TLSCertStore())
    verifyObject(ITLS, kit.TLS(ctx))


@pytest.mark.clause("1.interfaces")
def test_tcp_classes_conform(tcp_component):
    kit = TCPKit.of(tcp_component)
    for iface, cls in ((ITCPSocket, kit.TCPSocket), (ITCPServerSocket, kit.TCPServerSocket), (ITCPMonitor, kit.TCPMonitor)):
        assert iface.implementedBy(cls), f"{cls!r} does not declare {iface.__name__}"
        verifyClass(iface, cls)
    verifyObject(ITCPSocket, kit.TCPSocket())
    verifyObject(ITCPServerSocket, kit.TCPServerSocket())
    verifyObject(ITCPMonitor, kit.TCPMonitor())


@pytest.mark.clause("1.interfaces")
def test_deviation_table_names_known_clauses(selected_component):
    for key in nettls.registry.component(selected_component).deviations:
        clause = key.split(":", 1)[0]
        assert clause in CLAUSES, f"deviation {key!r} names no clause of the suite"


@pytest.mark.clause("3.constants")
def test_tls_constants(kit):
    ctx = kit.TLSContext(kit.TLSContext.CLIENT)
    session = kit.TLS(ctx)
    for holder in (kit.TLS, session):
        assert (holder.FAIL, holder.OK, holder.WAIT_READ, holder.WAIT_WRITE) == (0, 1, 2, 3)
    for holder in (kit.TLSContext, ctx):
        assert (holder.CLIENT, holder.SERVER, holder.CIPHER_DEFAULT, holder.CIPHER_ALL) == (0x1, 0x2, 1, 2)
    assert (nettls.VerifyStatus.OK, nettls.VerifyStatus.FAIL) == (0, 1)


@pytest.mark.clause("3.constants")
def test_tcp_constants(tcp_component):
    kit = TCPKit.of(tcp_component)
    for holder in (kit.TCPServerSocket, kit.TCPServerSocket()):
        assert (holder.ANY_ADDRESS, holder.ANY_ADDRESS_v4, holder.ANY_ADDRESS_v6) == ("ANY", "ANY_v4", "ANY_v6")
