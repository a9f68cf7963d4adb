"""The extension clauses of the conformance suite (SPEC 11) can fail.

Each mutant of ``tests/mutants/tcp.py`` and ``tls_ext.py`` that declares an
extension clause is the real tcp or stdlib component with one extension
broken; it runs in a subprocess with its clause selected, and the clause
must fail it while the real component (the control) passes it. The
mechanics are ``test_conformance_can_fail``'s.
"""

from __future__ import annotations

import pytest

from mutants.run import batches, run_ahead, selected_batches, verdicts


@pytest.mark.timeout(300)
@pytest.mark.parametrize("batch", batches(full=True), ids=lambda b: b.id)
def test_extension_mutants_are_caught_by_their_own_clause(batch, request, tmp_path_factory):
    problems = verdicts(batch, run_ahead(batch, selected_batches(request), tmp_path_factory.getbasetemp()))
    assert not problems, "\n".join(problems)
