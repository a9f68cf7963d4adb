"""Dana's constants, as mixins that implementing classes inherit.

zope.interface forbids concrete attributes on an interface, so each
interface's constants live here once and every implementation of that
interface carries them as class attributes (``TLS.OK``, ``tls.OK``).
"""

from __future__ import annotations

__all__ = ["TLSConstants", "TLSContextConstants", "TCPServerSocketConstants"]


class TLSConstants:
    """Results of TLS session calls and values of ``getStatus()``."""

    FAIL = 0  #: the call failed, or the session is not (or no longer) usable
    OK = 1  #: the call completed
    WAIT_READ = 2  #: call again when the socket is readable
    WAIT_WRITE = 3  #: call again when the socket is writable


class TLSContextConstants:
    """Context modes and cipher sets."""

    CLIENT = 0x1  #: a context for sessions that connect()
    SERVER = 0x2  #: a context for sessions that accept()
    CIPHER_DEFAULT = 1  #: the backend's secure default TLS 1.2 suites
    CIPHER_ALL = 2  #: OpenSSL's ALL:!aNULL:!eNULL:!PSK:!SRP for TLS 1.2


class TCPServerSocketConstants:
    """Wildcard addresses accepted by ``ITCPServerSocket.bind()``."""

    ANY_ADDRESS = "ANY"  #: every address, IPv6 and IPv4 where possible
    ANY_ADDRESS_v4 = "ANY_v4"  #: every IPv4 address (0.0.0.0)
    ANY_ADDRESS_v6 = "ANY_v6"  #: every IPv6 address (::)
