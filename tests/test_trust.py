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
        (folder / f"0000000{i}.0").write_text(pem)  # OpenSSL reads hash-named files only
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", str(folder))
    found, source = system_trust()
    assert sorted(found) == sorted(roots)
    assert source == f"SSL_CERT_DIR={folder}"


# A set but unusable SSL_CERT_FILE or SSL_CERT_DIR, and both set at once:
# tests/test_trust_env.py.


def test_the_machine_has_roots(monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    found, source = system_trust()
    assert found and source
    assert all(pem.startswith("-----BEGIN CERTIFICATE-----") for pem in found)
