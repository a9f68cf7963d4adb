"""nettls-mbedtls: the ``mbedtls`` component for nettls.

``net.TLS``, ``net.TLSContext`` and ``net.TLSCertStore`` on mbed TLS 2.28,
through the ``python-mbedtls`` package (``TLSWrappedBuffer`` over memory
buffers; TLS 1.2 only). The component is found through the
``nettls.components`` entry point ``mbedtls``; nothing in nettls imports
this package. See ``_engine`` for the theory of operation, ``_component``
for the extensions it provides, and ``DEVIATIONS`` for what mbed TLS
cannot do as the contract asks.
"""

from __future__ import annotations

try:
    import mbedtls.tls as _mbedtls_tls  # noqa: F401  (the library this component is about)
except ImportError as exc:  # the registry lists the component as unavailable with this reason
    raise ImportError(f"the mbedtls component needs the python-mbedtls package (pip install python-mbedtls): {exc}") from exc

from ._component import COMPONENT, DEVIATIONS, TLS, MbedTLSEngine, TLSCertStore, TLSContext, native_context
from ._version import __version__

__all__ = [
    "COMPONENT",
    "DEVIATIONS",
    "TLS",
    "TLSContext",
    "TLSCertStore",
    "MbedTLSEngine",
    "native_context",
    "__version__",
]
