"""The error taxonomy every component raises (SPEC section 9).

Components never let a backend library's own exception escape a spec
method: they raise one of these, chained from the original (``raise
TLSError(...) from exc``), so callers and the conformance suite only ever
catch nettls types.
"""

from __future__ import annotations

__all__ = [
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


class TLSError(Exception):
    """Base of every TLS error nettls raises."""


class TLSHandshakeError(TLSError):
    """A blocking handshake failed; the message carries the reason."""


class TLSConnectionError(TLSError, ConnectionError):
    """An established session broke mid-stream (reset, truncated write)."""


class TLSTimeoutError(TLSError, TimeoutError):
    """A blocking session call ran past its socket's timeout."""


class TLSClosedError(TLSError):
    """A call on a session that is closed, closing or failed.

    Nothing more can go through it; make a new session.
    """


class TLSNotHandshakenError(TLSError):
    """``send``/``recv`` (or the like) before the handshake completed.

    In non-blocking mode, drive ``connect``/``accept`` until
    ``getStatus()`` is ``OK`` first.
    """


class TLSModeError(TLSError, ValueError):
    """The context's mode does not fit the call.

    ``connect`` needs a client context (``TLSContext(CLIENT)``), ``accept``
    a server context (``TLSContext(SERVER)``). Also a ``ValueError``: the
    context given is the wrong kind of argument for the call.
    """


class CertificateError(TLSError, ValueError):
    """A certificate or key given to a context or store is unusable."""


class RegistryError(LookupError):
    """An interface name or component cannot be resolved or registered."""
