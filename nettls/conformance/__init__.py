"""nettls.conformance: the contract (SPEC.md) turned into tests.

Run it against a component (yours or a built-in one)::

    pytest --pyargs nettls.conformance --nettls-component NAME
    pytest --pyargs nettls.conformance --nettls-component all --nettls-clause 6.

or from Python, for a table of clause outcomes::

    from nettls.conformance import run, format_table
    print(format_table(run(["stdlib", "pyopenssl"])))

The makers the suite is built on are public, for a component's own tests:
``make_pki()`` (certificates), ``tcp_pair()`` (a connected loopback TCP
pair), ``handshake()``, ``Harness`` (TLS pairs in either mode, cleaned up
for you), ``Driver`` and ``SendLedger`` (non-blocking I/O with the SPEC 7
checks after every call). ``nettls.conformance.checks`` has the core
checks as functions of a ``Harness`` (``check_core(TLSKit(...))`` for classes
that are not registered). Everything reaches components through the
registry only.

This package is imported by pytest in every run (its plugin is a pytest11
entry point), so the names below load lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "run",
    "format_table",
    "CLAUSES",
    "make_pki",
    "PKI",
    "Identity",
    "Credential",
    "same_certificate",
    "pem_to_der",
    "TLSKit",
    "TCPKit",
    "tcp_pair",
    "bind_server",
    "set_timeout",
    "handshake",
    "recv_exactly",
    "read_to_end",
    "flush_socket",
    "Background",
    "SendLedger",
    "Driver",
    "Endpoint",
    "TLSPair",
    "Harness",
    "MODES",
    "BLOCKING",
    "NONBLOCKING",
    "DEFAULT_TIMEOUT",
]

_HOMES = {
    "run": "runner",
    "format_table": "runner",
    "CLAUSES": "clauses",
    "make_pki": "pki",
    "PKI": "pki",
    "Identity": "pki",
    "Credential": "pki",
    "same_certificate": "pki",
    "pem_to_der": "pki",
}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'nettls.conformance' has no attribute {name!r}")
    module = importlib.import_module(f".{_HOMES.get(name, 'makers')}", __name__)
    value = getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
