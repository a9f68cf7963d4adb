"""The conformance suite's pytest plugin (entry point ``pytest11``:
``nettls_conformance``).

Loaded into every pytest run where nettls is installed, so it stays inert:
it adds its options and the ``clause`` marker, and nothing else, unless
``--nettls-component`` is given. Then it registers ``nettls.conformance.suite``
(the fixtures, the parametrization over components, the deviation table,
the clause table). Without the option, the suite's own tests (those under
``nettls/conformance/``) are skipped with a message saying how to run them.

Run it::

    pytest --pyargs nettls.conformance --nettls-component stdlib
    pytest --pyargs nettls.conformance --nettls-component all
    pytest --pyargs nettls.conformance --nettls-component mine --nettls-clause 6.verify
"""

from __future__ import annotations

import pytest

from .outcomes import in_suite

SUITE_PLUGIN_NAME = "nettls-conformance-suite"
INERT_REASON = (
    "nettls conformance suite: pass --nettls-component NAME (repeatable, or 'all') to run it, "
    "e.g. pytest --pyargs nettls.conformance --nettls-component stdlib"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nettls", "nettls conformance suite")
    group.addoption(
        "--nettls-component",
        action="append",
        default=[],
        dest="nettls_components",
        metavar="NAME",
        help="run the nettls conformance suite against component NAME (repeatable; "
        "'all' = every available component providing net.TLS or net.TCPSocket)",
    )
    group.addoption(
        "--nettls-tcp",
        default=None,
        dest="nettls_tcp",
        metavar="NAME",
        help="the TCP component beneath the TLS sessions under test (default: the one linked to net.TCPSocket)",
    )
    group.addoption(
        "--nettls-report",
        default=None,
        dest="nettls_report",
        metavar="PATH",
        help="write the clause table as JSON to PATH: {clause: {component: outcome}}",
    )
    group.addoption(
        "--nettls-clause",
        action="append",
        default=[],
        dest="nettls_clauses",
        metavar="PREFIX",
        help="run only the conformance clauses whose id starts with PREFIX (repeatable), e.g. 6.verify",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "clause(id): the nettls contract clause (SPEC section and name, e.g. '6.peer-chain') a test checks"
    )
    if config.getoption("nettls_components", None):
        from . import suite

        suite.activate(config)
        config.pluginmanager.register(suite, SUITE_PLUGIN_NAME)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.pluginmanager.has_plugin(SUITE_PLUGIN_NAME):
        return
    skip = pytest.mark.skip(reason=INERT_REASON)
    for item in items:
        if in_suite(item):
            item.add_marker(skip)
