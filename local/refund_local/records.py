"""The customer records' way in, locally (RECORDS.md "Locally"): `POST /_local/events` puts events on the
emulated bus as EventBridge's PutEvents does (the template's rule routes them to the records queue, whose
poller hands them to the records function), and `GET /_local/dead-letters` lists what the records
dead-letter queue holds, each event with the reason it was refused."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from refund_local.environment import REGION

MAX_ENTRIES = 10  # PutEvents' own limit


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def _invalid(message: str) -> Answer:
    # What PutEvents answers a malformed request with.
    return Answer(400, {"__type": "ValidationException", "message": message})


def put_events(events_client: Any, bus_name: str, body: bytes) -> Answer:
    """PutEvents' body (`{"Entries": [{"Source", "DetailType", "Detail"}]}`, at most 10) onto the bus."""
    try:
        request = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        return _invalid("the body is not JSON (or nests deeper than JSON readers go)")
    entries = request.get("Entries") if isinstance(request, dict) else None
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_ENTRIES:
        return _invalid(f"Entries must be a list of 1 to {MAX_ENTRIES} entries")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(name), str) for name in ("Source", "DetailType", "Detail")
        ):
            return _invalid(f"Entries[{index}] must have Source, DetailType and Detail (a JSON string)")
        if set(entry) - {"Source", "DetailType", "Detail", "Time", "Resources"}:
            return _invalid(f"Entries[{index}] has fields PutEvents does not take")
    # As EventBridge does, an entry whose Detail is no JSON object fails alone; the others are put.
    answers: list[dict[str, str] | None] = [None if _json_object(entry["Detail"]) else _MALFORMED for entry in entries]
    sent = [
        entry | {"EventBusName": bus_name} for entry, answer in zip(entries, answers, strict=True) if answer is None
    ]
    put = iter(events_client.put_events(Entries=sent)["Entries"] if sent else [])
    results = [answer or next(put) for answer in answers]
    failed = sum("ErrorCode" in result for result in results)
    return Answer(200, {"FailedEntryCount": failed, "Entries": results})


_MALFORMED = {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}


def _json_object(detail: str) -> bool:
    try:
        return isinstance(json.loads(detail), dict)
    except (json.JSONDecodeError, RecursionError):
        return False


def waiting(queue_name: str) -> int:
    """How many events the records queue holds (to apply, or being applied)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415 - the emulator's own record, in this process
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    return len(sqs_backends[DEFAULT_ACCOUNT_ID][REGION].get_queue(queue_name)._messages)


def dead_letters(queue_name: str) -> list[dict[str, Any]]:
    """What the records dead-letter queue holds, oldest first, read from the emulator's own record (nothing is
    received: it stays there): each event whole, with its reason (or, for an event that failed its tries,
    that it did)."""
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415 - the emulator's own record, in this process
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    queue = sqs_backends[DEFAULT_ACCOUNT_ID][REGION].get_queue(queue_name)
    letters = []
    for message in sorted(queue._messages, key=lambda kept: kept.sent_timestamp or 0):
        kept_at = datetime.fromtimestamp((message.sent_timestamp or 0) / 1000, UTC).isoformat()
        try:
            body = json.loads(message.body)
        except json.JSONDecodeError:
            body = message.body
        if isinstance(body, dict) and {"reason", "field", "event"} <= set(body):
            try:
                event = json.loads(body["event"])
            except (json.JSONDecodeError, TypeError):
                event = body["event"]
            letters.append({"reason": body["reason"], "field": body["field"], "event": event, "keptAt": kept_at})
        else:
            letters.append({"reason": "not applied after the queue's tries", "field": None, "event": body,
                            "keptAt": kept_at})  # fmt: skip
    return letters
