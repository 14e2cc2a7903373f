"""The decisions CSV keeps every field a spreadsheet could run as a formula as text (API.md: prefixed with ')."""

from __future__ import annotations

import pytest

from refund_core.app.reports import spreadsheet_safe


@pytest.mark.parametrize(
    "value",
    ["=1+1", "+1", "-1", "@SUM(A1)", "＝1+1", "＋1", "－1", "＠SUM(A1)", "|cmd", " =1+1", "\u3000=1", "\t=1", "\r=1",
     "\tanything"],
)  # fmt: skip
def test_a_field_a_spreadsheet_would_run_is_kept_as_text(value: str) -> None:
    assert spreadsheet_safe(value) == "'" + value


@pytest.mark.parametrize("value", ["alice", "ord-1001", "2026-12-01T02:00:00+00:00", "99.00", "a=b", " alice", ""])
def test_any_other_field_is_kept_as_it_is(value: str) -> None:
    assert spreadsheet_safe(value) == value
