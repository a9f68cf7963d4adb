"""Input sizes have limits, and parsing is linear (SPEC 14; issue 19 finding 13).

The limits are in ``nettls/components/_common/limits.py``: one PEM text, a
chain (count and bytes), a store (count and bytes), one file and all the
files one ``loadLocation`` reads. Past one, the call fails at once with a
reason: ``CertificateError`` from a context, ``False`` and a WARNING on the
``nettls`` logger from a store. Every store and context is a component's,
each component in turn.
"""

from __future__ import annotations

import datetime
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import nettls
from nettls.components._common import limits
from nettls.conformance import make_pki
from nettls.interfaces import CertificateError

from _edge import COMPONENTS

pytestmark = pytest.mark.timeout(120)

PKI = make_pki()
INTERMEDIATE = PKI.ec.intermediates[0].cert_pem
#: A generous bound for parsing a megabyte of hostile PEM (linear parsing takes milliseconds).
LINEAR_BOUND = 2.0


def _context(component: str) -> Any:
    Context = nettls.resolve("net.TLSContext", component=component)
    return Context(Context.SERVER)


def _store(component: str) -> Any:
    return nettls.resolve("net.TLSCertStore", component=component)()


def _padded(pem: str, size: int) -> str:
    """``pem`` followed by whitespace, ``size`` characters in all."""
    return pem + " " * (size - len(pem))


def _warned(caplog: Any, *words: str) -> bool:
    return any(
        r.name.startswith("nettls") and r.levelno == logging.WARNING and all(w in r.getMessage() for w in words)
        for r in caplog.records
    )


_KEY = ec.generate_private_key(ec.SECP256R1())


def _certificates(count: int, extension_bytes: int = 0) -> list[str]:
    """``count`` distinct self-signed certificates, each carrying
    ``extension_bytes`` of an unrecognised extension (to make them big)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    out = []
    for i in range(count):
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, f"limit test {i}")])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(_KEY.public_key())
            .serial_number(i + 1)
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
        )
        if extension_bytes:
            oid = x509.ObjectIdentifier("1.3.6.1.4.1.55555.7")
            builder = builder.add_extension(x509.UnrecognizedExtension(oid, b"\x00" * extension_bytes), False)
        cert = builder.sign(_KEY, hashes.SHA256())
        out.append(cert.public_bytes(serialization.Encoding.PEM).decode("ascii"))
    return out


# -- one PEM text -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
def test_one_pem_text_over_the_limit(component: str, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="nettls")
    big_cert = _padded(PKI.ec.cert_pem, limits.MAX_PEM_BYTES + 1)
    big_key = _padded(PKI.ec.key_pem(), limits.MAX_PEM_BYTES + 1)
    at_limit = _padded(PKI.ec.cert_pem, limits.MAX_PEM_BYTES)
    ctx = _context(component)
    for cert, key in ((big_cert, PKI.ec.key_pem()), (PKI.ec.cert_pem, big_key), (big_cert.encode(), PKI.ec.key_pem())):
        with pytest.raises(CertificateError, match="limit"):
            ctx.setCertificate(cert, key)
    with pytest.raises(CertificateError, match="limit"):
        ctx.setCertificateChain([big_cert])
    assert ctx.setCertificate(at_limit, PKI.ec.key_pem()) is True
    store = _store(component)
    assert store.addCertificate(big_cert) is False and store.certificates == ()
    assert _warned(caplog, "limit"), "addCertificate() says why in the log"
    assert store.addCertificate(at_limit) is True


# -- chains -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("component", COMPONENTS)
def test_chain_count_limit(component: str) -> None:
    ctx = _context(component)
    assert ctx.setCertificateChain([INTERMEDIATE] * limits.MAX_CONTEXT_CHAIN_CERTIFICATES) is True
    for chain in ([INTERMEDIATE] * (limits.MAX_CONTEXT_CHAIN_CERTIFICATES + 1), INTERMEDIATE * (limits.MAX_CONTEXT_CHAIN_CERTIFICATES + 1)):
        with pytest.raises(CertificateError, match="limit"):
            ctx.setCertificateChain(chain)
    assert len(ctx.chain) == limits.MAX_CONTEXT_CHAIN_CERTIFICATES, "a refused chain changes nothing"
    endless = iter(lambda: INTERMEDIATE, None)  # a generator that never ends: refused, not read to its end
    with pytest.raises(CertificateError, match="limit"):
        ctx.setCertificateChain(endless)


@pytest.mark.parametrize("component", COMPONENTS)
def test_chain_bytes_limit(component: str) -> None:
    count = limits.MAX_CONTEXT_CHAIN_CERTIFICATES
    each = limits.MAX_CHAIN_BYTES // count + 1
    ctx = _context(component)
    with pytest.raises(CertificateError, match="limit"):
        ctx.setCertificateChain([_padded(INTERMEDIATE, each)] * count)
    assert ctx.setCertificateChain([_padded(INTERMEDIATE, each - 1)] * count) is True


# -- stores ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def many() -> list[str]:
    return _certificates(limits.MAX_STORE_CERTIFICATES + 1)


@pytest.mark.parametrize("component", COMPONENTS)
def test_store_count_limit(component: str, many: list[str], tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="nettls")
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("".join(many[:-1]))
    store = _store(component)
    assert store.loadLocation(str(bundle)) is True
    assert len(store.certificates) == limits.MAX_STORE_CERTIFICATES
    assert store.addCertificate(many[-1]) is False
    assert _warned(caplog, "limit")
    assert store.addCertificate(many[0]) is True, "a certificate already held is no more"
    bundle.write_text("".join(many))
    again = _store(component)
    assert again.loadLocation(str(bundle)) is False and again.certificates == ()


@pytest.fixture(scope="module")
def big() -> list[str]:
    """Certificates of about 1.2 MiB of PEM each (the files hold four at most)."""
    return _certificates(limits.MAX_STORE_BYTES // (900 << 10) + 2, extension_bytes=900 << 10)


@pytest.mark.parametrize("component", COMPONENTS)
def test_store_bytes_limit(component: str, big: list[str], tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="nettls")
    store = _store(component)
    loaded = 0
    for i, pem in enumerate(big):
        path = tmp_path / f"big{i}.pem"
        path.write_text(pem)
        if loaded + len(pem) > limits.MAX_STORE_BYTES:
            assert store.loadLocation(str(path)) is False
            assert _warned(caplog, "limit")
            break
        assert store.loadLocation(str(path)) is True
        loaded += len(pem)
    else:
        pytest.fail("the certificates never reached the limit")
    assert sum(len(p) for p in store.certificates) == loaded


# -- files ---------------------------------------------------------------------------------------------------


def _sparse(path: Path, size: int) -> None:
    """A file of ``size`` bytes that starts with a good certificate (the rest a hole of NUL bytes)."""
    with open(path, "wb") as f:
        f.write(PKI.ec.root.cert_pem.encode())
        f.truncate(size)


@pytest.mark.parametrize("component", COMPONENTS)
def test_file_size_limit(component: str, tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="nettls")
    path = tmp_path / "huge.pem"
    _sparse(path, limits.MAX_FILE_BYTES + 1)
    store = _store(component)
    assert store.loadLocation(str(path)) is False and store.certificates == ()
    assert _warned(caplog, str(path), "limit")
    _sparse(path, limits.MAX_FILE_BYTES)
    assert store.loadLocation(str(path)) is True


@pytest.mark.parametrize("component", COMPONENTS)
def test_location_total_limit(component: str, tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="nettls")
    count = limits.MAX_STORE_BYTES // limits.MAX_FILE_BYTES + 1
    for i in range(count):
        _sparse(tmp_path / f"part{i}.pem", limits.MAX_FILE_BYTES)
    store = _store(component)
    assert store.loadLocation(str(tmp_path)) is False and store.certificates == ()
    assert _warned(caplog, str(tmp_path), "limit")


@pytest.mark.parametrize("component", COMPONENTS)
def test_directory_entries_limit(component: str, tmp_path: Path, caplog: Any) -> None:
    caplog.set_level(logging.WARNING, logger="nettls")
    (tmp_path / "root.pem").write_text(PKI.ec.root.cert_pem)
    for i in range(limits.MAX_LOCATION_FILES):
        (tmp_path / f"{i:05}.txt").touch()
    store = _store(component)
    assert store.loadLocation(str(tmp_path)) is False
    assert _warned(caplog, str(tmp_path), "limit")


# -- linear parsing -------------------------------------------------------------------------------------------

BEGIN = "-----BEGIN CERTIFICATE-----\n"


def _hostile(kind: str, size: int) -> str:
    """``size`` characters of unterminated PEM."""
    unit = {
        "begin-lines": BEGIN,
        "end-lines": "-----END CERTIFICATE-----\n",
        "begins-on-one-line": "-----BEGIN CERTIFICATE-----",
        "one-begin-long-body": "A" * 63 + "\n",
        "dashes": "-----",
    }[kind]
    text = unit * (size // len(unit))
    if kind == "one-begin-long-body":
        text = BEGIN + text
    return text[:size]


KINDS = ["begin-lines", "end-lines", "begins-on-one-line", "one-begin-long-body", "dashes"]


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize("kind", KINDS)
def test_a_megabyte_of_unterminated_pem_is_linear(component: str, kind: str, tmp_path: Path) -> None:
    text = _hostile(kind, limits.MAX_PEM_BYTES)
    path = tmp_path / "hostile.pem"
    path.write_text(text)
    store = _store(component)
    ctx = _context(component)
    start = time.monotonic()
    assert store.loadLocation(str(path)) is False
    assert store.addCertificate(text) is False
    with pytest.raises(CertificateError):
        ctx.setCertificate(text, PKI.ec.key_pem())
    with pytest.raises(CertificateError):
        ctx.setCertificate(PKI.ec.cert_pem, text.replace("CERTIFICATE", "PRIVATE KEY"))
    elapsed = time.monotonic() - start
    assert elapsed < LINEAR_BOUND, f"{kind}: {elapsed:.2f} s for 1 MiB of unterminated PEM"



@pytest.mark.parametrize("component", COMPONENTS)
def test_a_refused_location_or_certificate_is_logged(component: str, tmp_path, caplog: pytest.LogCaptureFixture) -> None:
    """Dana's False says nothing of why: a typo in a CA path must not pass
    unseen, so the reason goes to the nettls logger at WARNING."""
    import logging

    store = nettls.resolve("net.TLSCertStore", component=component)()
    with caplog.at_level(logging.WARNING, logger="nettls"):
        assert store.loadLocation(str(tmp_path / "cas.pem")) is False
        assert store.addCertificate("not a certificate") is False
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("cas.pem" in m and "no such file" in m for m in messages), messages
    assert any("addCertificate" in m for m in messages), messages
