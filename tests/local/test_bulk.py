"""`refund-ops load-events`: lines validated as the records function validates them, the refused ones
reported with their line number and reason and never sent, the others sent 10 to a call, a run that stops
resumable from the line it names."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from refund_ops import bulk
from refund_ops.cli import main


def line(detail_type: str, detail: dict[str, Any], source: str) -> str:
    return json.dumps({"source": source, "detail-type": detail_type, "detail": detail})


def usage(index: int) -> str:
    detail = {"orderId": f"ord-{index}", "trafficBytes": index, "connections": 1, "asOf": "2026-11-30T10:00:00+08:00"}
    return line("UsageReported", detail, "smart-security.usage")


class Bus:
    """A sender that keeps what it was given; `failing_call` raises on that call (1-based)."""

    def __init__(self, failing_call: int | None = None, refuse: str | None = None) -> None:
        self.calls: list[list[bulk.Entry]] = []
        self._failing_call = failing_call
        self._refuse = refuse

    def __call__(self, entries: list[bulk.Entry]) -> list[str | None]:
        if len(self.calls) + 1 == self._failing_call:
            raise requests.ConnectionError("the bus went away")
        self.calls.append(entries)
        return [self._refuse if self._refuse and entry["Detail"].count('ord-3"') else None for entry in entries]


def test_valid_lines_go_ten_to_a_call_and_refused_ones_are_reported_and_never_sent() -> None:
    lines = [usage(index) for index in range(1, 24)]
    lines[4] = line("UsageReported", {"orderId": "ord-5", "trafficBytes": "many", "connections": 1,
                                      "asOf": "2026-11-30T10:00:00+08:00"}, "smart-security.usage")  # fmt: skip
    lines[9] = "not json"
    lines.insert(12, "")  # a blank line is no event
    out, bus = io.StringIO(), Bus()
    summary = bulk.load(lines, bus, out=out, progress=io.StringIO())

    assert [len(call) for call in bus.calls] == [10, 10, 1]
    assert (summary.lines, summary.accepted, summary.refused, summary.resume_from) == (23, 21, 2, None)
    assert "line 5 refused: detail.trafficBytes: Input should be a valid integer" in out.getvalue()
    assert "line 10 refused: not JSON" in out.getvalue()
    sent = [json.loads(entry["Detail"])["orderId"] for call in bus.calls for entry in call]
    assert "ord-5" not in sent and "ord-10" not in sent
    assert summary.refused_lines == [5, 10]


def test_what_the_bus_refuses_is_reported_by_line() -> None:
    out = io.StringIO()
    summary = bulk.load([usage(1), usage(2), usage(3)], Bus(refuse="InternalFailure: try again"), out=out)
    assert (summary.accepted, summary.refused) == (2, 1)
    assert "line 3 refused: the bus refused it: InternalFailure: try again" in out.getvalue()


def test_a_run_that_stops_names_the_line_to_resume_from_and_resuming_sends_the_rest_once() -> None:
    lines = [usage(index) for index in range(1, 36)]
    stopped = bulk.load(lines, Bus(failing_call=3), out=io.StringIO())
    assert (stopped.accepted, stopped.resume_from) == (20, 21)
    assert "resume with --from-line 21" in stopped.text()

    resumed_bus = Bus()
    resumed = bulk.load(lines, resumed_bus, first_line=21, out=io.StringIO())
    assert (resumed.lines, resumed.accepted, resumed.resume_from) == (15, 15, None)
    assert json.loads(resumed_bus.calls[0][0]["Detail"])["orderId"] == "ord-21"


def test_the_command_checks_a_file_and_exits_1_when_a_line_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(usage(index) for index in range(1, 4)) + "\n", encoding="utf-8")
    assert main(["load-events", str(good), "--check-only"]) == 0
    assert "3 lines read from line 1: 3 accepted, 0 refused" in capsys.readouterr().out

    bad = tmp_path / "bad.jsonl"
    bad.write_text(usage(1) + "\n" + line("OrderShipped", {}, "smart-security.billing") + "\n", encoding="utf-8")
    assert main(["load-events", str(bad), "--check-only"]) == 1
    assert "line 2 refused: detail-type: 'OrderShipped'" in capsys.readouterr().out
    assert main(["load-events", str(tmp_path / "missing.jsonl"), "--check-only"]) == 2
