"""The nettls contract: interfaces, constants, data types and errors.

This package knows nothing else of nettls: no registry, no component.
"""

from .constants import TCPServerSocketConstants, TLSConstants, TLSContextConstants
from .data import EventData, MonitorEvent, NetworkEndpoint, VerifyStatus
from .errors import (
    CertificateError,
    RegistryError,
    TLSConnectionError,
    TLSError,
    TLSHandshakeError,
    TLSTimeoutError,
    TLSClosedError,
    TLSNotHandshakenError,
    TLSModeError,
)
from .extensions import (
    EXTENSION_INTERFACES,
    TLS_VERSIONS,
    ClientCertificateConstants,
    IClientCertificates,
    IEndOfStream,
    IHalfClose,
    IMinimumVersion,
    INegotiatedProtocol,
    IProtocolNegotiation,
    IRecvInto,
    IResumption,
    ISelectable,
    IServerName,
    IServerNameCertificates,
    IServerSocketOptions,
    ISessionInfo,
    ISystemTrust,
    ITimeout,
    IVerifiedChain,
    IKeyLog,
    IEncryptedKeys,
    IVerifyOnConnect,
    IVerifyResult,
    NameCertificate,
)
from .stream import DANA_NAME, IEvent, IStream
from .tcp import ITCPMonitor, ITCPServerSocket, ITCPSocket
from .tls import ITLS, ITLSCertStore, ITLSContext

#: The spec interfaces, by Dana name.
SPEC_INTERFACES = {
    iface.getTaggedValue(DANA_NAME): iface
    for iface in (IStream, ITCPSocket, ITCPServerSocket, ITCPMonitor, ITLS, ITLSContext, ITLSCertStore)
}

__all__ = [
    "DANA_NAME",
    "SPEC_INTERFACES",
    "IEvent",
    "IStream",
    "ITCPSocket",
    "ITCPServerSocket",
    "ITCPMonitor",
    "ITLS",
    "ITLSContext",
    "ITLSCertStore",
    "ISelectable",
    "IServerSocketOptions",
    "IHalfClose",
    "ITimeout",
    "ISessionInfo",
    "IProtocolNegotiation",
    "IMinimumVersion",
    "IClientCertificates",
    "IServerNameCertificates",
    "IVerifyOnConnect",
    "ISystemTrust",
    "IServerName",
    "INegotiatedProtocol",
    "IVerifyResult",
    "IVerifiedChain",
    "IKeyLog",
    "IEncryptedKeys",
    "IResumption",
    "IEndOfStream",
    "IRecvInto",
    "EXTENSION_INTERFACES",
    "ClientCertificateConstants",
    "NameCertificate",
    "TLS_VERSIONS",
    "TLSConstants",
    "TLSContextConstants",
    "TCPServerSocketConstants",
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
