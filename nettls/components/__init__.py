"""The built-in components: ``tcp``, ``stdlib`` and ``pyopenssl``.

Each registers through the ``nettls.components`` entry-point group, exactly
as a third-party component would; nothing here imports them eagerly.
``_common`` holds what they share (events, send queue, PEM handling and the
TLS session pump).
"""
