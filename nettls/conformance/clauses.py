"""The contract clauses the suite checks, by id, in SPEC order.

Every conformance test carries ``@pytest.mark.clause(ID)`` naming one of
these; the id is the SPEC section and a short name.

A component's deviation table (``Component.deviations``) maps a case id
to the reason. A case id is, from the most to the least specific:

- ``ID:CASE[PARAMS]``: CASE is the test's name without ``test_``, PARAMS
  its parameters other than components, joined by "-", as in
  ``"6.handshake:handshake[nonblocking-rsa]"``;
- ``ID:CASE``: every parametrization of that test, as in
  ``"6.verify-fail:expired_leaf"``;
- ``ID``: every case of the clause.

Any of these may end in ``@ROLE`` to apply only where the component plays
that role in a test over two components (ROLE is ``server``, ``client``,
``session`` or ``context``): ``"11.ext-context-any:session_honours_another_components_context@session"``
fails where the component's session uses another's context, not where its
context serves another's session.

Each case an entry names is expected to fail (a strict xfail carrying the
reason): a case that passes all the same fails the run, so an entry that
has gone stale, or that names more than what deviates, shows.
"""

from __future__ import annotations

__all__ = ["CLAUSES", "clause_sort_key"]

#: id -> what the clause requires, in one line.
CLAUSES: dict[str, str] = {
    "1.interfaces": "every provided class conforms to its interface (verifyClass, verifyObject)",
    "3.constants": "Dana's constants on every implementing class and instance",
    "4.recv-args": "recv(n) takes a positive int, else ValueError/TypeError",
    "4.recv-blocking": "blocking recv(n) waits for n bytes; fewer only at end of stream",
    "4.recv-nonblocking": "non-blocking recv returns at once, possibly b''",
    "4.send-types": "send takes bytes, bytearray, memoryview; str is a TypeError",
    "4.send-blocking": "blocking send writes all of data and returns len(data)",
    "4.broken-send": "send on a broken connection raises TLSConnectionError / ConnectionError",
    "4.broken-recv": "recv never raises for a broken or reset connection: b'', status FAIL",
    "4.full-duplex": "one thread in recv() while another sends on the same object",
    "5.connect": "TCP connect to an IP or host name; ConnectionError naming the address",
    "5.accept": "TCP accept and endpoints",
    "5.bind": "bind/unbind; port 0; OSError naming the address",
    "5.connected": "connected() False once the peer closed; disconnect() idempotent",
    "5.monitor": "TCPMonitor: recvReady, one-shot sendReady, close, remSocket, timeout, any ISelectable",
    "5.ipv6": "TCP over IPv6",
    "6.context-any": "a session takes a context and a store of any component",
    "6.context-snapshot": "changing a context affects only sessions made afterwards",
    "6.role": "connect needs a CLIENT context and accept a SERVER one, else TLSError",
    "6.socket-interface": "a session does its I/O through the socket's interface",
    "6.handshake": "the handshake completes (blocking OK; non-blocking WAIT_*, then OK)",
    "6.handshake-failure": "failed handshake: TLSHandshakeError with the reason, or FAIL",
    "6.no-verify": "connect() does not verify the peer",
    "6.handshake-signature": "the handshake proves the peer holds its certificate's key: an impostor is refused",
    "6.mode": "non-blocking by setNonBlocking() before or after, or by a non-blocking socket",
    "6.get-socket": "getSocket() is the very socket given; None before",
    "6.peer-certificate": "getPeerCertificate(): the peer's leaf as PEM; None if none",
    "6.peer-chain": "getPeerCertChain(): leaf first, as sent, on both sides; [] if none",
    "6.verify-ok": "verifyCertificate OK for a valid path, chain in every accepted form",
    "6.verify-fail": "verifyCertificate FAIL with failedCertificate and failedReason, per failure kind",
    "6.verify-purpose-free": "verification requires no EKU and no SAN of the leaf",
    "6.verify-malformed": "verifyCertificate on input that does not parse: FAIL with a reason",
    "6.verify-unconnected": "verifyCertificate works on a session that never connected",
    "6.status": "getStatus(): FAIL before, OK, WAIT_READ, WAIT_WRITE, FAIL for good",
    "6.nonblocking-reads": "data waiting inside the session comes out by reading until b''",
    "6.eof": "end of stream (close_notify or TCP close): the rest, then b'' for ever, FAIL",
    "6.close": "close(): OK, WAIT_WRITE to continue, FAIL if not open; send after close raises",
    "7.send-count": "non-blocking send returns what was written, queues the rest; the invariant",
    "7.send-wait": "sendWait fires once per send/sendBuffer that leaves bytes queued, with its data",
    "7.delivery": "every byte reaches the peer once, in order",
    "7.blocking": "blocking mode queues nothing: sendBuffer() and getBufferUnsent() are 0",
    "7.one-way-tls13": "one-directional TLS 1.3 transfers lose nothing (tickets in flight)",
    "8.context-mode": "TLSContext(mode): CLIENT or SERVER, else ValueError",
    "8.set-certificate": "setCertificate: PKCS#8, PKCS#1, SEC1, str or bytes",
    "8.certificate-errors": "unparsable, encrypted or mismatched input: CertificateError with a reason",
    "8.set-chain": "setCertificateChain sends the intermediates",
    "8.cipher-set": "setCipherSet: CIPHER_DEFAULT, CIPHER_ALL, else ValueError",
    "8.read-only": "contexts and stores expose their configuration read-only",
    "8.store-add": "addCertificate: True, or False for what is not a certificate",
    "8.store-load": "loadLocation: a bundle file or a directory; False if missing or empty",
    "8.secure-defaults": "TLS 1.2 minimum, TLS 1.3 on, no compression, renegotiation or client cert request",
    "8.key-files": "no key material is left on disk (temporary key files are removed at once)",
    "9.errors": "only nettls error types escape; the backend's exception is kept as __cause__",
    "9.error-closed": "a call on a closed session raises TLSClosedError (a TLSError)",
    "9.error-not-handshaken": "send()/recv() before the handshake completed raise TLSNotHandshakenError (a TLSError)",
    "9.error-mode": "connect()/accept() with a context of the wrong mode raise TLSModeError (a TLSError)",
    "10.interop-data": "every (server, client) component pair exchanges data and checks the chain",
    "10.interop-context": "every (session, context) component pair, stores from the context's, handshakes",
    "11.tcp-selectable": "TCP sockets: fileno() and isNonBlocking()",
    "11.tcp-server-options": "server sockets: setNonBlocking() and getLocalEndpoint()",
    "11.tcp-half-close": "TCP sockets: shutdownOutput()",
    "11.timeout": "setTimeout() bounds blocking calls: TimeoutError (TLSTimeoutError on a session)",
    "11.session-info": "getProtocolVersion(), getCipherSuite(), getFailureReason()",
    "11.alert-delivery": "a failed session has handed its alert to the socket",
    "11.ext-interfaces": "every TLS extension interface a class declares is implemented (verifyClass, verifyObject)",
    "11.server-name": "setServerName() sends SNI (never an address); getServerName() on both sides",
    "11.name-certificates": "a server presents the certificate set for the name the client sent",
    "11.verify-on-connect": "setVerifyOnConnect: connect() verifies chain and host name in one step, or fails",
    "11.alpn": "ALPN: a client offers, a server selects in its own order; the choice is read on both sides",
    "11.minimum-version": "setMinimumVersion: TLSv1.3 refuses TLS 1.2 peers; nothing below TLSv1.2",
    "11.client-certificates": "a server requests or requires a client certificate, verifies it, sees it",
    "11.system-trust": "loadSystemTrust fills a store from the system (certifi where it has none)",
    "11.key-log": "IKeyLog: the session keys go to the file set on the context (NSS format, mode 0600)",
    "11.encrypted-keys": "IEncryptedKeys: an encrypted PKCS#8 key with its password; a wrong one is refused, never shown",
    "13.recv-into": "recvInto(buffer): what has arrived, up to the buffer, in order, without waiting for more; 0 at the end",
    "14.work-per-call": "a non-blocking session call takes at most 64 KiB of ciphertext from the socket, whatever comes of it",
    "14.post-handshake-flood": "a peer sending only post-handshake messages gets a fatal alert at the documented limit",
    "11.resumption": "a client resumes an earlier session with its resumption data; isResumed() says so",
    "11.end-of-stream": "endedCleanly(): close_notify from a truncation or reset",
    "11.ext-context-any": "a session honours the extension settings of another component's context",
    "11.ext-interop": "every (server, client) pair: SNI, ALPN, mutual TLS, verification and resumption together",
}

_ORDER = {cid: i for i, cid in enumerate(CLAUSES)}


def clause_sort_key(clause_id: str) -> tuple[int, str]:
    """Sort clause ids in SPEC order (unknown ones last)."""
    return (_ORDER.get(clause_id, len(_ORDER)), clause_id)
