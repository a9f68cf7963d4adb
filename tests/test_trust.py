"""Where ``ISystemTrust.loadSystemTrust`` finds the system's roots (see
``nettls/components/_common/trust.py``); the conformance suite covers the
store side (clause 11.system-trust) on every component."""

from __future__ import annotations

from pathlib import Path

import pytest

from nettls.components._common.trust import system_trust
from nettls.pki import issue


@pytest.fixture
def roots(tmp_path: Path) -> list[str]:
    return [issue(f"nettls trust test root {i}", ca=True).cert_pem for i in range(2)]


def test_cert_dir_alone_is_the_answer(tmp_path, monkeypatch, roots):
    folder = tmp_path / "certs"
    folder.mkdir()
    for i, pem in enumerate(roots):
        (folder / f"root{i}.pem").write_text(pem)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", str(folder))
    found, source = system_trust()
    assert sorted(found) == sorted(roots)
    assert source == f"SSL_CERT_DIR={folder}"


def test_cert_file_first_then_dir(tmp_path, monkeypatch, roots):
    bundle = tmp_path / "bundle.pem"
    bundle.write_text(roots[0])
    folder = tmp_path / "certs"
    folder.mkdir()
    (folder / "other.pem").write_text(roots[1])
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    monkeypatch.setenv("SSL_CERT_DIR", str(folder))
    assert system_trust() == ((roots[0],), f"SSL_CERT_FILE={bundle}")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    assert system_trust() == ((roots[1],), f"SSL_CERT_DIR={folder}")


def test_certifi_when_the_variables_find_nothing(tmp_path, monkeypatch):
    import certifi

    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "not-a-bundle.txt"))
    (tmp_path / "not-a-bundle.txt").write_text("no certificates here\n")
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "empty"))
    found, source = system_trust()
    assert source is not None and source.startswith("certifi") and certifi.where() in source
    assert len(found) > 50


def test_the_machine_has_roots(monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    found, source = system_trust()
    assert found and source
    assert all(pem.startswith("-----BEGIN CERTIFICATE-----") for pem in found)
