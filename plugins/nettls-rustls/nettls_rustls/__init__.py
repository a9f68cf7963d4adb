"""nettls-rustls: the ``rustls`` component for nettls.

``net.TLS``, ``net.TLSContext`` and ``net.TLSCertStore`` on rustls, through
the ``rtls`` package (rustls behind an ``ssl``-shaped API). The component
is found through the ``nettls.components`` entry point ``rustls``; nothing
in nettls imports this package. See ``_component`` for the theory of
operation and ``DEVIATIONS`` for what rustls cannot do as the contract asks.
"""

from __future__ import annotations

try:
    import rtls as _rtls  # noqa: F401  (the library this component is about)
except ImportError as exc:  # the registry lists the component as unavailable with this reason
    raise ImportError(f"the rustls component needs the rtls package (pip install rtls): {exc}") from exc

from ._component import COMPONENT, DEVIATIONS, TLS, RustlsEngine, TLSCertStore, TLSContext, native_context
from ._version import __version__

__all__ = [
    "COMPONENT",
    "DEVIATIONS",
    "TLS",
    "TLSContext",
    "TLSCertStore",
    "RustlsEngine",
    "native_context",
    "__version__",
]
