"""SPEC 8: TLSCertStore — addCertificate and loadLocation."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from nettls import VerifyStatus

from ._support import MALFORMED, malformed
from .pki import same_certificate


def _holds(store, *pems):
    held = store.certificates
    assert isinstance(held, tuple) and all(isinstance(p, str) for p in held)
    for pem in pems:
        assert any(same_certificate(h, pem) for h in held), "a certificate given to the store is missing from .certificates"


def _verifies(kit, store, identity):
    session = kit.TLS(kit.TLSContext(kit.TLSContext.CLIENT))
    result = session.verifyCertificate(store, identity.cert_pem, identity.chain_pems)
    assert result.status == VerifyStatus.OK, result.failedReason


@pytest.mark.clause("8.store-add")
@pytest.mark.parametrize("as_type", ["str", "bytes"])
def test_add_certificate(kit, pki, as_type):
    store = kit.TLSCertStore()
    assert store.certificates == ()
    pem = pki.ec.root.cert_pem
    assert store.addCertificate(pem if as_type == "str" else pem.encode()) is True
    _holds(store, pem)
    _verifies(kit, store, pki.ec)


@pytest.mark.clause("8.store-add")
@pytest.mark.parametrize("case", MALFORMED)
def test_add_malformed_is_false(kit, pki, case):
    store = kit.TLSCertStore()
    assert store.addCertificate(malformed(pki, case)) is False
    assert store.certificates == ()


@pytest.mark.clause("8.read-only")
def test_store_certificates_are_read_only(kit, pki):
    store = kit.store(pki.ec.root.cert_pem)
    with pytest.raises(AttributeError):
        store.certificates = ()
    _holds(store, pki.ec.root.cert_pem)


@pytest.mark.clause("8.store-load")
def test_load_bundle_file(kit, pki, tmp_path):
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("".join(c.cert_pem for c in pki.all_roots))
    store = kit.TLSCertStore()
    assert store.loadLocation(str(bundle)) is True
    _holds(store, *(c.cert_pem for c in pki.all_roots))
    _verifies(kit, store, pki.rsa)


@pytest.mark.clause("8.store-load")
def test_load_directory_of_pem_files(kit, pki, tmp_path):
    for i, root in enumerate(pki.all_roots):
        (tmp_path / f"root{i}.pem").write_text(root.cert_pem)
    store = kit.TLSCertStore()
    assert store.loadLocation(str(tmp_path)) is True
    _holds(store, *(c.cert_pem for c in pki.all_roots))
    _verifies(kit, store, pki.ec)


@pytest.mark.clause("8.store-load")
def test_load_hashed_directory(kit, pki, tmp_path):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a hashed directory")
    for i, root in enumerate(pki.all_roots):
        (tmp_path / f"root{i}.pem").write_text(root.cert_pem)
    subprocess.run([openssl, "rehash", str(tmp_path)], check=True, capture_output=True, timeout=10)
    hashed = tmp_path / "hashed"
    hashed.mkdir()
    for entry in os.listdir(tmp_path):
        path = tmp_path / entry
        if path.is_symlink():  # keep only the <hash>.0 links, as a real hashed dir
            os.symlink(os.path.realpath(path), hashed / entry)
    assert any(hashed.iterdir()), "openssl rehash made no links"
    store = kit.TLSCertStore()
    assert store.loadLocation(str(hashed)) is True
    _holds(store, *(c.cert_pem for c in pki.all_roots))
    _verifies(kit, store, pki.rsa)


@pytest.mark.clause("8.store-load")
@pytest.mark.parametrize("case", ["missing", "empty-dir", "no-certificates-dir", "garbage-file", "key-file"])
def test_load_nothing_is_false(kit, pki, tmp_path, case):
    target = tmp_path / "target"
    if case == "empty-dir":
        target.mkdir()
    elif case == "no-certificates-dir":
        target.mkdir()
        (target / "notes.txt").write_text("no certificates here\n")
        (target / "key.pem").write_text(pki.ec.key_pem())
    elif case == "garbage-file":
        target.write_bytes(b"\x00\x01 not a bundle")
    elif case == "key-file":
        target.write_text(pki.ec.key_pem())
    store = kit.TLSCertStore()
    assert store.loadLocation(str(target)) is False
    assert store.certificates == ()
