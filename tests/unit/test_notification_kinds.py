"""Which emails a change of a request item calls for (docs/design.md "Emails"), from stream records as the
notifier's batch processor parses them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from boto3.dynamodb.types import TypeSerializer
from pydantic import ValidationError

from refund_core.adapters.records import RequestRecord, RequestStreamRecord
from refund_core.adapters.repository import request_item
from refund_core.app.outbox import decided_event_detail
from refund_core.policy.calendar import review_timeline
from refund_core.policy.document import Policy
from refund_core.policy.emails import EmailKind, emails_owed
from refund_core.policy.models import Decision, RefundType, RequestStatus
from refund_core.policy.money import Money

if TYPE_CHECKING:
    from conftest import ClaimBuilder

HK = ZoneInfo("Asia/Hong_Kong")
RECEIVED = datetime(2026, 11, 28, 10, 15, tzinfo=HK)
_serializer = TypeSerializer()


@pytest.fixture
def request_(claim: ClaimBuilder, policy: Policy) -> RequestRecord:
    facts = claim.facts(received_at=RECEIVED)
    timeline = review_timeline(RECEIVED, policy)
    return RequestRecord(
        request_id="rr_1",
        order_id="O-1",
        username="alice",
        customer_email="alice@example.com",
        reason="Too slow.",
        support_ticket_id="T-1",
        status=RequestStatus.PENDING,
        received_at=RECEIVED,
        deadline=timeline.deadline,
        reminder_at=timeline.reminder_at,
        assessment=claim.assess(facts),
        amount_paid=facts.order.amount_paid,
        payment_channel="card",
    )


def decided(request: RequestRecord, status: RequestStatus) -> RequestRecord:
    decision = Decision(
        refund_type=RefundType.FULL if status is RequestStatus.APPROVED else None,
        amount=request.amount_paid if status is RequestStatus.APPROVED else None,
        reasons=() if status is RequestStatus.APPROVED else ("No.",),
        decided_at=RECEIVED,
        decided_by="auto",
    )
    return request.model_copy(update={"status": status, "decision": decision, "version": request.version + 1})


def image(request: RequestRecord) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in request_item(request).items()}


def record(event_name: str, new: RequestRecord | None, old: RequestRecord | None) -> dict[str, Any]:
    some = new or old
    assert some is not None
    keys = {"pk": {"S": f"REQUEST#{some.request_id}"}, "sk": {"S": "REQUEST"}}
    return stream_record(event_name, keys, image(new) if new else None, image(old) if old else None)


def stream_record(
    event_name: str, keys: dict[str, Any], new: dict[str, Any] | None, old: dict[str, Any] | None
) -> dict[str, Any]:
    """A record as Lambda delivers it from the requests table's stream."""
    stream: dict[str, Any] = {"Keys": keys, "SequenceNumber": "1", "SizeBytes": 100}
    stream["StreamViewType"] = "NEW_AND_OLD_IMAGES"
    if new is not None:
        stream["NewImage"] = new
    if old is not None:
        stream["OldImage"] = old
    return {
        "eventID": "1",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "ap-southeast-1",
        "eventSourceARN": "arn:aws:dynamodb:ap-southeast-1:123456789012:table/RequestsTable/stream/1",
        "dynamodb": stream,
    }


def kinds(event_name: str, new: RequestRecord | None, old: RequestRecord | None = None) -> tuple[EmailKind, ...]:
    change = RequestStreamRecord.model_validate(record(event_name, new, old)).dynamodb
    return emails_owed(change.OldImage, change.NewImage)


def test_stream_images_read_back_as_the_request(request_: RequestRecord) -> None:
    change = RequestStreamRecord.model_validate(record("MODIFY", decided(request_, RequestStatus.APPROVED), request_))
    assert (change.dynamodb.OldImage, change.dynamodb.NewImage) == (request_, decided(request_, RequestStatus.APPROVED))


def test_items_other_than_requests_are_no_requests() -> None:
    keys = {"pk": {"S": "REQUEST#rr_1"}, "sk": {"S": "HISTORY#2026-11-28T02:15:00.000+00:00#00-received"}}
    entry = {**keys, "at": {"S": "2026-11-28T02:15:00.000+00:00"}, "event": {"S": "received"}, "by": {"S": "alice"}}
    change = RequestStreamRecord.model_validate(stream_record("INSERT", keys, entry, None)).dynamodb
    assert not isinstance(change.NewImage, RequestRecord)


def test_a_request_item_that_breaks_the_model_fails_its_record(request_: RequestRecord) -> None:
    broken = record("INSERT", request_, None)
    broken["dynamodb"]["NewImage"]["status"] = {"S": "LOST"}
    with pytest.raises(ValidationError):
        RequestStreamRecord.model_validate(broken)


def test_insert_of_a_pending_request_is_acknowledged(request_: RequestRecord) -> None:
    assert kinds("INSERT", request_) == (EmailKind.ACKNOWLEDGEMENT,)


@pytest.mark.parametrize("status", [RequestStatus.APPROVED, RequestStatus.REFUSED])
def test_insert_decided_at_once_gets_only_the_decision(request_: RequestRecord, status: RequestStatus) -> None:
    assert kinds("INSERT", decided(request_, status)) == (EmailKind.DECISION,)


@pytest.mark.parametrize("status", [RequestStatus.APPROVED, RequestStatus.REFUSED])
def test_a_decision_by_a_reviewer(request_: RequestRecord, status: RequestStatus) -> None:
    assert kinds("MODIFY", decided(request_, status), request_) == (EmailKind.DECISION,)


def test_cancellation(request_: RequestRecord) -> None:
    cancelled = request_.model_copy(update={"status": RequestStatus.CANCELLED, "version": 2})
    assert kinds("MODIFY", cancelled, request_) == (EmailKind.CANCELLATION,)


def test_reminder_and_escalation_while_pending_and_the_customers_apology_when_overdue(request_: RequestRecord) -> None:
    reminded = request_.model_copy(update={"reminded": True})
    overdue = reminded.model_copy(update={"overdue": True})
    assert kinds("MODIFY", reminded, request_) == (EmailKind.REMINDER,)
    assert kinds("MODIFY", overdue, reminded) == (EmailKind.ESCALATION, EmailKind.DELAY)


def test_changes_that_call_for_no_email(request_: RequestRecord) -> None:
    reassessed = request_.model_copy(update={"version": 2})
    approved = decided(request_, RequestStatus.APPROVED)
    assert kinds("MODIFY", reassessed, request_) == ()
    assert kinds("MODIFY", request_, request_) == ()
    assert kinds("REMOVE", None, request_) == ()
    # Flags set on a request no longer pending (not something the workflow does, but never an email).
    assert kinds("MODIFY", approved.model_copy(update={"reminded": True}), approved) == ()
    assert kinds("MODIFY", approved.model_copy(update={"version": 3}), approved) == ()


def test_refund_decided_detail(request_: RequestRecord) -> None:
    partial = decided(request_, RequestStatus.APPROVED)
    assert partial.decision is not None
    partial = partial.model_copy(
        update={
            "decision": partial.decision.model_copy(
                update={"refund_type": RefundType.PARTIAL, "amount": Money.of("12.30", "USD")}
            )
        }
    )
    assert decided_event_detail(partial) == {
        "requestId": "rr_1",
        "orderId": "O-1",
        "username": "alice",
        "status": "APPROVED",
        "refundType": "PARTIAL",
        "amount": {"amount": "12.30", "currency": "USD"},
    }
    assert decided_event_detail(decided(request_, RequestStatus.REFUSED))["amount"] is None
