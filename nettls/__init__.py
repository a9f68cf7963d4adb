"""nettls: the Dana standard library's ``net`` TLS API as Python components.

The public facade. Interfaces, data types, constants and errors come from
``nettls.interfaces``; implementations are found through the registry::

    import nettls
    TLS = nettls.resolve("net.TLS")                  # the linked component's class
    TLS = nettls.resolve("net.TLS", component="pyopenssl")
"""

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
    VerifyStatus,
)
from .interfaces.component import Component
from .registry import Registry, link, load, registry, resolve

__all__ = [
    "__version__",
    "resolve",
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
    "CertificateError",
    "RegistryError",
]
