"""Extensions about trust and keys: the system's trusted roots for a store,
logging session keys for a debugger, and encrypted private keys. Split from
``tlsext`` by topic; re-exported from ``nettls.interfaces`` like every
extension interface."""

from __future__ import annotations

from zope.interface import Attribute, Interface

__all__ = ["ISystemTrust", "IKeyLog", "IEncryptedKeys"]


# --- store level ------------------------------------------------------------------------


class ISystemTrust(Interface):
    """The operating system's trusted root certificates, for a store."""

    systemTrustSource = Attribute(
        "str | None: where loadSystemTrust() found the roots (a variable and its path, a path, or certifi's bundle); None before it did."
    )

    def loadSystemTrust():
        """Add the system's trusted root certificates to this store.

        Looked for in order, stopping at the first that gives any:

        1. ``SSL_CERT_FILE`` and ``SSL_CERT_DIR`` when either is set, as
           OpenSSL reads them: both when both are set, and in the directory
           only hash-named files (``8 hex digits . digit``); when set,
           nothing else of the system is read, and a variable that is set
           but unusable is an error, never a fallback;
        2. the file, then the directory, that Python's ``ssl`` module reports
           as the system defaults (``ssl.get_default_verify_paths()``);
        3. the certificates the system hands to ``ssl`` itself (the Windows
           certificate store);
        4. certifi's copy of Mozilla's bundle, where the system has none.

        Like ``loadLocation()``, it adds to what the store holds. The roots
        serve ``verifyCertificate()`` and ``IVerifyOnConnect`` alike. They
        are read once per process and read again when a file or directory
        they came from changes (size, time or inode), so a refreshed system
        store (``update-ca-certificates``, ``openssl rehash``) is seen
        without a restart.

        Returns:
            True when at least one certificate was added or already there;
            False when none was found anywhere.

        Raises:
            nettls.CertificateError: ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` is
                set but unusable (missing, not a file or directory, holding no
                certificate or a malformed one), or the roots are past the
                store's limits; the message names the variable and the path,
                and nothing is added.
        """


# --- context level: keys ------------------------------------------------------------


class IKeyLog(Interface):
    """Write the session keys to a file in the NSS key-log format, which
    Wireshark reads to decrypt a capture. Without it, a component honours
    the ``SSLKEYLOGFILE`` environment variable as curl and browsers do
    (stdlib, pyopenssl and rustls). The file lets anyone holding it read
    the traffic: for debugging only."""

    keyLogFile = Attribute("str | None: the key-log file set on this context; None when unset (then SSLKEYLOGFILE applies).")

    def setKeyLogFile(path):
        """Append the keys of this context's sessions to ``path`` (created
        with mode 0600 if missing), or stop with None. Sessions made
        afterwards use it.

        Returns:
            True.

        Raises:
            TypeError: ``path`` is not a str, a path-like or None.
        """


class IEncryptedKeys(Interface):
    """A certificate whose private key is encrypted (PKCS#8, ``BEGIN
    ENCRYPTED PRIVATE KEY``). The key is decrypted once, in memory; the
    context then holds it as ``setCertificate`` would, and the password is
    not kept."""

    def setCertificateWithPassword(cert, key, password):
        """``setCertificate(cert, key)`` for an encrypted ``key``.

        Args:
            cert: the PEM certificate, as ``ITLSContext.setCertificate``.
            key: a PEM PKCS#8 encrypted private key (an unencrypted one is
                taken too, the password unused).
            password: bytes or str (UTF-8), or a callable returning one.

        Returns:
            True.

        Raises:
            nettls.CertificateError: the password does not decrypt the key,
                the key is in a form nettls cannot decrypt (traditional
                OpenSSL encryption: convert it with ``openssl pkcs8
                -topk8``), or it does not match the certificate. The message
                never holds the password or key material.
            TypeError: ``password`` is of another type.
        """
