"""`refund-ops load-events FILE`: a JSON Lines file of records events (RECORDS.md "Bulk": one
`{"source", "detail-type", "detail"}` a line) onto the local stack (POST /_local/events) or a deployed stack's
bus (PutEvents), 10 to a call, for the first backfill and for replays.

Each line is validated first with the models the records function validates with: a line it would refuse is
reported (line number, reason) and not sent. Lines are read one at a time and forgotten once sent, so memory
stays flat however long the file; progress goes to stderr every few seconds; the summary ends the output,
and the exit status is 1 when any line was refused. `--from-line N` resumes a run that stopped: the summary
of an interrupted run says from which line."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

import requests

from refund_core.app.record_events import parse_record_event
from refund_core.errors import RecordEventRefused

BATCH = 10  # PutEvents' most entries a call
PROGRESS_SECONDS = 2.0

Entry = dict[str, str]
# Sends up to 10 entries; for each, None (accepted) or why the bus refused it.
Send = Callable[[list[Entry]], list[str | None]]


@dataclass
class Summary:
    first_line: int
    lines: int = 0
    accepted: int = 0
    refused: int = 0
    resume_from: int | None = None  # set when the run stopped before the end
    refused_lines: list[int] = field(default_factory=list)  # the first few, for the summary

    def text(self) -> str:
        shown = ", ".join(str(line) for line in self.refused_lines)
        more = " ..." if self.refused > len(self.refused_lines) else ""
        lines = [
            f"{self.lines:,} lines read from line {self.first_line}: {self.accepted:,} accepted, {self.refused:,} refused",
        ]
        if self.refused:
            lines.append(f"refused lines: {shown}{more} (each with its reason above)")
        if self.resume_from is not None:
            lines.append(f"stopped before the end: resume with --from-line {self.resume_from}")
        return "\n".join(lines)


def entry_of(line: str) -> Entry:
    """The PutEvents entry for one line, validated as the records function would; RecordEventRefused if not."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError as error:
        raise RecordEventRefused(f"not JSON: {error.msg} at column {error.colno}", field="line") from None
    if not isinstance(event, dict) or set(event) != {"source", "detail-type", "detail"}:
        raise RecordEventRefused('a line is one object: {"source", "detail-type", "detail"}', field="line")
    parse_record_event(event)
    return {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"])}


def _numbered(lines: Iterable[str], first_line: int) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(lines, start=1):
        if number >= first_line and line.strip():
            yield number, line


def load(
    lines: Iterable[str],
    send: Send | None,
    *,
    first_line: int = 1,
    out: TextIO | None = None,
    progress: TextIO | None = None,
) -> Summary:
    """Every line from `first_line` on, validated, and (unless `send` is None: a check only) sent. Refusals
    go to `out` (stdout), progress to `progress` (stderr)."""
    out = out or sys.stdout
    progress = progress or sys.stderr
    summary = Summary(first_line=first_line)
    batch: list[tuple[int, Entry]] = []
    shown_at = time.monotonic()

    def refused(number: int, reason: str) -> None:
        summary.refused += 1
        if len(summary.refused_lines) < 20:
            summary.refused_lines.append(number)
        print(f"line {number} refused: {reason}", file=out)

    def flush() -> None:
        if send is not None and batch:
            for (number, _), failure in zip(batch, send([entry for _, entry in batch]), strict=True):
                if failure is None:
                    summary.accepted += 1
                else:
                    refused(number, f"the bus refused it: {failure}")
        elif send is None:
            summary.accepted += len(batch)
        batch.clear()

    read_to = first_line - 1
    try:
        for number, line in _numbered(lines, first_line):
            read_to = number
            summary.lines += 1
            try:
                batch.append((number, entry_of(line)))
            except RecordEventRefused as error:
                refused(number, error.message)
            if len(batch) == BATCH:
                flush()
            if time.monotonic() - shown_at > PROGRESS_SECONDS:
                shown_at = time.monotonic()
                print(f"... line {number:,}: {summary.accepted:,} accepted, {summary.refused:,} refused", file=progress)
        flush()
    except (KeyboardInterrupt, requests.RequestException, OSError) as stopped:
        summary.resume_from = batch[0][0] if batch else read_to + 1
        print(f"stopped: {type(stopped).__name__}: {stopped}", file=out)
    return summary


def local_sender(base_url: str, session: requests.Session | None = None) -> Send:
    """POST /_local/events of a running `refund-local serve`."""
    client = session or requests.Session()

    def send(entries: list[Entry]) -> list[str | None]:
        response = client.post(f"{base_url.rstrip('/')}/_local/events", json={"Entries": entries}, timeout=60)
        response.raise_for_status()
        return _failures(response.json()["Entries"])

    return send


def bus_sender(event_bus: str, events_client: Any) -> Send:
    """PutEvents on a deployed stack's bus (the stack's EventBusName output), with the caller's credentials."""

    def send(entries: list[Entry]) -> list[str | None]:
        response = events_client.put_events(Entries=[entry | {"EventBusName": event_bus} for entry in entries])
        return _failures(response["Entries"])

    return send


def _failures(results: list[dict[str, Any]]) -> list[str | None]:
    return [f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}" if "ErrorCode" in result else None
            for result in results]  # fmt: skip
