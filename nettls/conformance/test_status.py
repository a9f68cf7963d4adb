"""SPEC 6: ``getStatus()`` after every kind of call, in every state, in both
modes: one case per row of ``status_rules.RULES`` and mode."""

from __future__ import annotations

import pytest

from .status_rules import CASES, check_status_rule


@pytest.mark.clause("6.status")
@pytest.mark.parametrize("row,status_mode", [pytest.param(row, mode, id=f"{row}-{mode}") for row, mode in CASES])
def test_status_rule(harness, row, status_mode):
    check_status_rule(harness, row, status_mode)
