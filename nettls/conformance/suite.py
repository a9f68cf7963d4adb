"""The active half of the conformance plugin, registered by ``plugin.py``
when ``--nettls-component`` is given.

- Selection: which components are under test (``all`` expanded), which TCP
  component runs beneath the TLS sessions.
- Parametrization: a test asking for ``component`` runs once per selected
  TLS component, ``tcp_component`` once per selected TCP component,
  ``selected_component`` once per selected component of either kind,
  ``mode`` once per mode (blocking, nonblocking); ``server_component`` with
  ``client_component`` (and ``session_component`` with
  ``context_component``) run over every ordered pair of available TLS
  components that involves a selected one.
- Each suite test must carry a known ``clause`` marker. A case the
  component's deviation table names becomes a strict xfail with the
  table's reason, never a silent skip.
- ``--nettls-clause PREFIX`` keeps the clauses starting with PREFIX.
- At the end, a table: one row per clause, one column per component
  (``--nettls-report PATH`` also writes it as JSON).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

import pytest

import nettls
from nettls.interfaces import RegistryError

from .clauses import CLAUSES
from .kits import DEFAULT_TIMEOUT
from .outcomes import COLLECTOR_KEY, INFO_KEY, ItemInfo, OutcomeCollector, format_table, in_suite

#: Bound of one conformance test, given to pytest-timeout where installed: a
#: few of the waits a test may make, each bounded by ``DEFAULT_TIMEOUT``.
TEST_TIMEOUT = 3 * DEFAULT_TIMEOUT

#: Parameters whose values are component names (not part of a case name).
COMPONENT_PARAMS = (
    "component",
    "tcp_component",
    "selected_component",
    "server_component",
    "client_component",
    "session_component",
    "context_component",
)


@dataclass(frozen=True)
class Selection:
    """The components under test."""

    components: tuple[str, ...]  #: every selected component, in order
    tls: tuple[str, ...]  #: selected components that provide net.TLS
    tcp: tuple[str, ...]  #: selected components that provide net.TCPSocket
    partners: tuple[str, ...]  #: every available net.TLS component (pair tests)
    tcp_under_tls: str | None  #: the TCP component beneath the sessions (None: linked)
    unavailable: tuple[tuple[str, str], ...]  #: (name, reason) of components found but unusable

    @classmethod
    def from_options(cls, names: list[str], tcp: str | None) -> "Selection":
        registry = nettls.registry
        tls_all = registry.providers("net.TLS")
        tcp_all = registry.providers("net.TCPSocket")
        wanted: list[str] = []
        for name in names:
            for part in name.split(","):
                part = part.strip()
                if part == "all":
                    wanted += sorted(set(tls_all) | set(tcp_all))
                elif part:
                    registry.component(part)  # RegistryError: unknown or unavailable
                    wanted.append(part)
        components = tuple(dict.fromkeys(wanted))
        if not components:
            raise RegistryError("no component selected: --nettls-component names none, or 'all' found none available")
        for name in components:
            if name not in tls_all and name not in tcp_all:
                raise RegistryError(f"component {name!r} provides neither net.TLS nor net.TCPSocket: nothing to test")
        if tcp is not None and tcp not in tcp_all:
            raise RegistryError(f"--nettls-tcp {tcp!r}: not an available component providing net.TCPSocket")
        unavailable = tuple((s.name, s.reason or "") for s in registry.components() if not s.available)
        return cls(
            components=components,
            tls=tuple(n for n in components if n in tls_all),
            tcp=tuple(n for n in components if n in tcp_all),
            partners=tuple(tls_all),
            tcp_under_tls=tcp,
            unavailable=unavailable,
        )

    def pairs(self) -> list[tuple[str, str]]:
        """Ordered pairs of available TLS components with a selected one in them."""
        return [(a, b) for a in self.partners for b in self.partners if a in self.tls or b in self.tls]


_SELECTION = pytest.StashKey[Selection]()


def activate(config: pytest.Config) -> None:
    """Resolve the selection (UsageError for a bad name) and start the table."""
    try:
        selection = Selection.from_options(config.getoption("nettls_components"), config.getoption("nettls_tcp"))
    except RegistryError as exc:
        raise pytest.UsageError(f"nettls conformance: {exc}") from None
    config.stash[_SELECTION] = selection
    config.addinivalue_line("markers", "nettls_not_selected: no selected component provides what the test needs")
    collector = OutcomeCollector(selection.components)
    config.stash[COLLECTOR_KEY] = collector
    config.pluginmanager.register(collector, "nettls-conformance-outcomes")


def selection(config: pytest.Config) -> Selection:
    return config.stash[_SELECTION]


# -- report header ------------------------------------------------------------


def pytest_report_header(config: pytest.Config) -> list[str]:
    sel = selection(config)
    lines = [f"nettls conformance: components {', '.join(sel.components)}"]
    tcp = sel.tcp_under_tls or nettls.registry.linked("net.TCPSocket")
    lines.append(f"nettls conformance: TLS sessions run over TCP component {tcp}")
    for name, reason in sel.unavailable:
        lines.append(f"nettls conformance: component {name} unavailable: {reason}")
    return lines


# -- parametrization ----------------------------------------------------------


def _parametrized_directly(metafunc: pytest.Metafunc, name: str) -> bool:
    for mark in metafunc.definition.iter_markers("parametrize"):
        argnames = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        if isinstance(argnames, str):
            argnames = [a.strip() for a in argnames.split(",")]
        if name in argnames:
            return True
    return False


def _parametrize(metafunc: pytest.Metafunc, argnames: tuple[str, ...], values: list[Any], ids: list[str]) -> None:
    if not values:  # no selected component provides the interface: deselected later
        values, ids = [pytest.param(*(None,) * len(argnames), marks=pytest.mark.nettls_not_selected)], ["none"]
    metafunc.parametrize(argnames if len(argnames) > 1 else argnames[0], values, ids=ids)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    sel = selection(metafunc.config)
    names = metafunc.fixturenames
    for argname, choices in (("component", sel.tls), ("tcp_component", sel.tcp), ("selected_component", sel.components)):
        if argname in names and not _parametrized_directly(metafunc, argname):
            _parametrize(metafunc, (argname,), list(choices), list(choices))
    for first, second, sep in (("server_component", "client_component", ">"), ("session_component", "context_component", "+")):
        if first in names and second in names:
            pairs = sel.pairs()
            _parametrize(metafunc, (first, second), list(pairs), [f"{a}{sep}{b}" for a, b in pairs])
    if "mode" in names and not _parametrized_directly(metafunc, "mode"):
        from .makers import MODES

        metafunc.parametrize("mode", list(MODES))


# -- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="session")
def nettls_selection(request: pytest.FixtureRequest) -> Selection:
    """The components under test."""
    return selection(request.config)


@pytest.fixture(scope="session")
def pki() -> Any:
    """The suite's certificates (``nettls.conformance.pki.PKI``), made once."""
    from .pki import make_pki

    return make_pki()


@pytest.fixture
def tcp_name(nettls_selection: Selection) -> str | None:
    """The TCP component beneath the sessions under test (None: the linked one)."""
    return nettls_selection.tcp_under_tls


@pytest.fixture
def kit(component: str) -> Any:
    """The ``TLSKit`` (TLS, TLSContext, TLSCertStore) of the component under test."""
    from .makers import TLSKit

    return TLSKit.of(component)


@pytest.fixture
def harness(component: str, tcp_name: str | None, pki: Any) -> Iterator[Any]:
    """A ``Harness`` for the component under test; disconnects everything after the test."""
    from .makers import Harness

    with Harness(component, tcp_name, pki=pki) as h:
        yield h


@pytest.fixture
def pair_harness(tcp_name: str | None, pki: Any) -> Iterator[Any]:
    """A ``Harness`` for tests that name their components themselves (pairs)."""
    from .makers import Harness

    with Harness(None, tcp_name, pki=pki) as h:
        yield h


@pytest.fixture
def tcp(tcp_component: str) -> Any:
    """The ``TCPKit`` (TCPSocket, TCPServerSocket, TCPMonitor) of the TCP component under test."""
    from .kits import TCPKit

    return TCPKit.of(tcp_component)


@pytest.fixture
def pair(tcp_harness: Any) -> tuple[Any, Any]:
    """A connected ``(client, server)`` pair of the TCP component under test, blocking."""
    return tuple(tcp_harness.tcp_pair())


@pytest.fixture
def tcp_harness(tcp_component: str, pki: Any) -> Iterator[Any]:
    """A ``Harness`` whose TCP component is the one under test (TLS: the linked one)."""
    from .makers import Harness

    with Harness(None, tcp_component, pki=pki) as h:
        yield h


# -- clauses, deviations, filtering -------------------------------------------


def _case_keys(item: pytest.Item, clause: str) -> tuple[str, ...]:
    name = getattr(item, "originalname", item.name)
    case = name[5:] if name.startswith("test_") else name
    callspec = getattr(item, "callspec", None)
    params = [str(v) for k, v in (callspec.params.items() if callspec else ()) if k not in COMPONENT_PARAMS]
    keys = [f"{clause}:{case}", clause]
    if params:
        keys.insert(0, f"{clause}:{case}[{'-'.join(params)}]")
    return tuple(keys)


def _item_components(item: pytest.Item) -> tuple[str, ...]:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return ()
    found = [callspec.params[k] for k in COMPONENT_PARAMS if isinstance(callspec.params.get(k), str)]
    return tuple(dict.fromkeys(found))


def _item_roles(item: pytest.Item) -> dict[str, tuple[str, ...]]:
    """Each component of ``item`` with the roles it plays there: the names
    of its parameters without ``_component`` (``session``, ``context``,
    ``server``, ``client``; plain ``component`` is the role ``""``)."""
    callspec = getattr(item, "callspec", None)
    roles: dict[str, tuple[str, ...]] = {}
    for param in COMPONENT_PARAMS:
        name = callspec.params.get(param) if callspec is not None else None
        if isinstance(name, str):
            roles[name] = roles.get(name, ()) + (param.removesuffix("component").rstrip("_"),)
    return roles


def _deviation(
    components: tuple[str, ...], keys: tuple[str, ...], roles: dict[str, tuple[str, ...]] | None = None
) -> tuple[str, str, str] | None:
    """The first deviation a component of the item declares for it. A key
    ``KEY@ROLE`` applies only where the component plays that role (a pair
    test where it fails as the session but passes as the context)."""
    for name in components:
        try:
            table = nettls.registry.component(name).deviations
        except RegistryError:
            continue
        for key in keys:
            for role in (roles or {}).get(name, ()):
                if role and f"{key}@{role}" in table:
                    return name, f"{key}@{role}", table[f"{key}@{role}"]
            if key in table:
                return name, key, table[key]
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    sel = selection(config)
    prefixes = tuple(config.getoption("nettls_clauses") or ())
    has_timeout = config.pluginmanager.hasplugin("timeout")
    keep, drop = [], []
    for item in items:
        if not in_suite(item):
            keep.append(item)
            continue
        mark = item.get_closest_marker("clause")
        if mark is None or not mark.args or mark.args[0] not in CLAUSES:
            raise pytest.UsageError(f"{item.nodeid}: a conformance test needs @pytest.mark.clause(ID) with an id from CLAUSES")
        clause = mark.args[0]
        if item.get_closest_marker("nettls_not_selected") or (prefixes and not clause.startswith(prefixes)):
            drop.append(item)
            continue
        involved = _item_components(item)
        keys = _case_keys(item, clause)
        found = _deviation(involved, keys, _item_roles(item))
        selected = tuple(c for c in involved if c in sel.components)
        item.stash[INFO_KEY] = ItemInfo(clause, selected, keys, found[0] if found is not None else None)
        if found is not None:
            name, key, reason = found
            item.add_marker(pytest.mark.xfail(reason=f"deviation of {name} ({key}): {reason}", strict=True))
        if has_timeout and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(TEST_TIMEOUT))
        keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("nettls_report")
    collector = session.config.stash.get(COLLECTOR_KEY, None)
    if path and collector is not None:
        table = collector.table()
        with open(path, "w", encoding="utf-8") as report:
            json.dump(table, report, indent=1)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    collector = config.stash.get(COLLECTOR_KEY, None)
    if collector is None:
        return
    table = collector.table()
    if table:
        terminalreporter.write_sep("=", "nettls conformance: clauses")
        terminalreporter.write_line(format_table(table))
