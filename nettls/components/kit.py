"""The component author's kit: what a TLS component builds on, in one place.

A component is the part that is truly about its library; everything else
comes from here (the same code the built-in components use)::

    from nettls.components.kit import (
        Component, TLSSession, SSLObjectEngine, EngineError, EngineEOF,
        BaseTLSContext, BaseCertStore, ContextConfig, verify_chain,
    )

- ``TLSSession``: ``net.TLS`` over an *engine* (your library's connection
  over memory buffers, see ``Engine``); override ``_native_context``,
  ``_make_engine`` and ``_verify`` (which gets certificates parsed once,
  by nettls's strict PEM parser: hand your library their DER, never the
  caller's text). An engine may also offer
  ``pending()``, which saves a failing read per ``recv()``.
- ``SSLObjectEngine``: a ready engine for libraries shaped like Python's
  ``ssl`` (``MemoryBIO``, ``wrap_bio``); subclass it and set ``_ssl``.
- ``BaseTLSContext``, ``BaseCertStore``, ``ContextConfig``: contexts and
  stores as configuration any component's session can read;
  ``ExtendedTLSContext``, ``ExtendedCertStore``, ``ExtendedTLSSession`` add
  the extension interfaces (declare the ones your library honours with
  ``zope.interface.implementer_only`` and list the context settings your
  session honours in ``context_extensions``; see the rustls plugin), and
  ``system_trust`` finds the system's roots.
- ``verify_chain``: purpose-free chain verification on cryptography, for
  libraries with no stand-alone verifier (its ``DEVIATIONS`` from the profile
  belong in your component's deviation table).
- PEM helpers, and ``Event`` for ``sendWait``.

``docs/plugins.md`` walks through two plugins built on this kit.
"""

from nettls.interfaces.component import Component

from ._common.config import BaseCertStore, BaseTLSContext, ContextConfig, context_config, store_certificates
from ._common.events import Event
from ._common.extensions import ExtendedCertStore, ExtendedTLSContext, ExtendedTLSSession
from ._common.keylog import KeyLogWriter, keylog_path
from ._common.pem import (
    certificate_pem,
    der_to_pem,
    file_certificates,
    file_private_key,
    key_pem,
    parse_certificate,
    parse_certificates,
    parse_private_key,
    pem_to_der,
    private_file,
)
from ._common.engine import Engine, EngineEOF, EngineError
from ._common.session import State, TLSSession
from ._common.sslobject import SSLObjectEngine, ssl_reason
from ._common.trust import system_trust
from ._x509verify import DEVIATIONS as VERIFY_DEVIATIONS
from ._x509verify import verify_chain

__all__ = [
    "Component",
    "TLSSession",
    "Engine",
    "EngineError",
    "EngineEOF",
    "State",
    "SSLObjectEngine",
    "ssl_reason",
    "BaseTLSContext",
    "BaseCertStore",
    "ContextConfig",
    "ExtendedTLSContext",
    "ExtendedCertStore",
    "ExtendedTLSSession",
    "system_trust",
    "keylog_path",
    "KeyLogWriter",
    "context_config",
    "store_certificates",
    "verify_chain",
    "VERIFY_DEVIATIONS",
    "Event",
    "certificate_pem",
    "der_to_pem",
    "file_certificates",
    "file_private_key",
    "key_pem",
    "parse_certificate",
    "parse_certificates",
    "parse_private_key",
    "pem_to_der",
    "private_file",
]
