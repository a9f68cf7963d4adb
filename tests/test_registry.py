"""The registry: names, links, entry-point discovery, conformance checks, wiring.

Third-party components here are real distributions: a package and its
``.dist-info`` (METADATA and entry_points.txt) written to a directory that
is put on ``sys.path``, which is all an installed distribution is to
``importlib.metadata``.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from zope.interface.verify import verifyClass

import nettls
from nettls import Component, Registry, RegistryError
from nettls.interfaces import ITLS, SPEC_INTERFACES, ITCPSocket


def make_distribution(root: Path, dist: str, module: str, source: str, entry_points: dict[str, str]) -> None:
    """Write an installed distribution ``dist`` with one module and entry points."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = ["[nettls.components]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


GOOD_PLUGIN = """
    import nettls
    from nettls import Component

    _TLS = nettls.resolve("net.TLS", component="stdlib")

    class PluginTLS(_TLS):
        component = "plugin"

    COMPONENT = Component(name="plugin", provides={"net.TLS": PluginTLS}, description="a third-party TLS")
"""

BAD_PLUGIN = """
    from zope.interface import implementer
    from nettls import Component
    from nettls.interfaces import ITLS

    @implementer(ITLS)
    class HalfTLS:
        def send(self, data): return 0
        def recv(self, n): return b""

    COMPONENT = Component(name="half", provides={"net.TLS": HalfTLS})
"""

BROKEN_IMPORT = """
    import nettls_missing_library_xyz  # the library this component wraps is not installed
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("NETTLS_LINKS", raising=False)
    return tmp_path


def test_builtin_components_resolve_by_name_and_component() -> None:
    reg = Registry()
    assert {s.name for s in reg.components() if s.available} >= {"tcp", "stdlib"}
    tls = reg.resolve("net.TLS")
    assert ITLS.implementedBy(tls)
    assert reg.resolve("TLS") is tls, "short Dana names resolve too"
    assert reg.resolve("net.TLS", component="stdlib") is tls
    assert ITCPSocket.implementedBy(reg.resolve("net.TCPSocket"))
    assert reg.linked("net.TLS") == "stdlib"
    assert reg.linked("net.TCPMonitor") == "tcp"


def test_every_registered_provider_conforms_to_its_interface() -> None:
    reg = Registry()
    checked = 0
    for status in reg.components():
        if not status.available:
            continue
        assert status.component is not None
        for name, cls in status.component.provides.items():
            assert verifyClass(SPEC_INTERFACES[name], cls)
            checked += 1
    assert checked >= 6


def test_stream_is_abstract_and_names_its_extensions() -> None:
    with pytest.raises(RegistryError, match=r"net\.Stream is abstract.*net\.TCPSocket, net\.TLS"):
        Registry().resolve("net.Stream")


def test_unknown_interface_and_component() -> None:
    reg = Registry()
    with pytest.raises(RegistryError, match="unknown interface 'net.Nope'"):
        reg.resolve("net.Nope")
    with pytest.raises(RegistryError, match="unknown component 'nope'"):
        reg.resolve("net.TLS", component="nope")
    with pytest.raises(RegistryError, match="'tcp' does not provide net.TLS"):
        reg.resolve("net.TLS", component="tcp")
    assert isinstance(RegistryError("x"), LookupError)


def test_third_party_component_is_discovered_through_its_entry_point(site: Path) -> None:
    make_distribution(site, "nettls_plugin_good", "good_plugin", GOOD_PLUGIN, {"plugin": "good_plugin:COMPONENT"})
    reg = Registry()
    cls = reg.resolve("net.TLS", component="plugin")
    assert cls.__name__ == "PluginTLS"
    assert "plugin" in reg.providers("net.TLS")
    status = {s.name: s for s in reg.components()}["plugin"]
    assert status.available and "good_plugin:COMPONENT" in status.origin
    assert reg.resolve("net.TLS") is not cls, "a discovered component is not linked by itself"
    reg.link("net.TLS", "plugin")
    assert reg.resolve("net.TLS") is cls


def test_non_conforming_component_is_refused_naming_the_method(site: Path) -> None:
    make_distribution(site, "nettls_plugin_half", "half_plugin", BAD_PLUGIN, {"half": "half_plugin:COMPONENT"})
    reg = Registry()
    status = {s.name: s for s in reg.components()}["half"]
    assert not status.available
    assert "HalfTLS does not conform to net.TLS" in status.reason
    assert "connect" in status.reason and "getPeerCertChain" in status.reason
    with pytest.raises(RegistryError, match="unavailable.*HalfTLS"):
        reg.resolve("net.TLS", component="half")
    assert ITLS.implementedBy(reg.resolve("net.TLS")), "the others keep working"


def test_register_at_run_time_refuses_a_wrong_signature() -> None:
    from zope.interface import implementer

    base = nettls.resolve("net.TLSCertStore")

    @implementer(SPEC_INTERFACES["net.TLSCertStore"])
    class OddStore(base):  # type: ignore[misc, valid-type]
        def addCertificate(self) -> bool:  # type: ignore[override]
            return False

    reg = Registry()
    with pytest.raises(RegistryError, match=r"OddStore does not conform to net\.TLSCertStore.*addCertificate"):
        reg.register(Component(name="odd", provides={"net.TLSCertStore": OddStore}))
    with pytest.raises(RegistryError, match="unknown interface"):
        reg.register(Component(name="odd", provides={"net.Bogus": base}))


def test_component_whose_import_fails_is_unavailable_with_reason(site: Path) -> None:
    make_distribution(site, "nettls_plugin_broken", "broken_plugin", BROKEN_IMPORT, {"broken": "broken_plugin:COMPONENT"})
    reg = Registry()
    status = {s.name: s for s in reg.components()}["broken"]
    assert not status.available
    assert "ModuleNotFoundError" in status.reason and "nettls_missing_library_xyz" in status.reason
    with pytest.raises(RegistryError, match="'broken' is unavailable.*nettls_missing_library_xyz"):
        reg.resolve("net.TLS", component="broken")
    assert reg.resolve("net.TLS", component="stdlib")


def test_manifest_links_with_full_and_short_names() -> None:
    manifest = json.dumps({"defaultLinks": [{"interface": "TLS", "component": "stdlib"}, {"interface": "net.TCPSocket", "component": "tcp"}]})
    reg = Registry(manifest=manifest, environ={})
    assert reg.linked("net.TLS") == "stdlib"
    assert reg.linked("net.TCPSocket") == "tcp"
    assert reg.linked("net.TLSContext") is None
    with pytest.raises(RegistryError, match="net.TLSContext is not linked.*stdlib"):
        reg.resolve("net.TLSContext")


def test_bad_manifest_is_a_clear_error() -> None:
    with pytest.raises(RegistryError, match="not a manifest"):
        Registry(manifest="[1, 2", environ={}).resolve("net.TLS")


def test_environment_overrides_the_manifest() -> None:
    available = {s.name for s in Registry().components() if s.available}
    other = "pyopenssl" if "pyopenssl" in available else "stdlib"
    reg = Registry(environ={"NETTLS_LINKS": f"net.TLS={other}, TLSContext={other}"})
    assert reg.linked("net.TLS") == other
    assert reg.linked("net.TLSContext") == other
    assert reg.linked("net.TLSCertStore") == "stdlib"


def test_environment_naming_an_unknown_component_names_the_variable() -> None:
    reg = Registry(environ={"NETTLS_LINKS": "net.TLS=nosuch"})
    with pytest.raises(RegistryError, match="NETTLS_LINKS: unknown component 'nosuch'"):
        reg.resolve("net.TLS")
    with pytest.raises(RegistryError, match="NETTLS_LINKS: 'net.TLS' is not INTERFACE=COMPONENT"):
        Registry(environ={"NETTLS_LINKS": "net.TLS"}).resolve("net.TLS")


def test_link_at_run_time_affects_new_resolutions_only(site: Path) -> None:
    make_distribution(site, "nettls_plugin_good", "good_plugin", GOOD_PLUGIN, {"plugin": "good_plugin:COMPONENT"})
    reg = Registry()
    before = reg.resolve("net.TLS")
    ctx = reg.resolve("net.TLSContext")(0x1)
    made = before(ctx)
    reg.link("net.TLS", "plugin")
    assert reg.resolve("net.TLS").__name__ == "PluginTLS"
    assert type(made) is before
    with pytest.raises(RegistryError, match="unknown component"):
        reg.link("net.TLS", "nosuch")
    with pytest.raises(RegistryError, match="does not provide"):
        reg.link("net.TLS", "tcp")


def test_load_wires_an_applications_requirements() -> None:
    class EchoApp:
        requires = ("net.TLS", "net.TLSContext", "net.TCPSocket")

        def __init__(self, greeting: str) -> None:
            # requirements are wired before __init__ runs
            self.ctx = self.TLSContext(self.TLSContext.CLIENT)  # type: ignore[attr-defined]
            self.greeting = greeting

    app = nettls.load(EchoApp, "hi")
    assert app.greeting == "hi"
    assert app.TLS is nettls.resolve("net.TLS")  # type: ignore[attr-defined]
    assert ITCPSocket.implementedBy(app.TCPSocket)  # type: ignore[attr-defined]

    class Mapped:
        requires = {"tls_class": "TLS"}

    assert nettls.load(Mapped).tls_class is nettls.resolve("net.TLS")  # type: ignore[attr-defined]

    class Needy:
        requires = ("net.Stream",)

    with pytest.raises(RegistryError, match="Needy requires net.Stream"):
        nettls.load(Needy)

    class Nothing:
        pass

    with pytest.raises(RegistryError, match="declares no 'requires'"):
        nettls.load(Nothing)


def test_registry_is_built_on_zope_components() -> None:
    from zope.interface.registry import Components

    reg = Registry()
    reg.resolve("net.TLS")
    assert isinstance(reg._zope, Components)
    assert reg._zope.getUtility(ITLS, "stdlib") is reg.resolve("net.TLS", component="stdlib")
