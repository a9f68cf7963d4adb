"""TLS extension interfaces: what real clients and servers need beyond Dana.

Host names, SNI, ALPN, client certificates, system trust, a minimum
protocol version, session resumption, the chain a handshake verified, and
telling a clean end of stream from a truncated one. None of these is in the Dana API, so none is a
method of a spec interface (SPEC section 1): each is a small capability
interface that a component's classes provide alongside the spec one, and
callers check with ``IFoo.providedBy(obj)`` (or ask the registry for a
component that has it: ``nettls.resolve("net.TLS", provides=[IServerName])``).

Context settings are configuration, readable across components (SPEC
section 8): each context-level interface exposes what was set as read-only
attributes, and a session of any component that provides the matching
session-level interface honours a context of any other component. A
setting applies to sessions made after it, as every context setting does.

Which side uses what:

    context (TLSContext)        session (TLS)              store (TLSCertStore)
    IProtocolNegotiation  --->  INegotiatedProtocol        ISystemTrust
    IMinimumVersion             IServerName
    IClientCertificates   --->  IVerifyResult, IVerifiedChain
    IVerifyOnConnect      --->  IVerifyResult, IVerifiedChain, IServerName
    IServerNameCertificates     IResumption
                                IEndOfStream, IRecvInto
"""

from __future__ import annotations

from dataclasses import dataclass

from zope.interface import Attribute, Interface

__all__ = [
    "ClientCertificateConstants",
    "NameCertificate",
    "TLS_VERSIONS",
    "IProtocolNegotiation",
    "IMinimumVersion",
    "IClientCertificates",
    "IServerNameCertificates",
    "IVerifyOnConnect",
    "IServerName",
    "INegotiatedProtocol",
    "IVerifyResult",
    "IVerifiedChain",
    "IResumption",
    "IEndOfStream",
    "IRecvInto",
]

#: The protocol versions a minimum may name, oldest first, spelt as
#: ``ISessionInfo.getProtocolVersion()`` spells them. Nothing older: TLS 1.0
#: and 1.1 are broken and deprecated (RFC 8996), and SPEC 8 makes 1.2 the floor.
TLS_VERSIONS = ("TLSv1.2", "TLSv1.3")


class ClientCertificateConstants:
    """The client-certificate policies of ``IClientCertificates``, as class
    attributes of every implementing context class (zope.interface forbids
    concrete attributes on an interface)."""

    #: No certificate is requested (the default, SPEC 8's secure default).
    CLIENT_CERT_NONE = 0
    #: A certificate is requested; a client may send none, but one it sends must verify.
    CLIENT_CERT_REQUEST = 1
    #: A certificate that verifies is required: without one the handshake fails.
    CLIENT_CERT_REQUIRE = 2


@dataclass(frozen=True, repr=False)
class NameCertificate:
    """One entry of a server's certificates by name (``IServerNameCertificates``).

    Attributes:
        name: the server name it is presented for: a DNS name in lower-case
            A-labels, or a wildcard ``*.example.com`` standing for one label.
        certificate: the leaf, PEM.
        privateKey: its key, unencrypted PKCS#8 PEM.
        chain: the intermediates sent after the leaf, PEM.

    Its repr names the entry and counts its certificates; it never shows
    the key (SPEC 14: nothing nettls reprs holds key material).
    """

    name: str
    certificate: str
    privateKey: str
    chain: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"NameCertificate(name={self.name!r}, certificate=<PEM>, privateKey=<private key>, chain=<{len(self.chain)} PEM>)"


# --- context level -------------------------------------------------------------------


class IProtocolNegotiation(Interface):
    """ALPN (RFC 7301) on a context: the application protocols a client offers
    or a server accepts. The one chosen is read on the session
    (``INegotiatedProtocol``)."""

    applicationProtocols = Attribute(
        "tuple[str, ...]: the protocols set, in order of preference; () when ALPN is off (the default)."
    )

    def setApplicationProtocols(protocols):
        """Set the application protocols, such as ``["h2", "http/1.1"]``.

        A CLIENT context offers them in this order. A SERVER context selects,
        from what a client offers, the first protocol of *its own* list that
        the client also offered (the server's preference wins). When the two
        have none in common, or the client offers none, the handshake
        completes with no protocol selected (``getApplicationProtocol()`` is
        None): a server that needs one closes such a session itself. An empty
        list turns ALPN off.

        Args:
            protocols: a list or tuple of ``str``, each 1 to 255 bytes of
                printable ASCII.

        Returns:
            True.

        Raises:
            TypeError: ``protocols`` is not a list or tuple of ``str``.
            ValueError: a protocol is empty, too long or not printable ASCII,
                or one is given twice.
        """


class IMinimumVersion(Interface):
    """The oldest protocol version a context negotiates."""

    minimumVersion = Attribute('str: "TLSv1.2" (the default, SPEC 8) or "TLSv1.3".')

    def setMinimumVersion(version):
        """Refuse to negotiate a protocol older than ``version``.

        Args:
            version: ``"TLSv1.2"`` or ``"TLSv1.3"``, spelt as
                ``getProtocolVersion()`` spells them. Nothing older can be
                named: TLS 1.0 and 1.1 stay off.

        A peer that cannot meet the minimum fails the handshake (the server
        sends a protocol_version alert). Applies to both modes.

        Returns:
            True.

        Raises:
            ValueError: any other value.
        """


class IClientCertificates(Interface):
    """Mutual TLS, server side: request or require a client certificate and
    verify it against a store. (A client presents one with the spec's
    ``setCertificate()`` and ``setCertificateChain()`` on its CLIENT context.)

    Implementing classes carry ``CLIENT_CERT_NONE`` (0), ``CLIENT_CERT_REQUEST``
    (1) and ``CLIENT_CERT_REQUIRE`` (2), see ``ClientCertificateConstants``."""

    clientCertificatePolicy = Attribute("int: the policy set; CLIENT_CERT_NONE (the default).")
    clientCertificateTrust = Attribute(
        "tuple[str, ...]: the PEM certificates client certificates are verified against; () with CLIENT_CERT_NONE."
    )

    def setClientCertificatePolicy(policy, store=None):
        """Ask clients of this SERVER context for a certificate.

        - ``CLIENT_CERT_NONE``: no certificate is requested (the default).
        - ``CLIENT_CERT_REQUEST``: one is requested; a client may send none
          (the handshake completes and ``getPeerCertificate()`` is None),
          but a certificate it sends must verify, or the handshake fails.
        - ``CLIENT_CERT_REQUIRE``: the handshake fails unless the client
          sends a certificate that verifies.

        Verification runs during the handshake, in the TLS library:
        OpenSSL's ``X509_verify_cert`` with the TLS client purpose (a
        client certificate that lists extended key usages must list
        clientAuth), against ``store``. A refused client gets an alert.
        Once accepted, the server sees the client's certificate through
        ``getPeerCertificate()`` and ``getPeerCertChain()``, and the outcome
        through ``IVerifyResult``. In TLS 1.3 a client finishes its side of
        the handshake before the server has checked its certificate, so a
        refused client learns of it at its first ``recv()`` (end of stream,
        ``getStatus()`` FAIL, the alert in ``getFailureReason()``).

        Args:
            policy: one of the three constants.
            store: an ``ITLSCertStore`` of any component, holding at least
                one certificate; required unless the policy is
                CLIENT_CERT_NONE (where it is ignored). Its certificates are
                taken as they are now.

        Returns:
            True.

        Raises:
            nettls.TLSModeError: the context is a CLIENT context.
            ValueError: ``policy`` is not one of the constants, or a store is
                missing or empty where one is required.
            TypeError: ``store`` is not an ``ITLSCertStore``.
        """


class IServerNameCertificates(Interface):
    """SNI, server side: a server presents a certificate chosen by the name
    the client sent (RFC 6066 server_name)."""

    nameCertificates = Attribute("tuple[NameCertificate, ...]: the certificates by name, in the order set.")

    def setCertificateForName(name, cert, key, chain=None):
        """Present ``cert`` (and ``chain``) to clients that ask for ``name``.

        A client's name is matched, case-insensitively, first against the
        exact names set, then against the wildcards (``*.example.com``
        matches ``www.example.com``, not ``example.com`` nor
        ``a.b.example.com``). A client that sends no name, or a name that
        matches nothing, gets the context's own certificate
        (``setCertificate``). Setting a name again replaces its entry.

        Args:
            name: a DNS name (IDN U-labels are converted to A-labels) or a
                wildcard ``*.`` followed by at least two labels. Not an IP
                address: SNI carries host names only.
            cert: as ``ITLSContext.setCertificate``.
            key: as ``ITLSContext.setCertificate``.
            chain: as ``ITLSContext.setCertificateChain``; None for none.

        Returns:
            True.

        Raises:
            nettls.TLSModeError: the context is a CLIENT context.
            nettls.CertificateError: as ``setCertificate`` and
                ``setCertificateChain``.
            ValueError: ``name`` is not a DNS name or wildcard.
            TypeError: ``name`` is not a ``str``.
        """


class IVerifyOnConnect(Interface):
    """Safe by default: ``connect()`` verifies the server's chain and host name
    in one step, during the handshake.

    Without this option (the default) ``connect()`` verifies nothing, as in
    Dana (SPEC 6): the caller runs ``verifyCertificate()`` and checks the
    host name."""

    verifyTrust = Attribute(
        "tuple[str, ...] | None: the PEM certificates connect() verifies against; None when the option is off (the default)."
    )
    verifyHostName = Attribute("bool: whether connect() also checks the host name; False while the option is off.")

    def setVerifyOnConnect(store, checkHostName=True):
        """Make ``connect()`` authenticate the server.

        During the handshake the server's chain is verified against
        ``store`` (OpenSSL's ``X509_verify_cert`` with the TLS server
        purpose: a leaf that lists extended key usages must list
        serverAuth; stricter than ``verifyCertificate()``'s purpose-free
        profile), and with ``checkHostName`` the leaf must be valid for the
        session's server name (``IServerName.setServerName``) by RFC 6125
        rules: subject alternative names only, no common-name fallback, a
        wildcard only as a whole left-most label, IP addresses against IP
        entries (see ``nettls.hostname.check_host_name``). A session with no
        server name set fails the handshake, saying so.

        On failure the handshake fails: blocking ``connect()`` raises
        ``nettls.TLSHandshakeError`` and non-blocking returns FAIL, the reason
        (which certificate, why, or the host name) is in the message,
        ``getFailureReason()`` and ``IVerifyResult.getVerifyResult()``; the
        server gets an alert; no application data was sent. On success
        ``getVerifyResult()`` is OK.

        Args:
            store: an ``ITLSCertStore`` of any component holding at least one
                certificate (for the system's roots, see ``ISystemTrust``),
                its certificates taken as they are now; or None to turn the
                option off.
            checkHostName: check the server name too (the default). False
                verifies the chain only: for a peer known by its
                certificate rather than its name.

        Returns:
            True.

        Raises:
            nettls.TLSModeError: the context is a SERVER context (a server
                verifies clients through ``IClientCertificates``).
            ValueError: the store is empty.
            TypeError: ``store`` is not an ``ITLSCertStore`` or None.
        """


# --- session level -------------------------------------------------------------------


class IServerName(Interface):
    """The server's name on a session: SNI on the client, what the client
    asked for on the server."""

    def setServerName(name):
        """Name the server this CLIENT session connects to; call before ``connect()``.

        A DNS name is sent as SNI (RFC 6066) and is the name that
        ``IVerifyOnConnect`` checks. An IP address is never sent (SNI
        carries host names only) but is checked against the certificate's
        IP entries. Without a call, no SNI is sent (Dana's behaviour).

        A name whose last label is a number (``2130706433``, ``127.1``,
        ``0x7f.1``, ``0177.0.0.1``) is neither: resolvers read such forms as
        IPv4 addresses in differing ways, so it is refused rather than
        guessed at (see ``nettls.hostname``).

        Args:
            name: a DNS name (IDN U-labels become A-labels, case is folded,
                one trailing dot is dropped) or an IPv4/IPv6 address
                (brackets and one trailing dot allowed).

        Returns:
            True.

        Raises:
            nettls.TLSModeError: on a session of a SERVER context.
            nettls.TLSError: after ``connect()``.
            ValueError: ``name`` is neither a valid DNS name nor an IP
                address, or resumption data for another name was set
                (``IResumption``).
            TypeError: ``name`` is not a ``str``.
        """

    def getServerName():
        """The server name of this session, or None.

        Client: the name given to ``setServerName()``, normalised as sent
        (lower-case A-labels; an IP address in its compressed form), or None.
        Server: the name the client sent, once the handshake has read it;
        None before, or when the client sent none.
        """


class INegotiatedProtocol(Interface):
    """The application protocol ALPN selected (see ``IProtocolNegotiation``)."""

    def getApplicationProtocol():
        """The protocol selected, such as "h2"; None before the handshake
        completed, when either side did not use ALPN, or when the two had no
        protocol in common. The same on both sides."""


class IVerifyResult(Interface):
    """The outcome of the verification the handshake itself ran."""

    def getVerifyResult():
        """What verifying the peer's certificate during the handshake gave.

        That is ``IVerifyOnConnect`` on a client and the client-certificate
        policy (``IClientCertificates``) on a server. None when no such
        verification ran: the context did not ask for one, the handshake
        did not get that far, or a client sent no certificate to a server
        that only requested one.

        Returns:
            None, ``VerifyStatus(OK)``, or ``VerifyStatus(FAIL,
            failedCertificate, failedReason)``: ``failedReason`` says why
            (OpenSSL's reason, or the host-name mismatch);
            ``failedCertificate`` is the PEM at fault where the library names
            it (the leaf for a host-name mismatch), else None.
        """


class IVerifiedChain(Interface):
    """The chain the handshake's own verification built: the one to base
    decisions on."""

    def getVerifiedChain():
        """The peer's certificates as the TLS library verified them during
        the handshake: the path from the peer's leaf to a certificate of the
        store given to ``IVerifyOnConnect`` (a client) or
        ``IClientCertificates`` (a server), leaf first and that trust
        anchor last.

        Only the certificates on that path, in path order, however the peer
        sent them; ``getPeerCertChain()`` is what the peer sent, unrelated
        extra certificates included. Decisions on who the peer is (which CA,
        which intermediate, a pinned key) read this chain, never that one.

        Returns:
            list[str]: PEM, leaf first, trust anchor last; [] when the
            handshake verified nothing: none asked for, not completed (or
            failed), no certificate from a client a server only requested
            one of, or a server's resumed session (a session keeps the
            client's certificate, not the path). A client that resumed
            gets the chain its earlier session verified (``IResumption``).
        """


class IResumption(Interface):
    """Session resumption for clients: a later connection to the same server
    skips the full handshake (no certificate, no signature, one round trip
    less in TLS 1.2). The server side needs nothing: servers of every
    built-in component issue session tickets.

    Resumption data is bound to what it was verified under: the server
    name and the context's configuration, verification settings included
    (``IVerifyOnConnect``'s store and host-name check, or none). A resumed
    handshake verifies nothing, so data offered for another name or under
    other settings is refused with an error saying which differs, never
    quietly turned into a full handshake (a mixed-up cache is a bug to see)."""

    def getResumptionData():
        """What a later session needs to resume this one, or None.

        Opaque; use it only with ``setResumptionData()`` of a session of the
        same component, for the same server name, whose context has the same
        configuration. None on a server, before the handshake, and until the
        server has made the session resumable: in TLS 1.3 its session
        tickets follow the handshake and are read with the first data, so
        take this after a ``recv()`` that returned data. Taking it does not
        change the session.
        """

    def setResumptionData(data):
        """Ask this CLIENT session to resume an earlier one; call before ``connect()``.

        If the server does not accept (its ticket key changed, the ticket
        expired), the handshake silently becomes a full one:
        ``isResumed()`` tells. A resumed handshake does not verify the
        server again: the earlier session's verification stands (its
        ``getVerifyResult()`` and ``getVerifiedChain()``), so the data must
        match: its server name is checked here when the session has one,
        by ``setServerName()`` when it comes later, and by ``connect()`` (a
        handshake failure, nothing sent) when only one of the two has a
        name; its context's configuration, verification settings included,
        must be this context's.

        Args:
            data: what ``getResumptionData()`` returned.

        Returns:
            True.

        Raises:
            nettls.TLSModeError: on a session of a SERVER context.
            nettls.TLSError: after ``connect()``.
            TypeError: ``data`` did not come from ``getResumptionData()`` of
                this component.
            ValueError: it came from a session with another server name, or
                whose context had other verification settings or another
                configuration; the message says which.
        """

    def isResumed():
        """True when this session's handshake resumed an earlier session (on
        either side); False before the handshake completed and for a full one."""


class IEndOfStream(Interface):
    """How the peer's stream ended: with close_notify, or truncated."""

    def endedCleanly():
        """Whether the peer ended its stream with close_notify.

        Returns:
            None while the stream has not ended (and for a session whose
            handshake never completed); True once the peer's close_notify
            arrived; False once the stream ended or broke without it: the TCP
            connection closed or reset before close_notify (a truncation),
            or a TLS failure. After ``recv()`` returned end of stream, False
            means data may be missing: a caller that relies on the stream's
            end to delimit data (HTTP without a length) must refuse it.
        """


class IRecvInto(Interface):
    """Receiving straight into the caller's memory (SPEC 13)."""

    def recvInto(buffer):
        """Decrypt into ``buffer`` what is already available; the count written.

        ``buffer`` is writable bytes-like (bytearray, writable memoryview,
        array); the bytes go to its front. Blocking: waits for at least one
        byte, then fills it with what has already arrived, up to its length,
        records not joined and no further wait (``recv(n)`` keeps Dana's
        exact-n rule). Non-blocking: returns at once, 0 when nothing is there
        yet, within the bounds of ``recv()`` (SPEC 14). 0 also at end of
        stream; ``getStatus()`` says which (WAIT_READ/WAIT_WRITE, or FAIL).

        Raises:
            TypeError: ``buffer`` is not writable bytes-like.
            ValueError: ``buffer`` is empty.
            nettls.TLSNotHandshakenError: before the handshake completed.
            nettls.TLSTimeoutError: a blocking call ran past the socket's timeout.
        """
