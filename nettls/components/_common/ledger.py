"""The send ledger: a session's ciphertext and plaintext accounting (SPEC 7).

A non-blocking socket keeps in its own queue what the kernel did not take,
and counts in ciphertext bytes; the session's caller counts in plaintext
bytes. ``SendLedger`` turns one into the other. It is pure bookkeeping: the
session tells it what it handed to the socket (``give``) and what the
socket reported written (``took``, ``emptied``), and asks it what to report
to the caller (``report``) and what is still unsent (``unsent``).
"""

from __future__ import annotations

from collections import deque

__all__ = ["SendLedger"]


class SendLedger:
    """Ciphertext handed to a socket against plaintext reported to the caller.

    ``given``
        ciphertext handed to the socket (from the ledger's start, plus what
        the socket already held then: see ``restart``);
    ``sent``
        ciphertext the socket reported written: the sum of its ``send()``
        and ``sendBuffer()`` returns;
    ``pt_given``, ``pt_done``, ``pt_reported``
        plaintext given to ``send()``; plaintext whose records are wholly
        written; plaintext already returned by ``send()``/``sendBuffer()``;
    the records
        ``(ciphertext end, plaintext end)`` of each application record not
        yet wholly written (ends counted like ``given`` and ``pt_given``).

    Invariant, after every call: ``sent + (bytes the socket still holds) ==
    given``; ``pt_reported <= pt_done <= pt_given``; ``pt_done`` is the
    plaintext end of the last record whose ciphertext end is at most
    ``sent``, so plaintext counts as written exactly when all ciphertext up to
    the end of its record was (SPEC 7); and ``report()`` plus ``unsent()``
    over a session's life add up to the plaintext given. So "the socket
    holds bytes of ours" is ``queued()``, with no call to the socket.
    """

    __slots__ = ("given", "sent", "pt_given", "pt_done", "pt_reported", "_records")

    def __init__(self, held: int = 0) -> None:
        self.given = held  # ciphertext handed over (what the socket held at the start counts)
        self.sent = 0
        self.pt_given = self.pt_done = self.pt_reported = 0
        self._records: deque[tuple[int, int]] = deque()

    def restart(self, held: int) -> None:
        """Count from here on against a socket that holds ``held`` bytes
        (a session switched to non-blocking mode over a queue it did not make)."""
        self.given = self.sent + held

    def give(self, ciphertext: int, plaintext: int = 0, records: list[tuple[int, int]] | None = None) -> None:
        """``ciphertext`` bytes handed to the socket, carrying ``plaintext``
        bytes of application data (0: protocol bytes only). ``records``:
        the (ciphertext, plaintext) length of each record when there is
        more than one, so each one's end is known exactly."""
        if plaintext:
            if records is None:
                self._records.append((self.given + ciphertext, self.pt_given + plaintext))
            else:
                ct, pt, ends = self.given, self.pt_given, self._records
                for ct_len, pt_len in records:
                    ct += ct_len
                    pt += pt_len
                    ends.append((ct, pt))
            self.pt_given += plaintext
        self.given += ciphertext

    def took(self, count: int) -> None:
        """The socket reported ``count`` more bytes written."""
        sent = self.sent = self.sent + count
        records = self._records
        if sent == self.given:  # all written: so is every record
            if records:
                records.clear()
                self.pt_done = self.pt_given
            return
        while records and records[0][0] <= sent:
            self.pt_done = records.popleft()[1]

    def emptied(self) -> None:
        """The socket reported its queue empty: everything given was written
        (also resynchronises after someone called the socket's sendBuffer())."""
        self.took(self.given - self.sent)

    def queued(self) -> bool:
        """Whether the socket still holds ciphertext of ours."""
        return self.sent != self.given

    def unsent(self) -> int:
        """Plaintext given and not yet reported (``getBufferUnsent()``)."""
        return self.pt_given - self.pt_reported

    def report(self) -> int:
        """Plaintext newly written since the last report (what ``send()`` or
        ``sendBuffer()`` returns), now reported."""
        done = self.pt_done - self.pt_reported
        self.pt_reported = self.pt_done
        return done
