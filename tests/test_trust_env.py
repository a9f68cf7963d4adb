"""SSL_CERT_FILE and SSL_CERT_DIR as OpenSSL reads them, and no silent
fallback (SPEC 14; issue 19 finding 5).

A variable that is set but unusable is a ``CertificateError`` from
``loadSystemTrust()`` naming the variable and the path, and the store is
left as it was; never certifi's roots instead. ``SSL_CERT_DIR`` is read as
OpenSSL's hashed-directory lookup reads it (``<8 hex digits>.<n>`` files,
symlinks followed), and with both set both are read. Every component whose
store provides ``ISystemTrust`` is tried, with real files.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any

import pytest

import nettls
from nettls.components._common import trust
from nettls.conformance import make_pki
from nettls.interfaces import CertificateError, ISystemTrust

from _edge import COMPONENTS

PKI = make_pki()
ROOTS = [PKI.ec.root.cert_pem, PKI.rsa.root.cert_pem, PKI.untrusted.root.cert_pem]


def _store(component: str) -> Any:
    store = nettls.resolve("net.TLSCertStore", component=component)()
    if not ISystemTrust.providedBy(store):
        pytest.skip(f"the {component} store does not provide ISystemTrust")
    return store


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return monkeypatch


def _refused(store: Any, variable: str, path: Path | str, *words: str) -> None:
    before = store.certificates
    with pytest.raises(CertificateError) as info:
        store.loadSystemTrust()
    message = str(info.value)
    assert variable in message and str(path) in message, message
    assert all(w in message for w in words), message
    assert store.certificates == before and store.systemTrustSource is None, "a refused load changes nothing"


# -- a set variable that cannot be used -----------------------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("case", ["missing", "directory", "no-certificate", "key-only", "malformed", "empty-value"])
def test_unusable_cert_file_is_an_error(component: str, case: str, env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    store = _store(component)
    path: Path | str = tmp_path / "roots.pem"
    if case == "directory":
        path = tmp_path
    elif case == "no-certificate":
        Path(path).write_text("no certificates here\n")
    elif case == "key-only":
        Path(path).write_text(PKI.ec.key_pem())
    elif case == "malformed":
        Path(path).write_text(ROOTS[0] + ROOTS[1].replace("-----END", "x-----END"))
    elif case == "empty-value":
        path = ""
    env.setenv("SSL_CERT_FILE", str(path))
    _refused(store, "SSL_CERT_FILE", path)


@pytest.mark.parametrize("component", COMPONENTS)
def test_unreadable_cert_file_is_an_error(component: str, env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads a file of mode 000")
    store = _store(component)
    path = tmp_path / "roots.pem"
    path.write_text(ROOTS[0])
    path.chmod(0)
    env.setenv("SSL_CERT_FILE", str(path))
    _refused(store, "SSL_CERT_FILE", path)


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("case", ["missing", "a-file", "one-of-two-missing"])
def test_unusable_cert_dir_is_an_error(component: str, case: str, env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    store = _store(component)
    good = tmp_path / "good"
    good.mkdir()
    (good / "0a1b2c3d.0").write_text(ROOTS[0])
    bad = tmp_path / "missing"
    if case == "a-file":
        bad = tmp_path / "a-file.pem"
        bad.write_text(ROOTS[1])
    value = f"{good}{os.pathsep}{bad}" if case == "one-of-two-missing" else str(bad)
    env.setenv("SSL_CERT_DIR", value)
    _refused(store, "SSL_CERT_DIR", bad)


@pytest.mark.parametrize("component", COMPONENTS)
def test_cert_dir_without_hashed_names_is_an_error(component: str, env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A folder of PEM files never rehashed: OpenSSL finds nothing in it, and says nothing; nettls says so."""
    store = _store(component)
    (tmp_path / "root.pem").write_text(ROOTS[0])
    env.setenv("SSL_CERT_DIR", str(tmp_path))
    _refused(store, "SSL_CERT_DIR", tmp_path, "rehash")


@pytest.mark.parametrize("component", COMPONENTS)
def test_an_unusable_variable_is_an_error_even_when_the_other_works(component: str, env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    store = _store(component)
    (tmp_path / "0a1b2c3d.0").write_text(ROOTS[0])
    env.setenv("SSL_CERT_DIR", str(tmp_path))
    env.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    _refused(store, "SSL_CERT_FILE", tmp_path / "missing.pem")


# -- what OpenSSL reads ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
def test_cert_dir_reads_hashed_names_only(component: str, env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    store = _store(component)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "rsa-root.pem").write_text(ROOTS[1])
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "0a1b2c3d.0").write_text(ROOTS[0])
    (certs / "9f8e7d6c.12").symlink_to(elsewhere / "rsa-root.pem")  # followed, as OpenSSL does
    for name in ("untrusted.pem", "0A1B2C3D.0", "0a1b2c3d.r0", "0a1b2c3.0", "0a1b2c3d.0.bak", "0a1b2c3d."):
        (certs / name).write_text(ROOTS[2])
    env.setenv("SSL_CERT_DIR", str(certs))
    assert store.loadSystemTrust() is True
    assert sorted(store.certificates) == sorted(ROOTS[:2])
    assert store.systemTrustSource == f"SSL_CERT_DIR={certs}"


@pytest.mark.parametrize("component", COMPONENTS)
def test_both_variables_are_read(component: str, env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    store = _store(component)
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(ROOTS[0])
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    (first / "11111111.0").write_text(ROOTS[1])
    (second / "22222222.0").write_text(ROOTS[2])
    env.setenv("SSL_CERT_FILE", str(bundle))
    env.setenv("SSL_CERT_DIR", f"{first}{os.pathsep}{second}")
    assert store.loadSystemTrust() is True
    assert sorted(store.certificates) == sorted(ROOTS)
    assert store.systemTrustSource == f"SSL_CERT_FILE={bundle} and SSL_CERT_DIR={first}{os.pathsep}{second}"


@pytest.mark.parametrize("component", COMPONENTS)
def test_a_changed_file_is_read_again(component: str, env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The system trust is cached per process, and read again when a file it
    came from changes (as update-ca-certificates or openssl rehash change them)."""
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(ROOTS[0])
    env.setenv("SSL_CERT_FILE", str(bundle))
    first = _store(component)
    assert first.loadSystemTrust() is True and first.certificates == (ROOTS[0],)
    replacement = tmp_path / "new.pem"
    replacement.write_text(ROOTS[0] + ROOTS[1])
    os.replace(replacement, bundle)
    second = _store(component)
    assert second.loadSystemTrust() is True and second.certificates == tuple(ROOTS[:2])
    certs = tmp_path / "certs"
    certs.mkdir()
    (certs / "0a1b2c3d.0").write_text(ROOTS[2])
    env.setenv("SSL_CERT_DIR", str(certs))
    third = _store(component)
    assert third.loadSystemTrust() is True and sorted(third.certificates) == sorted(ROOTS)
    (certs / "0a1b2c3d.0").unlink()
    (certs / "0a1b2c3d.0").write_text(ROOTS[1])  # the same name, other content
    fourth = _store(component)
    assert fourth.loadSystemTrust() is True and sorted(fourth.certificates) == sorted(ROOTS[:2])


# -- with neither set -----------------------------------------------------------------------------------------------


def test_certifi_only_where_the_system_has_nothing(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither variable set and no system bundle: certifi's roots, said so."""
    import certifi

    missing = str(tmp_path / "missing")
    env.setattr(ssl, "get_default_verify_paths", lambda: ssl.DefaultVerifyPaths(missing, missing, "SSL_CERT_FILE", missing, "SSL_CERT_DIR", missing))
    env.setattr(trust, "_from_ssl", lambda: ())
    found, source = trust.system_trust()
    assert source is not None and source.startswith("certifi") and certifi.where() in source
    assert len(found) > 50
