"""Resumption data, and the rule that binds it to what it was verified under.

A resumed handshake verifies nothing: the earlier session's verification
stands. So data is used only by a session with the same server name and
the same context configuration, verification settings included (SPEC 14);
``resumption_mismatch`` says why it may not be, and ``ExtendedTLSSession``
refuses it (``IResumption``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nettls.hostname import ServerName

from .config import ContextConfig

__all__ = ["ResumptionData", "resumption_mismatch", "shown"]


@dataclass(frozen=True, eq=False)
class ResumptionData:
    """What ``IResumption.getResumptionData()`` returns: opaque to callers.

    ``server_name`` and ``config`` are what the session was verified under
    (the name checked, the verification settings), ``verified_chain`` what
    that verification built: a resumed handshake verifies nothing again.
    """

    component: str
    config: ContextConfig
    native: Any
    protocol: str | None
    server_name: ServerName | None
    verified_chain: tuple[str, ...]

    def __repr__(self) -> str:
        return f"<nettls resumption data ({self.component}, {self.protocol or 'unknown protocol'})>"


def shown(name: ServerName | None) -> str:
    """A server name as messages quote it."""
    return "no server name" if name is None else repr(name.text)


def resumption_mismatch(data: ResumptionData, config: ContextConfig, name: ServerName | None) -> str | None:
    """Why ``data`` may not resume a session of ``config`` named ``name``, or None."""
    if data.server_name != name:
        return f"the data is for {shown(data.server_name)}, this session names {shown(name)}"
    if (data.config.verifyTrust, data.config.verifyHostName) != (config.verifyTrust, config.verifyHostName):
        return (
            "the data was verified under other verification settings (the trust store or host-name check of "
            "setVerifyOnConnect(), or none), and a resumed handshake verifies nothing again"
        )
    if data.config != config:
        return "the data comes from a session whose context had another configuration"
    return None
