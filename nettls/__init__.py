"""nettls: the Dana standard library's ``net`` TLS API as Python components.

The public facade. Interfaces, data types, constants and errors come from
``nettls.interfaces``; implementations are found through the registry::

    import nettls
    TLS = nettls.resolve("net.TLS")                  # the linked component's class
    TLS = nettls.resolve("net.TLS", component="pyopenssl")
"""

import logging

from ._version import __version__
from .interfaces import (
    CertificateError,
    EventData,
    MonitorEvent,
    NetworkEndpoint,
    RegistryError,
    TLSConnectionError,
    TLSError,
    TLSHandshakeError,
    TLSTimeoutError,
    TLSClosedError,
    TLSNotHandshakenError,
    TLSModeError,
    VerifyStatus,
)
from .interfaces.component import Component
from .registry import Registry, link, load, registry, resolve
from .capabilities import TLSClasses, resolve_tls
from .client import ClientSession, connect_tls

# Silent unless the application configures logging (handshakes at DEBUG,
# substitutions and refused inputs at WARNING, on "nettls" and its children).
logging.getLogger("nettls").addHandler(logging.NullHandler())

__all__ = [
    "__version__",
    "resolve",
    "resolve_tls",
    "TLSClasses",
    "connect_tls",
    "ClientSession",
    "link",
    "load",
    "registry",
    "Registry",
    "Component",
    "NetworkEndpoint",
    "MonitorEvent",
    "VerifyStatus",
    "EventData",
    "TLSError",
    "TLSHandshakeError",
    "TLSConnectionError",
    "TLSTimeoutError",
    "TLSClosedError",
    "TLSNotHandshakenError",
    "TLSModeError",
    "CertificateError",
    "RegistryError",
]
