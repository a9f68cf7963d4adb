"""Bad input from callers, property-based (hypothesis), on every TLS component.

Every method that takes PEM (``addCertificate``, ``loadLocation``,
``setCertificate``, ``setCertificateChain``, ``verifyCertificate``) is fed
arbitrary bytes and text, PEM armour around random or mutated DER, valid
PEM cut short or spliced with junk, and values of the wrong type. Whatever
comes in, the answer is the documented one (SPEC 8, 9): ``False`` from a
store, ``CertificateError`` with a reason from a context, ``FAIL`` with a
reason from verification; never another exception (a backend library's
least of all), and never ``OK`` for a certificate that does not verify.

Hypothesis runs derandomized with no example database (``FUZZ``), so a
run is reproducible and CI sees the same examples as a laptop. For a deeper
campaign, ``NETTLS_FUZZ_EXAMPLES=5000`` raises the number of examples and
``NETTLS_FUZZ_RANDOM=1`` draws fresh ones. Inputs that once exposed a bug
are kept as explicit regression cases below.
"""

from __future__ import annotations

import base64
import datetime
import functools
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nettls.conformance import TCPKit, TLSKit, bind_server, make_pki
from nettls.interfaces import CertificateError, TLSError, VerifyStatus

from _edge import COMPONENTS, WAIT

pytestmark = pytest.mark.timeout(120)

#: Reproducible and moderate: the same examples on every run, no database.
FUZZ = settings(
    max_examples=int(os.environ.get("NETTLS_FUZZ_EXAMPLES", "80")),
    deadline=None,
    derandomize=not os.environ.get("NETTLS_FUZZ_RANDOM"),
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

PKI = make_pki()


def _kit(component: str) -> TLSKit:
    return TLSKit.of(component)


def _armour(label: str, body: bytes) -> str:
    return f"-----BEGIN {label}-----\n{base64.encodebytes(body).decode('ascii')}-----END {label}-----\n"


def _der(key: Any, form: serialization.PrivateFormat) -> bytes:
    return bytes(key.private_bytes(serialization.Encoding.DER, form, serialization.NoEncryption()))


def _escaped(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__} escaped: {exc}"


# -- strategies ---------------------------------------------------------------------------------------------

_CERT_DERS = (PKI.ec.leaf.der, PKI.rsa.leaf.der, PKI.ec.intermediates[0].der, PKI.ec.root.der)
_KEY_DERS = (
    _der(PKI.ec.leaf.key, serialization.PrivateFormat.PKCS8),
    _der(PKI.rsa.leaf.key, serialization.PrivateFormat.PKCS8),
    _der(PKI.ec.leaf.key, serialization.PrivateFormat.TraditionalOpenSSL),
    _der(PKI.rsa.leaf.key, serialization.PrivateFormat.TraditionalOpenSSL),
)
_LABELS = ("CERTIFICATE", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "X509 CRL")


@st.composite
def _mutated(draw: Any, originals: tuple[bytes, ...]) -> bytes:
    """One of ``originals`` with one to three byte-level mutations; never the original."""
    original = draw(st.sampled_from(originals))
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        # Half the time near the start, where the version, serial number and names are.
        pos = draw(st.one_of(st.integers(0, min(len(data), 96) - 1), st.integers(0, len(data) - 1)))
        kind = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        if kind == "flip":
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set":
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 4))]
        else:
            del data[max(pos, 1) :]
        if not data:
            data = bytearray(b"\x30")
    if bytes(data) == original:
        data.append(0)
    return bytes(data)


def _as_some_type(text: str | bytes) -> Any:
    return st.sampled_from(["str", "bytes", "bytearray", "memoryview"]).map(lambda kind: _convert(text, kind))


def _convert(text: str | bytes, kind: str) -> Any:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    if kind == "str":
        return raw.decode("latin-1") if isinstance(text, bytes) else text
    return {"bytes": bytes, "bytearray": bytearray, "memoryview": memoryview}[kind](raw)


mutated_certificates = _mutated(_CERT_DERS).map(lambda der: _armour("CERTIFICATE", der))
mutated_keys = st.builds(_armour, st.sampled_from(["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"]), _mutated(_KEY_DERS))
random_pem = st.builds(_armour, st.sampled_from(_LABELS), st.binary(max_size=600))
_VALID_PEMS = (PKI.ec.cert_pem, PKI.rsa.cert_pem, PKI.ec.key_pem(), PKI.rsa.key_pem("traditional"))
cut_pem = st.builds(lambda pem, frac: pem[: int(len(pem) * frac)], st.sampled_from(_VALID_PEMS), st.floats(0, 0.999))
spliced_pem = st.builds(
    lambda pem, frac, junk: pem[: int(len(pem) * frac)] + junk + pem[int(len(pem) * frac) :],
    st.sampled_from(_VALID_PEMS),
    st.floats(0, 1),
    st.text(min_size=1, max_size=20),
)
wrong_types = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(st.integers(0, 255), max_size=4),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    st.just(object()),
)
text_or_bytes = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300),
    random_pem,
    mutated_certificates,
    mutated_keys,
    cut_pem,
    spliced_pem,
)
#: Anything a caller might pass where PEM is expected, in any accepted type or none.
junk = st.one_of(text_or_bytes.flatmap(_as_some_type), wrong_types)


# -- stores -----------------------------------------------------------------------------------------------


def _parses(pem: str) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
        cert.subject, cert.issuer  # noqa: B018 - parsed lazily: force it
        return True
    except Exception:
        return False


@pytest.mark.parametrize("component", COMPONENTS)
@FUZZ
@given(data=junk)
def test_add_certificate_is_true_or_false(component: str, data: Any) -> None:
    store = _kit(component).TLSCertStore()
    try:
        result = store.addCertificate(data)
    except Exception as exc:
        pytest.fail(_escaped(exc))
    assert result is True or result is False, f"addCertificate() returned {result!r}"
    if result:
        assert store.certificates and all(isinstance(p, str) for p in store.certificates)
    else:
        assert store.certificates == ()


@pytest.mark.parametrize("component", COMPONENTS)
@FUZZ
@given(files=st.lists(st.tuples(st.text(min_size=1, max_size=12), text_or_bytes), max_size=4), with_root=st.booleans())
def test_load_location_of_files_holding_junk(component: str, files: list[tuple[str, Any]], with_root: bool) -> None:
    """A directory (and each file in it) of junk: False unless some file
    holds a certificate, never an exception; a real root among the junk is
    found."""
    with tempfile.TemporaryDirectory(prefix="nettls-bad-input-") as directory:
        paths = []
        for i, (name, content) in enumerate(files):
            safe = "".join(c for c in name if c.isalnum() or c in "._-") or "file"
            path = os.path.join(directory, f"{i}-{safe}"[:64])
            with open(path, "wb") as f:
                f.write(content.encode("utf-8") if isinstance(content, str) else content)
            paths.append(path)
        if with_root:
            with open(os.path.join(directory, "zz-root.pem"), "w") as f:
                f.write(PKI.ec.root.cert_pem)
        for target in [directory, *paths]:
            store = _kit(component).TLSCertStore()
            try:
                result = store.loadLocation(target)
            except Exception as exc:
                pytest.fail(f"loadLocation({target!r}): " + _escaped(exc))
            assert result is True or result is False
            if result:
                assert store.certificates
            else:
                assert store.certificates == ()
            if target == directory:
                holds_certificate = with_root or any(b"BEGIN CERTIFICATE" in _read(p) for p in paths)
                if with_root:
                    assert result is True and PKI.ec.root.cert_pem in store.certificates
            else:
                holds_certificate = b"BEGIN CERTIFICATE" in _read(target)
            if not holds_certificate:
                assert result is False


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _odd_paths(base: Path) -> dict[str, Any]:
    (base / "empty-dir").mkdir()
    (base / "dir-of-dirs" / "inner").mkdir(parents=True)
    (base / "loop-a").symlink_to(base / "loop-b")
    (base / "loop-b").symlink_to(base / "loop-a")
    (base / "dangling").symlink_to(base / "nowhere")
    fifo_dir = base / "fifo-dir"
    fifo_dir.mkdir()
    os.mkfifo(fifo_dir / "fifo.pem")  # opening it to read would block: it must be skipped
    unix_dir = base / "socket-dir"
    unix_dir.mkdir()
    return {
        "missing": str(base / "missing.pem"),
        "empty-string": "",
        "nul-byte": str(base / "a\0b.pem"),
        "too-long": str(base / ("x" * 5000)),
        "bytes-path-missing": os.fsencode(base / "missing.pem"),
        "pathlib-missing": base / "missing.pem",
        "empty-dir": base / "empty-dir",
        "dir-of-dirs": base / "dir-of-dirs",
        "symlink-loop": base / "loop-a",
        "dangling-symlink": base / "dangling",
        "fifo": fifo_dir / "fifo.pem",
        "dir-with-fifo": fifo_dir,
        "dev-null": os.devnull,
        "proc-file": "/proc/self/status",
        "not-a-path-int": 12345,
        "not-a-path-none": None,
        "not-a-path-list": ["a", "b"],
    }


@pytest.mark.parametrize("component", COMPONENTS)
def test_load_location_of_odd_paths_is_false(component: str, tmp_path: Path) -> None:
    """Missing files, odd names, loops, FIFOs, devices and things that are
    not paths at all: ``False``, at once (a FIFO is never opened)."""
    store = _kit(component).TLSCertStore()
    for name, path in _odd_paths(tmp_path).items():
        done: list[Any] = []

        def load() -> None:
            try:
                done.append(store.loadLocation(path))
            except Exception as exc:
                done.append(exc)

        worker = threading.Thread(target=load, daemon=True)
        worker.start()
        worker.join(WAIT)
        if worker.is_alive():  # unblock a reader stuck on the FIFO, then fail
            with open(tmp_path / "fifo-dir" / "fifo.pem", "wb"):
                pass
            pytest.fail(f"loadLocation({name}) blocked")
        (result,) = done
        assert not isinstance(result, BaseException), f"loadLocation({name}): " + _escaped(result)
        assert result is False, f"loadLocation({name}) returned {result!r}"
    assert store.certificates == ()


# -- contexts ---------------------------------------------------------------------------------------------

_GOOD_CERTS = st.sampled_from([PKI.ec.cert_pem, PKI.rsa.cert_pem, PKI.ec.cert_pem.encode()])
_GOOD_KEYS = st.sampled_from([PKI.ec.key_pem(), PKI.ec.key_pem("traditional"), PKI.rsa.key_pem(), PKI.ec.key_pem().encode()])


@pytest.mark.parametrize("component", COMPONENTS)
@FUZZ
@given(
    cert=st.one_of(junk, mutated_certificates, _GOOD_CERTS),
    key=st.one_of(junk, mutated_keys, _GOOD_KEYS),
)
def test_set_certificate_is_true_or_certificate_error(component: str, cert: Any, key: Any) -> None:
    kit = _kit(component)
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    try:
        result = ctx.setCertificate(cert, key)
    except CertificateError as exc:
        assert len(str(exc)) > 10, f"CertificateError without a clear reason: {exc!r}"
        assert ctx.certificate is None and ctx.privateKey is None, "a refused certificate changed the context"
        return
    except Exception as exc:
        pytest.fail(_escaped(exc))
    assert result is True
    assert ctx.certificate is not None and ctx.privateKey is not None


@pytest.mark.parametrize("component", COMPONENTS)
@FUZZ
@given(chain=st.one_of(junk, st.lists(st.one_of(junk, st.just(PKI.ec.intermediates[0].cert_pem)), max_size=3)))
def test_set_certificate_chain_is_true_or_certificate_error(component: str, chain: Any) -> None:
    kit = _kit(component)
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    try:
        result = ctx.setCertificateChain(chain)
    except CertificateError as exc:
        assert len(str(exc)) > 10
        assert ctx.chain == (), "a refused chain changed the context"
        return
    except Exception as exc:
        pytest.fail(_escaped(exc))
    assert result is True and isinstance(ctx.chain, tuple)


# -- verification -----------------------------------------------------------------------------------------


def _verify(component: str, certificate: Any, chain: Any) -> VerifyStatus:
    kit = _kit(component)
    store = kit.store(PKI.ec.root.cert_pem, PKI.rsa.root.cert_pem)
    session = kit.TLS(kit.client_context())
    try:
        result = session.verifyCertificate(store, certificate, chain)
    except Exception as exc:
        pytest.fail(_escaped(exc))
    assert isinstance(result, VerifyStatus), f"verifyCertificate() returned {result!r}"
    return result


def _assert_fail(result: VerifyStatus) -> None:
    assert result.status == VerifyStatus.FAIL, "verifyCertificate() said OK"
    assert isinstance(result.failedReason, str) and result.failedReason.strip(), "FAIL without a reason"
    assert result.failedCertificate is None or isinstance(result.failedCertificate, str)


@pytest.mark.parametrize("component", COMPONENTS)
@FUZZ
@given(certificate=junk, chain=st.one_of(st.none(), junk, st.lists(junk, max_size=3)))
def test_verify_junk_is_fail_with_a_reason(component: str, certificate: Any, chain: Any) -> None:
    _assert_fail(_verify(component, certificate, chain))


@pytest.mark.parametrize("component", COMPONENTS)
@FUZZ
@given(target=st.sampled_from(["ec-leaf", "rsa-leaf", "ec-intermediate", "rsa-intermediate"]), data=st.data())
def test_verify_is_never_ok_for_a_tampered_certificate(component: str, target: str, data: Any) -> None:
    """A certificate changed in any byte (whether it still parses or not)
    never verifies, be it the leaf or the intermediate under a good leaf."""
    identity = PKI.ec if target.startswith("ec") else PKI.rsa
    original = identity.leaf.der if target.endswith("leaf") else identity.intermediates[0].der
    tampered = _armour("CERTIFICATE", data.draw(_mutated((original,)), label="tampered DER"))
    if target.endswith("leaf"):
        result = _verify(component, tampered, identity.chain_pems)
    else:
        result = _verify(component, identity.cert_pem, [tampered])
    _assert_fail(result)


def test_good_inputs_do_verify() -> None:
    """The control for the tests above: untampered, everything verifies."""
    for component in COMPONENTS:
        for identity in (PKI.ec, PKI.rsa):
            assert _verify(component, identity.cert_pem, identity.chain_pems).status == VerifyStatus.OK


# -- unusual but well-formed keys ---------------------------------------------------------------------------


_NOW = datetime.datetime.now(datetime.timezone.utc)


def _certificate(public_key: Any, signer: Any, issuer: x509.Name | None, algorithm: Any) -> str:
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "localhost")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(_NOW - datetime.timedelta(days=1))
        .not_valid_after(_NOW + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(signer, algorithm)
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


@functools.cache
def _odd_identity(kind: str) -> tuple[str, str]:
    """(certificate PEM, PKCS#8 key PEM) of an unusual key type."""
    keys: dict[str, Any] = {
        "dsa-2048": lambda: dsa.generate_private_key(2048),
        "rsa-1024": lambda: rsa.generate_private_key(65537, 1024),
        "ed25519": ed25519.Ed25519PrivateKey.generate,
        "ed448": ed448.Ed448PrivateKey.generate,
        "secp256k1": lambda: ec.generate_private_key(ec.SECP256K1()),
        "p-521": lambda: ec.generate_private_key(ec.SECP521R1()),
        "brainpool-p256": lambda: ec.generate_private_key(ec.BrainpoolP256R1()),
        "x25519": x25519.X25519PrivateKey.generate,  # a key-agreement key: cannot sign a handshake
        "x448": x448.X448PrivateKey.generate,
    }
    key = keys[kind]()
    if kind in ("x25519", "x448"):  # cannot sign itself: issued by the EC intermediate
        inter = PKI.ec.intermediates[0]
        cert = _certificate(key.public_key(), inter.key, inter.cert.subject, hashes.SHA256())
    else:
        algorithm = None if kind.startswith("ed") else hashes.SHA256()
        cert = _certificate(key.public_key(), key, None, algorithm)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert, pem.decode("ascii")


_ODD_KINDS = ("dsa-2048", "rsa-1024", "ed25519", "ed448", "secp256k1", "p-521", "brainpool-p256", "x25519", "x448")


@pytest.mark.parametrize("kind", _ODD_KINDS)
@pytest.mark.parametrize("component", COMPONENTS)
def test_unusual_keys_are_taken_or_refused_cleanly(component: str, kind: str) -> None:
    """A well-formed certificate and key of a type the library may not
    support: ``setCertificate`` is True or a ``CertificateError``; if True,
    a handshake either works or fails as a ``TLSError``; verification
    answers a ``VerifyStatus``. Nothing else escapes."""
    kit = _kit(component)
    cert, key = _odd_identity(kind)
    ctx = kit.TLSContext(kit.TLSContext.SERVER)
    try:
        accepted = ctx.setCertificate(cert, key)
    except CertificateError as exc:
        assert len(str(exc)) > 10
        accepted = False
    except Exception as exc:
        pytest.fail(_escaped(exc))
    store = kit.TLSCertStore()
    assert store.addCertificate(cert) is True
    result = kit.TLS(kit.client_context()).verifyCertificate(store, cert, None)
    assert isinstance(result, VerifyStatus)
    if accepted:
        _handshake_ends_cleanly(kit, ctx)


def _handshake_ends_cleanly(kit: TLSKit, server_ctx: Any) -> None:
    tcp = TCPKit.of(None)
    listener, port = bind_server()
    client_sock, server_sock = tcp.TCPSocket(), tcp.TCPSocket()
    try:
        client_sock.setTimeout(WAIT)
        client_sock.connect("127.0.0.1", port)
        assert server_sock.accept(listener) is True
        server_sock.setTimeout(WAIT)
        outcome: list[Any] = []

        def serve() -> None:
            try:
                outcome.append(kit.TLS(server_ctx).accept(server_sock))
            except Exception as exc:
                outcome.append(exc)
            finally:
                server_sock.disconnect()

        worker = threading.Thread(target=serve, daemon=True)
        worker.start()
        try:
            kit.TLS(kit.client_context()).connect(client_sock)
        except TLSError:
            pass
        except Exception as exc:
            pytest.fail("client: " + _escaped(exc))
        finally:
            client_sock.disconnect()
        worker.join(WAIT)
        (server_result,) = outcome
        assert server_result == 1 or isinstance(server_result, TLSError), "server: " + _escaped(server_result)
    finally:
        listener.unbind()
        client_sock.disconnect()
        server_sock.disconnect()


# -- regressions: inputs that once let a library's exception escape --------------------------------------------


def _tampered(der: bytes, old: bytes, new: bytes) -> str:
    i = der.index(old)
    return _armour("CERTIFICATE", der[:i] + new + der[i + len(old) :])


#: The version field says 4 (value 3), which X.509 does not have.
VERSION_4 = _tampered(PKI.ec.leaf.der, bytes.fromhex("a003020102"), bytes.fromhex("a003020103"))
#: The RSA leaf with its subject's common name typed BOOLEAN: parses, but
#: the name is malformed (cryptography reads names lazily).
MALFORMED_SUBJECT = _tampered(PKI.rsa.leaf.der, b"\x0c\x0flocalhost (RSA)", b"\x01\x0flocalhost (RSA)")
#: The EC leaf with a byte of its issuer's UTF8String made invalid UTF-8.
BAD_UTF8_ISSUER = _tampered(PKI.ec.leaf.der, b"\x0c\x06nettls", b"\x0c\x06\xffettls")

#: Each input once let a library's exception escape the method named after it
#: (fixed in _common/pem.py, pyopenssl.py and the rustls plugin).
REGRESSIONS = (
    "version-4:addCertificate",
    "version-4:setCertificate",
    "version-4:setCertificateChain",
    "version-4:verifyCertificate",
    "version-4:loadLocation",
    "malformed-subject:setCertificate",
    "bad-utf8-issuer:setCertificate",
)


@pytest.mark.parametrize("case", REGRESSIONS)
@pytest.mark.parametrize("component", COMPONENTS)
def test_regression_input_gets_the_documented_answer(component: str, case: str, tmp_path: Path) -> None:
    kit = _kit(component)
    name, method = case.split(":")
    pem = {"version-4": VERSION_4, "malformed-subject": MALFORMED_SUBJECT, "bad-utf8-issuer": BAD_UTF8_ISSUER}[name]
    try:
        if method == "addCertificate":
            assert kit.TLSCertStore().addCertificate(pem) is False
        elif method == "loadLocation":
            (tmp_path / "bad.pem").write_text(pem)
            assert kit.TLSCertStore().loadLocation(str(tmp_path)) is False
        elif method == "setCertificateChain":
            with pytest.raises(CertificateError):
                kit.TLSContext(kit.TLSContext.SERVER).setCertificateChain([pem])
        elif method == "verifyCertificate":
            _assert_fail(_verify(component, pem, PKI.ec.chain_pems))
        else:
            try:
                kit.TLSContext(kit.TLSContext.SERVER).setCertificate(pem, PKI.ec.key_pem())
            except CertificateError:
                pass
    except (AssertionError, pytest.fail.Exception):
        raise
    except Exception as exc:
        pytest.fail(_escaped(exc))


def test_regression_inputs_are_what_they_claim() -> None:
    """The tampered certificates still parse as far as a lazy parser goes,
    and each is broken exactly where its name says."""
    with pytest.raises(x509.InvalidVersion):
        x509.load_pem_x509_certificate(VERSION_4.encode())
    subject_bad = x509.load_pem_x509_certificate(MALFORMED_SUBJECT.encode())
    with pytest.raises(ValueError):
        subject_bad.subject  # noqa: B018
    issuer_bad = x509.load_pem_x509_certificate(BAD_UTF8_ISSUER.encode())
    with pytest.raises(ValueError):
        issuer_bad.issuer  # noqa: B018
    assert not _parses(MALFORMED_SUBJECT) and not _parses(BAD_UTF8_ISSUER) and _parses(PKI.ec.cert_pem)

