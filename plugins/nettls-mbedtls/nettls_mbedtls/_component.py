"""The ``mbedtls`` component: ``net.TLS`` on mbed TLS 2.28, through python-mbedtls.

The engine (``_engine``) maps python-mbedtls's ``TLSWrappedBuffer`` onto
nettls's engine protocol; this module builds native contexts from context
configurations and declares what the component provides.

``native_context`` builds a ``ClientContext``/``ServerContext`` per context
configuration (cached: a server makes a session per connection), keys and
certificates from memory. python-mbedtls exposes no chain verifier
(``CRT.verify`` checks one signature), so ``verifyCertificate`` delegates
to nettls's purpose-free verifier on ``cryptography``
(``nettls.components.kit.verify_chain``), as the stdlib component does.

Extensions (``nettls.interfaces.tlsext``), with what python-mbedtls offers:

- ALPN: ``inner_protocols`` (at most 8 names; a server picks in its own
  order, and refuses a client with none in common: see ``DEVIATIONS``);
- verification on connect: ``validate_certificates=True`` (mbed TLS's
  VERIFY_REQUIRED: the chain and the TLS server purpose) over a
  ``trust_store``, and the host name mbed TLS checks where it sends it as
  SNI, then nettls's RFC 6125 rules (``check_host_name``: no common-name
  fallback, IP addresses) between two handshake steps;
- client certificates: the same on a server (VERIFY_REQUIRED for
  CLIENT_CERT_REQUIRE; VERIFY_OPTIONAL for CLIENT_CERT_REQUEST, where the
  engine refuses a certificate that did not verify);
- SNI: ``wrap_buffers(server_hostname)`` on a client; python-mbedtls has no
  SNI callback, so a server reads the name off the ClientHello and makes
  its connection with the native context of the certificate set for it;
- the minimum version: TLS 1.2 is all mbed TLS 2.28 has, so a TLS 1.3
  minimum refuses every handshake (a server with a protocol_version alert);
- the system's trust store and encrypted keys: nettls's own (the store
  loads the roots; the context decrypts the key);
- end of stream: the engine tells close_notify from a truncation.

python-mbedtls offers no session resumption, no key log and no verified
chain: ``IResumption``, ``IKeyLog`` and ``IVerifiedChain`` are not declared.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import mbedtls
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from mbedtls import pk as _pk
from mbedtls import tls as _tls
from mbedtls import version as _mbedtls_version
from mbedtls import x509 as _x509
from mbedtls.exceptions import TLSError as MbedTLSError
from zope.interface import implementer_only

from nettls.components._common.extensions import select_name_certificate
from nettls.components.kit import (
    BaseTLSContext,
    Component,
    ContextConfig,
    ExtendedCertStore,
    ExtendedTLSContext,
    ExtendedTLSSession,
    VERIFY_DEVIATIONS,
    parse_private_key,
    pem_to_der,
    verify_chain,
)
from nettls.interfaces import (
    CertificateError,
    ClientCertificateConstants,
    IClientCertificates,
    IEncryptedKeys,
    IEndOfStream,
    IRecvInto,
    IMinimumVersion,
    INegotiatedProtocol,
    IProtocolNegotiation,
    IServerName,
    IServerNameCertificates,
    ISessionInfo,
    ISystemTrust,
    ITLS,
    ITLSCertStore,
    ITLSContext,
    IVerifyOnConnect,
    IVerifyResult,
    VerifyStatus,
)

from ._engine import Checks, MbedTLSEngine, Native, reason_of

__all__ = ["TLS", "TLSContext", "TLSCertStore", "COMPONENT", "DEVIATIONS", "MbedTLSEngine", "native_context"]

_SUITES = _tls.ciphers_available()
#: python-mbedtls keeps room for as many ALPN names as its NextProtocol enum has (8).
MAX_PROTOCOLS = len(_tls.NextProtocol)


def _default_suite(name: str) -> bool:
    """CIPHER_DEFAULT, after CPython's own default: forward-secret key
    exchange, AES-GCM, ChaCha20-Poly1305 or AES-CBC with SHA-2; no SHA-1,
    no CCM, no PSK, no static RSA or ECDH key exchange."""
    if not name.startswith(("TLS-ECDHE-ECDSA-", "TLS-ECDHE-RSA-", "TLS-DHE-RSA-")):
        return False
    if "-AES-" in name and ("-GCM-" in name or name.endswith(("-CBC-SHA256", "-CBC-SHA384"))):
        return True
    return "-CHACHA20-POLY1305-" in name


#: mbed TLS's default list has static RSA key exchange and SHA-1 suites in it: not a secure default.
CIPHERS_DEFAULT = tuple(s for s in _SUITES if _default_suite(s))
#: OpenSSL's ALL:!aNULL:!eNULL:!PSK:!SRP in mbed TLS's terms: every suite it has but PSK and NULL ones.
CIPHERS_ALL = tuple(s for s in _SUITES if "PSK" not in s and "NULL" not in s)

LIBRARY = f"python-mbedtls {mbedtls.__version__} on {_mbedtls_version.version}"

_NO_TLS13 = "mbed TLS 2.28 has no TLS 1.3"

#: Conformance cases mbed TLS cannot meet: case id -> why (the suite makes each a strict xfail).
DEVIATIONS: dict[str, str] = {
    "6.handshake:openssl_client_to_session_server[default]": f"{_NO_TLS13}: with the defaults "
    "the session negotiates TLS 1.2, where the case expects TLS 1.3",
    "6.peer-chain:session_client_to_openssl_server": f"{_NO_TLS13}: the chain is as sent, "
    "but getProtocolVersion() is TLSv1.2 where the case expects TLSv1.3 against openssl s_server",
    "7.one-way-tls13": f"{_NO_TLS13}, so there is no TLS 1.3 transfer to check (the session negotiates TLS 1.2)",
    "11.session-info:session_info_after_handshake": f"{_NO_TLS13}: getProtocolVersion() "
    "is TLSv1.2 where the case expects TLSv1.3",
    "8.secure-defaults:no_certificate_request_on_the_wire": "python-mbedtls cannot set MBEDTLS_SSL_VERIFY_NONE: "
    "validate_certificates=False is VERIFY_OPTIONAL, True is VERIFY_REQUIRED, so a server always sends a "
    "CertificateRequest, and a client holding a certificate sends it: in TLS 1.2 (all mbed TLS 2.28 has) "
    "in the clear, so the client's identity crosses the wire unasked. Without a client-certificate policy the "
    "server neither verifies it nor hands it to the application (getPeerCertificate() None, getPeerCertChain() "
    "[], as SPEC 6 asks)",
    "11.minimum-version:tls13_minimum_still_connects": f"{_NO_TLS13}: a TLS 1.3 minimum refuses every "
    "handshake (a server answers with a protocol_version alert)",
    "11.alpn:negotiation_outcomes[['spdy/1']-['h2']-None]": "an mbed TLS server refuses a client whose ALPN "
    "protocols share none with its own, with RFC 7301's no_application_protocol alert, where OpenSSL goes on "
    "without ALPN",
    "11.ext-interop:every_pair_uses_every_extension": f"{_NO_TLS13}, and the scenario sets a TLS 1.3 minimum on "
    "both sides",
    # "@session": only where mbedtls provides the session; other components'
    # sessions take mbedtls contexts and pass.
    "11.ext-context-any:session_honours_another_components_context@session": f"{_NO_TLS13}, and the scenario "
    "sets a TLS 1.3 minimum on both sides",
}


def _private_key(pem: str) -> Any:
    """An mbed TLS key from unencrypted PKCS#8 PEM (what a context configuration holds)."""
    key = parse_private_key(pem)
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    if isinstance(key, rsa.RSAPrivateKey):
        return _pk.RSA.from_DER(der)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return _pk.ECC.from_DER(der)
    raise CertificateError(f"mbed TLS 2.28 takes RSA and EC keys only, not {type(key).__name__.removesuffix('PrivateKey')}")


def verified_against(config: ContextConfig) -> tuple[str, ...] | None:
    """The roots the handshake verifies the peer against: a client's
    verify-on-connect store, a server's client-certificate store; None when
    the handshake verifies nothing (SPEC 6: connect() does not)."""
    if config.server:
        return config.clientCertificateTrust if config.clientCertificatePolicy != ClientCertificateConstants.CLIENT_CERT_NONE else None
    return config.verifyTrust


def _trust_store(pems: tuple[str, ...]) -> Any:
    """An mbed TLS trust store of ``pems``, leaving out what mbed TLS cannot read
    (a root whose key type it lacks anchors nothing it can verify)."""
    store = _tls.TrustStore()
    for pem in pems:
        try:
            store.add(_x509.CRT.from_DER(pem_to_der(pem)))
        except MbedTLSError:
            continue
    if not store:
        raise CertificateError(f"mbed TLS can read none of the {len(pems)} trusted certificates")
    return store


@functools.lru_cache(maxsize=64)
def native_context(config: ContextConfig) -> Native:
    """A python-mbedtls ``ServerContext``/``ClientContext`` for ``config``, built once per configuration."""
    chain = None
    if config.certificate and config.privateKey:
        try:
            certs = tuple(_x509.CRT.from_DER(pem_to_der(p)) for p in (config.certificate, *config.chain))
            chain = (certs, _private_key(config.privateKey))
        except MbedTLSError as exc:
            raise CertificateError(f"the certificate and key were refused by mbed TLS: {reason_of(exc)}") from exc
    roots = verified_against(config)
    store = _trust_store(roots) if roots else None
    protocols = tuple(p.encode("ascii") for p in config.applicationProtocols)
    if len(protocols) > MAX_PROTOCOLS:
        raise ValueError(f"python-mbedtls takes at most {MAX_PROTOCOLS} application protocols, not {len(protocols)}")
    conf = _tls.TLSConfiguration(
        # True is VERIFY_REQUIRED: mbed TLS verifies the peer and refuses it with
        # an alert. False is VERIFY_OPTIONAL: connect() does not authenticate
        # (Dana), verifyCertificate() does; a server's CLIENT_CERT_REQUEST lets a
        # client send none, and the engine refuses one that did not verify.
        # (VERIFY_NONE cannot be had: see DEVIATIONS.)
        validate_certificates=roots is not None
        and (not config.server or config.clientCertificatePolicy == ClientCertificateConstants.CLIENT_CERT_REQUIRE),
        certificate_chain=chain,
        ciphers=CIPHERS_ALL if config.cipherSet == BaseTLSContext.CIPHER_ALL else CIPHERS_DEFAULT,
        inner_protocols=protocols or None,
        trust_store=store,
        lowest_supported_version=_tls.TLSVersion.TLSv1_2,  # TLS 1.0/1.1 are broken and deprecated
        highest_supported_version=_tls.TLSVersion.TLSv1_2,  # the newest mbed TLS 2.28 has
    )
    # No compression (mbed TLS 2.28 is built without it) and no renegotiation
    # (python-mbedtls turns it off in every configuration).
    try:
        context = _tls.ServerContext(conf) if config.server else _tls.ClientContext(conf)
    except MbedTLSError as exc:
        raise CertificateError(f"mbed TLS refused the configuration: {reason_of(exc)}") from exc
    return Native(context, (store, protocols))


@implementer_only(
    ITLSContext, IVerifyOnConnect, IProtocolNegotiation, IMinimumVersion, IClientCertificates, IServerNameCertificates, IEncryptedKeys
)
class TLSContext(ExtendedTLSContext):
    """``net.TLSContext`` for the mbedtls component; see ``ITLSContext`` and the
    context extensions it declares. Not ``IKeyLog``: python-mbedtls exports
    no session keys."""

    _native_builder = staticmethod(native_context)


@implementer_only(ITLSCertStore, ISystemTrust)
class TLSCertStore(ExtendedCertStore):
    """``net.TLSCertStore`` for the mbedtls component; see ``ITLSCertStore`` and ``ISystemTrust``."""


#: The context settings an mbedtls session honours (see ``check_honoured``).
_HONOURED = frozenset(
    {
        "applicationProtocols",
        "minimumVersion",
        "clientCertificatePolicy",
        "clientCertificateTrust",
        "nameCertificates",
        "verifyTrust",
        "verifyHostName",
    }
)


def _by_name(config: ContextConfig, default: Native) -> Callable[[str | None], Native]:
    """A server's choice of native context by the name its client asks for."""

    def select(name: str | None) -> Native:
        entry = select_name_certificate(config, name)
        if entry is None:
            return default
        try:
            return native_context(config.for_name(entry))
        except (CertificateError, ValueError):  # mbed TLS cannot use that entry: the default certificate serves
            return default

    return select


@implementer_only(ITLS, ISessionInfo, IServerName, IVerifyResult, INegotiatedProtocol, IEndOfStream, IRecvInto)
class TLS(ExtendedTLSSession):
    """``net.TLS`` on mbed TLS (python-mbedtls's TLSWrappedBuffer); see ``ITLS``
    and the session extensions it declares."""

    component = "mbedtls"
    context_extensions = _HONOURED
    __slots__ = ()

    def _native_context(self, config: ContextConfig) -> Native:
        return native_context(config)

    def _make_engine(self, native: Native, server: bool) -> MbedTLSEngine:
        config = self._config
        tls13_only = config.minimumVersion == "TLSv1.3"
        if server:
            optional = config.clientCertificatePolicy == ClientCertificateConstants.CLIENT_CERT_REQUEST
            checks = Checks(verified_against(config), optional=optional, tls13_only=tls13_only)
            return MbedTLSEngine(native, True, checks=checks, select=_by_name(config, native) if config.nameCertificates else None)
        name, _session = self._engine_options()
        # mbed TLS checks the name it sends as SNI whenever it verifies the
        # server: a verification of the chain alone sends none.
        sni = name.sni if name is not None and (config.verifyTrust is None or config.verifyHostName) else None
        checks = Checks(config.verifyTrust, host=name if config.verifyHostName else None, tls13_only=tls13_only)
        return MbedTLSEngine(native, False, sni, checks)

    def _verify(self, roots: tuple[str, ...], leaf: Any, chain: list[Any]) -> VerifyStatus:
        return verify_chain(roots, leaf, chain)


COMPONENT = Component(
    name="mbedtls",
    provides={"net.TLS": TLS, "net.TLSContext": TLSContext, "net.TLSCertStore": TLSCertStore},
    description="TLS 1.2 on mbed TLS 2.28 (python-mbedtls's TLSWrappedBuffer); verification by cryptography",
    library=LIBRARY,
    # its own, and those of the verifier it delegates to (cryptography vs OpenSSL)
    deviations={**DEVIATIONS, **VERIFY_DEVIATIONS},
)
