"""The notifier fed the committed events/stream_*.json and the table's real stream, on moto built from
template.yaml: each effect a change owes goes onto the delivery queue (the outbox delivers it:
test_outbox.py), a pending request's review-deadline workflow is started (the repair of a submit whose own
start failed), a request's workflow is stopped once it is decided or cancelled, and nothing else of the table
calls for anything."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from api_support import notifier_records, queued_deliveries, seed_order, table_stream_records
from botocore.exceptions import ClientError

from refund_core.adapters import clients, received_days
from refund_core.adapters.records import ReceivedDay
from refund_core.app import claims, service
from refund_core.app.inputs import SubmitRefundRequest
from refund_core.http.identity import Caller
from refund_local.environment import REGION
from refund_local.handlers import invoke
from refund_local.paths import REPO_ROOT
from refund_local.stack import LocalAws

NOTIFIER = "functions/notifier/"
EVENTS = REPO_ROOT / "events"
ALICE = "rr_01KB4Q7M2X9T3V8E6R5W1Z0H4N"  # pending → reminded → overdue → approved in part (card)
BOB = "rr_01KB9D3F6G8H2J4K5M7N9P1Q3R"  # pending → cancelled
CAROL = "rr_01KBB8S2T4V6W8X0Y2Z4A6B8C0"  # App Store order, refused at once


def stream_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(Path(EVENTS / f"stream_{name}.json").read_text(encoding="utf-8"))
    return event


def notify(*names: str) -> dict[str, Any]:
    records = [record for name in names for record in stream_event(name)["Records"]]
    response: dict[str, Any] = invoke(NOTIFIER, {"Records": notifier_records(records)})
    return response


def executions(stack: LocalAws) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    found: list[dict[str, Any]] = sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]
    return found


def effects_queued() -> list[tuple[str, str]]:
    return sorted((delivery["requestId"], delivery["effect"]) for delivery in queued_deliveries())


def test_a_pending_request_has_its_workflow_started_and_its_acknowledgement_queued(stack: LocalAws) -> None:
    assert notify("insert_pending") == {"batchItemFailures": []}

    assert effects_queued() == [(ALICE, "email#acknowledgement")]
    (execution,) = executions(stack)
    assert execution["name"] == ALICE
    described = boto3.client("stepfunctions", region_name=REGION).describe_execution(
        executionArn=execution["executionArn"]
    )
    assert json.loads(described["input"]) == {
        "requestId": ALICE,
        "reminderAt": "2026-12-09T16:00:00Z",
        "deadline": "2026-12-11T16:00:00Z",
        "tries": 0,
    }
    # Again (the stream redelivers): the workflow is not started twice (its name is the request id).
    assert notify("insert_pending") == {"batchItemFailures": []}
    assert len(executions(stack)) == 1


@pytest.mark.parametrize(
    ("event", "effects"),
    [
        ("decided", [(ALICE, "email#decision"), (ALICE, "event#RefundDecided")]),
        ("refused", [(CAROL, "email#decision"), (CAROL, "event#RefundDecided")]),
        ("cancelled", [(BOB, "email#cancellation")]),
        ("reminded", [(ALICE, "email#reminder")]),
        ("overdue", [(ALICE, "email#delay"), (ALICE, "email#escalation")]),
    ],
)
def test_each_effect_a_change_owes_is_queued_and_no_workflow_started(
    stack: LocalAws, event: str, effects: list[tuple[str, str]]
) -> None:
    assert notify(event) == {"batchItemFailures": []}
    assert effects_queued() == effects
    assert executions(stack) == []


def test_the_filter_passes_only_new_requests_and_new_owed_effects() -> None:
    records = [record for name in ("decided", "reminded") for record in stream_event(name)["Records"]]
    passed = notifier_records(records)
    # The decision's MODIFY (PENDING → APPROVED) passes, to stop the workflow; the reminder's (PENDING → PENDING)
    # does not.
    assert [(record["eventName"], record["dynamodb"]["Keys"]["sk"]["S"]) for record in passed] == [
        ("MODIFY", "REQUEST"),
        ("INSERT", "OWED#email#decision"),
        ("INSERT", "OWED#event#RefundDecided"),
        ("INSERT", "OWED#email#reminder"),
    ]


def test_items_other_than_requests_and_owed_effects_call_for_nothing(stack: LocalAws) -> None:
    history_record = json.loads(json.dumps(stream_event("insert_pending")["Records"][0]))
    history_record["dynamodb"]["Keys"]["sk"] = {"S": "HISTORY#2026-11-28T02:15:00.000+00:00#00-received"}
    history_record["dynamodb"]["NewImage"] = {
        "pk": history_record["dynamodb"]["Keys"]["pk"],
        "sk": history_record["dynamodb"]["Keys"]["sk"],
        "at": {"S": "2026-11-28T02:15:00.000+00:00"},
        "event": {"S": "received"},
        "by": {"S": "alice"},
    }
    assert invoke(NOTIFIER, {"Records": [history_record]}) == {"batchItemFailures": []}
    assert effects_queued() == []
    assert executions(stack) == []


def service_levels_of(day: date) -> ReceivedDay | None:
    found = received_days.received_between(day, day)
    return found[0][1] if found else None


def test_a_request_counts_once_it_ends_in_the_service_levels_of_the_day_it_was_received_on(stack: LocalAws) -> None:
    alice_day, bob_day, carol_day = date(2026, 11, 28), date(2026, 12, 1), date(2026, 12, 2)  # in Hong Kong
    assert notify("insert_pending", "reminded") == {"batchItemFailures": []}
    assert service_levels_of(alice_day) is None  # open: a report counts it from the open requests

    # Alice's approved in part (USD 57.49) after her deadline, Bob's cancelled, Carol's refused at once; the
    # stream gives each change again, as it may after a failure.
    for _ in range(2):
        assert notify("insert_pending", "decided", "cancelled", "refused") == {"batchItemFailures": []}
    assert service_levels_of(alice_day) == ReceivedDay(
        received=1, approved=1, decided_on={date(2026, 12, 14): 1}, refunded={"USD": Decimal("57.49")}
    )
    assert service_levels_of(bob_day) == ReceivedDay(received=1, cancelled=1)
    assert service_levels_of(carol_day) == ReceivedDay(
        received=1, refused=1, decided_automatically=1, decided_in_time=1, decided_on={carol_day: 1}
    )


def test_a_queue_that_refuses_fails_only_its_record(stack: LocalAws) -> None:
    def refuse_bob(params: dict[str, Any], **_: Any) -> None:
        if any(BOB in entry["MessageBody"] for entry in params["Entries"]):
            raise ClientError({"Error": {"Code": "InternalError", "Message": "try again"}}, "SendMessageBatch")

    events = clients.sqs().meta.events
    events.register("before-parameter-build.sqs.SendMessageBatch", refuse_bob, unique_id="refuse-queue")
    try:
        response = notify("cancelled", "insert_pending")
    finally:
        events.unregister("before-parameter-build.sqs.SendMessageBatch", unique_id="refuse-queue")
    (owed,) = [r for r in stream_event("cancelled")["Records"] if r["dynamodb"]["Keys"]["sk"]["S"].startswith("OWED#")]
    assert response == {"batchItemFailures": [{"itemIdentifier": owed["dynamodb"]["SequenceNumber"]}]}
    assert effects_queued() == [(ALICE, "email#acknowledgement")]
    assert notify("cancelled") == {"batchItemFailures": []}  # the stream retries it
    assert effects_queued() == [(ALICE, "email#acknowledgement"), (BOB, "email#cancellation")]


def test_the_real_table_stream_of_a_submitted_then_cancelled_request(stack: LocalAws) -> None:
    received = datetime.now(UTC)
    seed_order("ord-4004", "dana", days_ago=3, traffic_bytes=None, ticket_id="T-5")  # unknown traffic: review
    dana = Caller(username="dana", email="dana@example.com", groups=frozenset())
    command = SubmitRefundRequest(order_id="ord-4004", reason="Too slow.", support_ticket_id="T-5")
    request = claims.submit_refund_request(dana, command, now=received)
    service.cancel_refund_request(dana, request.request_id, now=received + timedelta(minutes=1))

    stream = table_stream_records()
    assert invoke(NOTIFIER, {"Records": notifier_records(stream)}) == {"batchItemFailures": []}

    assert effects_queued() == [
        (request.request_id, "email#acknowledgement"),
        (request.request_id, "email#cancellation"),
    ]
    assert [execution["name"] for execution in executions(stack)] == [request.request_id]


def _pending_request_with_its_workflow(username: str, order_id: str, received: datetime) -> str:
    seed_order(order_id, username, days_ago=3, traffic_bytes=None, ticket_id=f"T-{order_id}")  # unknown traffic
    caller = Caller(username=username, email=f"{username}@example.com", groups=frozenset())
    command = SubmitRefundRequest(order_id=order_id, reason="Too slow.", support_ticket_id=f"T-{order_id}")
    request = claims.submit_refund_request(caller, command, now=received)
    assert request.status == "PENDING"
    return request.request_id


def _status(stack: LocalAws, request_id: str) -> str:
    (execution,) = [execution for execution in executions(stack) if execution["name"] == request_id]
    return str(execution["status"])


def test_a_cancelled_request_has_its_workflow_stopped_so_it_bills_no_more_transitions(stack: LocalAws) -> None:
    received = datetime.now(UTC)
    request_id = _pending_request_with_its_workflow("erin", "ord-4005", received)
    assert _status(stack, request_id) == "RUNNING"
    erin = Caller(username="erin", email="erin@example.com", groups=frozenset())
    service.cancel_refund_request(erin, request_id, now=received + timedelta(minutes=1))

    assert invoke(NOTIFIER, {"Records": notifier_records(table_stream_records())}) == {"batchItemFailures": []}

    assert _status(stack, request_id) == "ABORTED"
    assert effects_queued() == [(request_id, "email#acknowledgement"), (request_id, "email#cancellation")]


def test_a_stop_that_fails_leaves_the_workflow_to_end_by_itself_and_fails_no_record(stack: LocalAws) -> None:
    received = datetime.now(UTC)
    request_id = _pending_request_with_its_workflow("fay", "ord-4006", received)
    fay = Caller(username="fay", email="fay@example.com", groups=frozenset())
    service.cancel_refund_request(fay, request_id, now=received + timedelta(minutes=1))

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "StopExecution")

    events = clients.stepfunctions().meta.events
    events.register("before-parameter-build.sfn.StopExecution", refuse, unique_id="refuse-stop")
    try:
        response = invoke(NOTIFIER, {"Records": notifier_records(table_stream_records())})
    finally:
        events.unregister("before-parameter-build.sfn.StopExecution", unique_id="refuse-stop")

    assert response == {"batchItemFailures": []}
    assert _status(stack, request_id) == "RUNNING"  # it finds the request cancelled at its next step
    assert effects_queued() == [(request_id, "email#acknowledgement"), (request_id, "email#cancellation")]
