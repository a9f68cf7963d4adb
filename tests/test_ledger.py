"""The send ledger (``nettls.components._common.ledger.SendLedger``) on its
own: plaintext against ciphertext, record by record (SPEC 7).

A fake socket queue stands in for the socket: it takes what it is told to
take of what it is given, and the tests hold the ledger to its invariant
after every step: ``sent + queue == given``, ``pt_reported <= pt_done <=
pt_given``, and plaintext counts as written only when its whole record is.
"""

from __future__ import annotations

import random

import pytest

from nettls.components._common.ledger import SendLedger


class Queue:
    """A socket's send queue: ``take`` bytes go to the kernel, the rest wait."""

    def __init__(self) -> None:
        self.held = 0
        self.written = 0

    def send(self, size: int, take: int) -> int:
        self.held += size
        return self.write(take)

    def write(self, take: int) -> int:
        take = min(take, self.held)
        self.held -= take
        self.written += take
        return take


def _check(ledger: SendLedger, queue: Queue) -> None:
    assert ledger.sent + queue.held == ledger.given
    assert ledger.pt_reported <= ledger.pt_done <= ledger.pt_given
    assert ledger.queued() == (queue.held > 0)


def test_a_record_taken_whole_is_written_at_once():
    ledger, queue = SendLedger(), Queue()
    ledger.give(1029, 1000)
    ledger.took(queue.send(1029, 1029))
    _check(ledger, queue)
    assert ledger.report() == 1000 and ledger.unsent() == 0
    assert ledger.report() == 0, "a count is reported once"


def test_plaintext_counts_only_when_its_whole_record_is_written():
    ledger, queue = SendLedger(), Queue()
    ledger.give(1029, 1000)
    ledger.took(queue.send(1029, 1028))  # all but the record's last byte
    _check(ledger, queue)
    assert ledger.report() == 0 and ledger.unsent() == 1000
    ledger.took(queue.write(1))
    _check(ledger, queue)
    assert ledger.report() == 1000 and ledger.unsent() == 0


def test_several_records_in_one_send_count_one_by_one():
    ledger, queue = SendLedger(), Queue()
    records = [(16406, 16384), (16406, 16384), (1046, 1024)]
    ledger.give(sum(c for c, _ in records), sum(p for _, p in records), records)
    ledger.took(queue.send(sum(c for c, _ in records), 16406 + 100))  # the first record and a bit
    _check(ledger, queue)
    assert ledger.report() == 16384
    ledger.took(queue.write(16406 - 100))  # the second record ends here
    assert ledger.report() == 16384
    ledger.took(queue.write(1045))
    assert ledger.report() == 0, "one byte of the last record is still queued"
    ledger.took(queue.write(1))
    _check(ledger, queue)
    assert ledger.report() == 1024 and ledger.unsent() == 0


def test_protocol_bytes_hold_up_the_plaintext_behind_them():
    ledger, queue = SendLedger(), Queue()
    ledger.give(500)  # a session ticket the engine wrote on its own
    ledger.took(queue.send(500, 100))
    ledger.give(1029, 1000)
    ledger.took(queue.send(1029, 429))  # the rest of the ticket and 29 bytes of the record
    _check(ledger, queue)
    assert ledger.report() == 0 and ledger.queued()
    ledger.took(queue.write(1000))
    _check(ledger, queue)
    assert ledger.report() == 1000 and not ledger.queued()


def test_emptied_resynchronises_after_a_direct_write():
    ledger, queue = SendLedger(), Queue()
    ledger.give(1029, 1000)
    ledger.took(queue.send(1029, 0))
    queue.write(1029)  # someone called the socket's own sendBuffer()
    ledger.emptied()
    _check(ledger, queue)
    assert ledger.report() == 1000


def test_restart_counts_what_the_socket_already_held():
    ledger, queue = SendLedger(), Queue()
    queue.held = 300  # queued before the session switched to non-blocking mode
    ledger.restart(queue.held)
    _check(ledger, queue)
    ledger.give(1029, 1000)
    ledger.took(queue.send(1029, 1000))
    assert ledger.report() == 0, "the record's end is behind the 300 bytes that were there first"
    ledger.took(queue.write(329))
    _check(ledger, queue)
    assert ledger.report() == 1000


@pytest.mark.parametrize("seed", range(20))
def test_the_invariant_holds_under_random_partial_writes(seed):
    rng = random.Random(seed)
    ledger, queue = SendLedger(), Queue()
    reported = given = 0
    for _ in range(200):
        if rng.random() < 0.6:
            count = rng.randint(1, 4)
            records = [(rng.randint(22, 16406), rng.randint(1, 16384)) for _ in range(count)]
            ct, pt = sum(c for c, _ in records), sum(p for _, p in records)
            ledger.give(ct, pt, records if count > 1 else None)
            given += pt
            ledger.took(queue.send(ct, rng.randint(0, ct)))
        else:
            ledger.took(queue.write(rng.randint(0, 40000)))
            if not queue.held:
                ledger.emptied()
        reported += ledger.report()
        _check(ledger, queue)
        assert reported + ledger.unsent() == given  # SPEC 7: returns + unsent == given
    ledger.took(queue.write(queue.held))
    reported += ledger.report()
    assert reported == given and ledger.unsent() == 0
