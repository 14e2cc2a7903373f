"""Which emails a change of a request item calls for (docs/design.md "Emails"), from stream records."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from boto3.dynamodb.types import TypeSerializer

from refund_core.calendar import review_timeline
from refund_core.emails import EmailKind
from refund_core.models import Decision, RefundRequest, RefundType, RequestStatus
from refund_core.money import Money
from refund_core.notifications import RequestChange, decided_event_detail, email_kinds, request_change
from refund_core.policy import Policy
from refund_core.repository import request_item

if TYPE_CHECKING:
    from conftest import ClaimBuilder

HK = ZoneInfo("Asia/Hong_Kong")
RECEIVED = datetime(2026, 11, 28, 10, 15, tzinfo=HK)
_serializer = TypeSerializer()


@pytest.fixture
def request_(claim: ClaimBuilder, policy: Policy) -> RefundRequest:
    facts = claim.facts(received_at=RECEIVED)
    timeline = review_timeline(RECEIVED, policy)
    return RefundRequest(
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


def decided(request: RefundRequest, status: RequestStatus) -> RefundRequest:
    decision = Decision(
        refund_type=RefundType.FULL if status is RequestStatus.APPROVED else None,
        amount=request.amount_paid if status is RequestStatus.APPROVED else None,
        reasons=() if status is RequestStatus.APPROVED else ("No.",),
        decided_at=RECEIVED,
        decided_by="auto",
    )
    return request.model_copy(update={"status": status, "decision": decision, "version": request.version + 1})


def image(request: RefundRequest) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in request_item(request).items()}


def record(event_name: str, new: RefundRequest | None, old: RefundRequest | None) -> dict[str, Any]:
    some = new or old
    assert some is not None
    stream: dict[str, Any] = {"Keys": {"pk": {"S": f"REQUEST#{some.request_id}"}, "sk": {"S": "REQUEST"}}}
    if new is not None:
        stream["NewImage"] = image(new)
    if old is not None:
        stream["OldImage"] = image(old)
    return {"eventName": event_name, "dynamodb": stream}


def kinds(event_name: str, new: RefundRequest | None, old: RefundRequest | None = None) -> tuple[EmailKind, ...]:
    change = request_change(record(event_name, new, old))
    assert change is not None
    return email_kinds(change)


def test_stream_images_read_back_as_the_request(request_: RefundRequest) -> None:
    change = request_change(record("MODIFY", decided(request_, RequestStatus.APPROVED), request_))
    assert change == RequestChange(event_name="MODIFY", old=request_, new=decided(request_, RequestStatus.APPROVED))


def test_items_other_than_requests_are_not_changes() -> None:
    keys = {"pk": {"S": "REQUEST#rr_1"}, "sk": {"S": "HISTORY#2026-11-28T02:15:00.000+00:00#00-received"}}
    assert request_change({"eventName": "INSERT", "dynamodb": {"Keys": keys, "NewImage": keys}}) is None
    claim_keys = {"pk": {"S": "CUSTOMER#alice"}, "sk": {"S": "OPEN_CLAIM"}}
    assert request_change({"eventName": "INSERT", "dynamodb": {"Keys": claim_keys}}) is None


def test_insert_of_a_pending_request_is_acknowledged(request_: RefundRequest) -> None:
    assert kinds("INSERT", request_) == (EmailKind.ACKNOWLEDGEMENT,)


@pytest.mark.parametrize("status", [RequestStatus.APPROVED, RequestStatus.REFUSED])
def test_insert_decided_at_once_gets_only_the_decision(request_: RefundRequest, status: RequestStatus) -> None:
    assert kinds("INSERT", decided(request_, status)) == (EmailKind.DECISION,)


@pytest.mark.parametrize("status", [RequestStatus.APPROVED, RequestStatus.REFUSED])
def test_a_decision_by_a_reviewer(request_: RefundRequest, status: RequestStatus) -> None:
    assert kinds("MODIFY", decided(request_, status), request_) == (EmailKind.DECISION,)


def test_cancellation(request_: RefundRequest) -> None:
    cancelled = request_.model_copy(update={"status": RequestStatus.CANCELLED, "version": 2})
    assert kinds("MODIFY", cancelled, request_) == (EmailKind.CANCELLATION,)


def test_reminder_and_escalation_while_pending(request_: RefundRequest) -> None:
    reminded = request_.model_copy(update={"reminded": True})
    overdue = reminded.model_copy(update={"overdue": True})
    assert kinds("MODIFY", reminded, request_) == (EmailKind.REMINDER,)
    assert kinds("MODIFY", overdue, reminded) == (EmailKind.ESCALATION,)


def test_changes_that_call_for_no_email(request_: RefundRequest) -> None:
    reassessed = request_.model_copy(update={"version": 2})
    approved = decided(request_, RequestStatus.APPROVED)
    assert kinds("MODIFY", reassessed, request_) == ()
    assert kinds("MODIFY", request_, request_) == ()
    assert kinds("REMOVE", None, request_) == ()
    # Flags set on a request no longer pending (not something the workflow does, but never an email).
    assert kinds("MODIFY", approved.model_copy(update={"reminded": True}), approved) == ()
    assert kinds("MODIFY", approved.model_copy(update={"version": 3}), approved) == ()


def test_refund_decided_detail(request_: RefundRequest) -> None:
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
