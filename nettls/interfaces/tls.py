"""The TLS interfaces: ``net.TLS``, ``net.TLSContext``, ``net.TLSCertStore``."""

from __future__ import annotations

from zope.interface import Attribute, Interface, taggedValue

from .stream import DANA_NAME, IStream

__all__ = ["ITLS", "ITLSContext", "ITLSCertStore"]


class ITLS(IStream):
    """A TLS session over a connected TCP socket (Dana ``net.TLS``).

    Made from a context (``TLS(context)``, any component's ``ITLSContext``),
    then ``connect()``-ed (client) or ``accept()``-ed (server) over an
    ``ITCPSocket``; from then on the session owns the socket. Encryption
    only: ``connect()`` does not authenticate the peer. Call
    ``verifyCertificate()`` on the peer chain, and check the host name
    yourself, before sending anything that matters.

    Constants: ``FAIL`` (0), ``OK`` (1), ``WAIT_READ`` (2), ``WAIT_WRITE`` (3).

    Mode: a session is non-blocking once ``setNonBlocking()`` was called, or
    when it is given a socket that is already non-blocking (Dana's rule).
    """

    taggedValue(DANA_NAME, "net.TLS")

    sendWait = Attribute(
        """An ``IEvent`` fired in non-blocking mode when a ``send()`` that
        found the queue empty could not write all its data, when a
        ``sendBuffer()`` leaves bytes queued, and when any call leaves TLS
        protocol bytes queued on the socket. Arm a send notification for
        ``getSocket()`` on a ``TCPMonitor`` and call ``sendBuffer()`` when
        it arrives. ``EventData.details`` is the ``sendWaitData``."""
    )

    def connect(socket):
        """Run the client handshake over ``socket`` (a connected ``ITCPSocket``).

        Needs a CLIENT context, else ``TLSError``. Blocking: returns OK, or
        raises ``TLSHandshakeError`` carrying the reason. Non-blocking:
        returns WAIT_READ / WAIT_WRITE while the handshake needs the socket
        readable / writable (call again then), OK when done, FAIL on failure.
        Does not verify the peer.
        """

    def accept(socket):
        """Run the server handshake over ``socket``, as ``connect()`` does.

        Needs a SERVER context, else ``TLSError``.
        """

    def getSocket():
        """The socket given to ``connect()``/``accept()``; None before."""

    def getPeerCertificate():
        """The peer's leaf certificate as PEM text; None if it sent none.

        A server sees a client certificate only when an extension asked the
        client for one.
        """

    def getPeerCertChain():
        """The certificates the peer sent, as PEM text, leaf first.

        ``[0]`` is ``getPeerCertificate()`` and the rest follow in the order
        the peer sent them; ``[]`` if it sent none. The same on the client
        and the server side.
        """

    def verifyCertificate(store, certificate, chain):
        """Validate a path from ``certificate`` to a root in ``store``.

        ``store`` provides ``ITLSCertStore`` (any component's);
        ``certificate`` is PEM (str or bytes); ``chain`` is a list of PEM
        intermediates (it may hold the leaf and the root too) or None.
        Checks signatures, validity periods, CA constraints, path length and
        key usage where present, at the current time, with no purpose: no
        extended key usage or subject alternative name is required and no
        host name is checked. Returns a ``VerifyStatus``: OK, or FAIL with
        the PEM of the certificate at fault and the reason. Input that does
        not parse gives FAIL saying so, never an exception. Works on a
        session that never connected.
        """

    def setNonBlocking(sendWaitData=None):
        """Make the session (and its socket) non-blocking; returns True.

        May be called before or after the handshake. ``sendWaitData`` is
        delivered as ``EventData.details`` with every ``sendWait``. If the
        socket already was non-blocking its own ``sendWaitData`` is kept.
        """

    def getStatus():
        """The state of the session, one of FAIL, OK, WAIT_READ, WAIT_WRITE.

        FAIL before the handshake, and for good once the session failed,
        was closed, or its stream ended. Otherwise the outcome of the last
        call: OK when it completed, WAIT_READ / WAIT_WRITE when it could not
        complete until the socket is readable / writable (``recv()`` with
        nothing to return gives WAIT_READ; ``send()`` leaving bytes queued
        gives WAIT_WRITE).
        """

    def sendBuffer():
        """Write queued bytes; returns how many plaintext bytes completed.

        Also writes on TLS protocol bytes the session queued on its socket.
        Always 0 in blocking mode.
        """

    def getBufferUnsent():
        """How many plaintext bytes are still queued (0 in blocking mode)."""

    def close():
        """End the session: write what is queued, then close_notify.

        Does not wait for the peer's close_notify and does not disconnect
        the TCP socket. Returns OK (also after the peer closed first);
        non-blocking: WAIT_WRITE until everything is written, and calling
        ``close()`` or ``sendBuffer()`` again continues. FAIL if the
        handshake never completed or the session was already closed; never
        raises for those. Afterwards ``send()`` raises ``TLSError``.
        """


class ITLSContext(Interface):
    """Configuration shared by sessions (Dana ``net.TLSContext``).

    ``TLSContext(mode)`` with ``CLIENT`` (0x1) or ``SERVER`` (0x2), anything
    else a ValueError. Constants: ``CLIENT``, ``SERVER``, ``CIPHER_DEFAULT``
    (1), ``CIPHER_ALL`` (2). Secure defaults: TLS 1.2 minimum, TLS 1.3 on,
    no compression, no renegotiation, no client certificate requested.
    Changing a context affects only sessions made afterwards.
    """

    taggedValue(DANA_NAME, "net.TLSContext")

    mode = Attribute("CLIENT or SERVER, read-only.")
    certificate = Attribute("The PEM certificate set, or None; read-only.")
    privateKey = Attribute("The private key set, as PKCS#8 PEM, or None; read-only.")
    chain = Attribute("The intermediates sent after the leaf: a tuple of PEM; read-only.")
    cipherSet = Attribute("CIPHER_DEFAULT or CIPHER_ALL; read-only.")

    def setCertificate(cert, key):
        """Use ``cert`` (PEM) with ``key`` (unencrypted PEM: PKCS#8, PKCS#1 or SEC1).

        Both str or bytes. Returns True; raises ``CertificateError`` saying
        why for input that does not parse, an encrypted key, or a key that
        does not match the certificate.
        """

    def setCertificateChain(chain):
        """Send the PEM intermediates in ``chain`` after the leaf.

        Returns True; raises ``CertificateError`` for input that does not parse.
        """

    def setCipherSet(mode):
        """Choose ``CIPHER_DEFAULT`` or ``CIPHER_ALL`` (else ValueError).

        TLS 1.3 suites are the same in both. Returns True.
        """


class ITLSCertStore(Interface):
    """A set of trusted certificates (Dana ``net.TLSCertStore``)."""

    taggedValue(DANA_NAME, "net.TLSCertStore")

    certificates = Attribute("The trusted certificates: a tuple of PEM; read-only.")

    def addCertificate(pem):
        """Trust the certificate ``pem`` (str or bytes): exactly one PEM
        certificate, read by nettls's strict parser (SPEC 14).

        Returns True, or False for input that is not a certificate or that
        would take the store past its limits (4096 certificates, 16 MiB; see
        ``nettls.components._common.limits``); the reason is logged at
        WARNING on the ``nettls`` logger.
        """

    def loadLocation(path):
        """Trust every certificate in ``path``: a directory of PEM files
        (such as an OpenSSL hashed directory) or a PEM bundle file. Text
        between certificates (comments) is allowed; a malformed certificate
        block refuses the whole file, as OpenSSL does.

        Returns True, or False when ``path`` is missing, unreadable, holds
        no certificate, or is past the limits (4 MiB a file, 16 MiB and
        10,000 entries a call); the reason is logged at WARNING on the
        ``nettls`` logger.
        """
