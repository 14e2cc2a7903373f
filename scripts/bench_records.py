"""Customer records events (RECORDS.md) in `make bench`: applied per second by one records function (in this
process, against moto) with the AWS calls each takes, and by the local stack end to end (POST /_local/events
→ rule → queue → function), their cost per 1,000 events at list prices, and `refund-ops load-events`'s
time and peak memory for 10,000 and 100,000 lines (memory must not grow with the file)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

REGION = "ap-southeast-1"
EVENTS_IN_PROCESS = 500
EVENTS_LOCAL = 1000
BULK_LINES = (10_000, 100_000)
PRICE = {
    "event": 1.00 / 1_000_000,  # EventBridge custom event
    "sqs_request": 0.40 / 1_000_000,
    "lambda_request": 0.20 / 1_000_000,
    "lambda_gb_second": 0.0000133334,
    "write_unit": 0.625 / 1_000_000,
}
LAMBDA_GB = 0.5


def events(count: int, run: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """A realistic mix: a profile, an order, its payment and usage, a ticket, per customer, and more usage."""
    now = datetime.now(UTC)
    for index in range(count):
        customer, order = f"c-{run}-{index // 8}", f"o-{run}-{index // 8}"
        at = (now - timedelta(minutes=count - index)).isoformat()
        match index % 8:
            case 0:
                yield "smart-security.accounts", "CustomerUpserted", {"username": customer, "email": "c@example.com",
                                                                       "asOf": at}  # fmt: skip
            case 1:
                yield "smart-security.billing", "OrderPlaced", {
                    "orderId": order, "username": customer, "orderedAt": at, "amount": "59.99", "currency": "USD",
                    "paymentChannel": "card", "kind": "new", "servicePeriodDays": 365,
                }  # fmt: skip
            case 2:
                yield "smart-security.billing", "PaymentStateChanged", {"orderId": order, "paymentState": "settled",
                                                                         "asOf": at}  # fmt: skip
            case 3:
                yield "smart-security.support", "SupportTicketUpdated", {
                    "ticketId": f"T-{order}", "username": customer, "openedAt": at, "category": "technical",
                    "officialResponse": "cannot_fix", "asOf": at,
                }  # fmt: skip
            case _:
                yield "smart-security.usage", "UsageReported", {"orderId": order, "trafficBytes": index,
                                                                 "connections": index % 8, "asOf": at}  # fmt: skip


@dataclass(frozen=True)
class InProcess:
    per_second: float
    calls_per_event: dict[str, float]
    seconds_per_batch: float


def one_function() -> InProcess:
    """The records handler, batches of 10 as its event source mapping sends them, against moto."""
    from bench_aws import counted_calls  # noqa: PLC0415

    from refund_local.handlers import LambdaContext, load_handler  # noqa: PLC0415
    from refund_local.queues import sqs_event  # noqa: PLC0415
    from refund_local.stack import LocalAws  # noqa: PLC0415

    stack = LocalAws(execute_state_machine=False)
    stack.start()
    try:
        handler = load_handler("functions/records/")
        envelopes = [
            {"version": "0", "id": str(uuid.uuid4()), "source": source, "detail-type": kind, "detail": detail}
            for source, kind, detail in events(EVENTS_IN_PROCESS, "p")
        ]
        batches = [envelopes[start : start + 10] for start in range(0, len(envelopes), 10)]
        calls: Counter[str] = Counter()
        started = time.perf_counter()
        with counted_calls() as counted:
            for batch in batches:
                messages = [
                    {"MessageId": str(uuid.uuid4()), "ReceiptHandle": "r", "Body": json.dumps(envelope)}
                    for envelope in batch
                ]
                answer = handler(sqs_event(messages, "arn:aws:sqs:ap-southeast-1:123456789012:RecordsQueue"),
                                 LambdaContext())  # fmt: skip
                if answer["batchItemFailures"]:
                    raise SystemExit(f"bench: the records function failed {answer['batchItemFailures']}")
            calls.update(counted)
        elapsed = time.perf_counter() - started
    finally:
        stack.stop()
    return InProcess(
        per_second=len(envelopes) / elapsed,
        calls_per_event={name: count / len(envelopes) for name, count in calls.items()},
        seconds_per_batch=elapsed / len(batches),
    )


def local_stack() -> float:
    """Events per second through the local stack: put on its bus 10 a call, until its records queue is empty."""
    from refund_local.subprocess_server import serve_in_subprocess  # noqa: PLC0415
    from refund_ops.bulk import local_sender  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as directory, serve_in_subprocess(Path(directory), {"customers": []}) as base:
        session = requests.Session()
        send = local_sender(base, session)
        entries = [
            {"Source": source, "DetailType": kind, "Detail": json.dumps(detail)}
            for source, kind, detail in events(EVENTS_LOCAL, "l")
        ]
        started = time.perf_counter()
        for start in range(0, len(entries), 10):
            if any(send(entries[start : start + 10])):
                raise SystemExit("bench: the local bus refused an event")
        while session.get(f"{base}/_local/dead-letters", timeout=30).json()["waiting"]:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        if letters := session.get(f"{base}/_local/dead-letters", timeout=30).json()["deadLetters"]:
            raise SystemExit(f"bench: {len(letters)} events refused: {letters[0]}")
    return len(entries) / elapsed


def cost_per_1000(measured: InProcess) -> dict[str, float]:
    """Per 1,000 events: each put on the bus once, sent to the queue by EventBridge, received and deleted 10 at
    a time, applied by one Lambda invocation per 10 with the writes it makes (one unit each, under 1 KB)."""
    writes = measured.calls_per_event.get("dynamodb:UpdateItem", 0.0)
    return {
        "EventBridge": 1000 * PRICE["event"],
        "SQS": 1000 * (1 + 0.2) * PRICE["sqs_request"],
        "Lambda": 100 * (PRICE["lambda_request"] + measured.seconds_per_batch * LAMBDA_GB * PRICE["lambda_gb_second"]),
        "DynamoDB": 1000 * writes * PRICE["write_unit"],
    }


_MEASURE = """
import resource, sys, time
from refund_ops.cli import main
started = time.perf_counter()
code = main(["load-events", sys.argv[1], "--check-only"])
print(time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, code)
"""


def bulk_command() -> list[tuple[int, float, float]]:
    """(lines, seconds, peak MiB) of `load-events --check-only`, each in a fresh process."""
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for lines in BULK_LINES:
            path = Path(directory) / f"events-{lines}.jsonl"
            with path.open("w", encoding="utf-8") as file:
                for source, kind, detail in events(lines, "b"):
                    file.write(json.dumps({"source": source, "detail-type": kind, "detail": detail}) + "\n")
            done = subprocess.run(
                [sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, check=True
            )
            seconds, peak_kib, code = done.stdout.strip().splitlines()[-1].split()
            if code != "0":
                raise SystemExit(f"bench: load-events refused lines of its own file: {done.stdout[-500:]}")
            rows.append((lines, float(seconds), int(peak_kib) / 1024))
    return rows
