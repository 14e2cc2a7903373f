"""Write events/stream_*.json: RequestsTable stream events for `sam local invoke NotifierFunction -e ...` and
the notifier's tests, built from real request records (the rules assess real facts) through
`repository.request_item`, so the images are what the service writes: each change of a request with the
INSERT of every effect it owes (written in the same transaction). Rerun after a model change:

    PYTHONPATH=layers/refund_core python scripts/make_stream_events.py

One story per customer: alice's claim (partial path: too much traffic) is acknowledged, reminded, overdue,
then approved in part; bob cancels his; carol's App Store order is refused at once, for several reasons."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from boto3.dynamodb.types import TypeSerializer

from refund_core.adapters.records import Effect, OwedEffect, RequestRecord
from refund_core.adapters.repository import request_item
from refund_core.policy.calendar import review_timeline
from refund_core.policy.document import shipped_policy
from refund_core.policy.models import (
    ClaimFacts,
    Customer,
    Decision,
    EarlierClaim,
    Order,
    PaymentState,
    RefundType,
    RequestStatus,
    SupportTicket,
    Usage,
    utc_iso,
)
from refund_core.policy.money import Money
from refund_core.policy.rules import assess

EVENTS = Path(__file__).resolve().parents[1] / "events"
HK = ZoneInfo("Asia/Hong_Kong")
GB = 1_000_000_000
REGION = "ap-southeast-1"
STREAM_ARN = f"arn:aws:dynamodb:{REGION}:123456789012:table/RequestsTable/stream/2026-11-01T00:00:00.000"
_serializer = TypeSerializer()


def request(
    request_id: str,
    *,
    username: str,
    order_id: str,
    amount: str,
    currency: str,
    channel: str,
    received_at: datetime,
    ordered_at: datetime,
    traffic: int,
    connections: int,
    reason: str,
    ticket: SupportTicket | None,
    earlier: tuple[EarlierClaim, ...] = (),
) -> RequestRecord:
    policy = shipped_policy()
    order = Order(
        order_id=order_id,
        username=username,
        ordered_at=ordered_at,
        amount_paid=Money.of(amount, currency),
        payment_channel=channel,
        kind="new",
        service_period_days=365,
        payment_state=PaymentState.SETTLED,
    )
    facts = ClaimFacts(
        received_at=received_at,
        order=order,
        usage=Usage(traffic_bytes=traffic, connections=connections),
        customer=Customer(username=username, email=f"{username}@example.com"),
        support_ticket_id=ticket.ticket_id if ticket else "T-404",
        support_ticket=ticket,
        earlier_claims=earlier,
    )
    timeline = review_timeline(received_at, policy)
    return RequestRecord(
        request_id=request_id,
        order_id=order_id,
        username=username,
        customer_email=f"{username}@example.com",
        reason=reason,
        support_ticket_id=facts.support_ticket_id,
        status=RequestStatus.PENDING,
        received_at=received_at,
        deadline=timeline.deadline,
        reminder_at=timeline.reminder_at,
        assessment=assess(facts, policy, received_at),
        amount_paid=order.amount_paid,
        payment_channel=channel,
    )


def image(item: RequestRecord) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in request_item(item).items()}


def record(name: str, at: datetime, new: RequestRecord, old: RequestRecord | None, sequence: int) -> dict[str, Any]:
    """The request item's change."""
    keys = {"pk": {"S": f"REQUEST#{new.request_id}"}, "sk": {"S": "REQUEST"}}
    return _stream_record(f"{new.request_id}/{name}", at, keys, image(new), image(old) if old else None, sequence)


def owed(request: RequestRecord, effect: Effect, at: datetime, sequence: int) -> dict[str, Any]:
    """The INSERT of an effect the change owes, written in the same transaction as the change."""
    item = OwedEffect(request_id=request.request_id, effect=effect, owed_at=at).model_dump(
        mode="json", by_alias=True, exclude_none=True
    )
    keys = {"pk": {"S": f"REQUEST#{request.request_id}"}, "sk": {"S": f"OWED#{effect}"}}
    new = {**keys, **{name: _serializer.serialize(value) for name, value in item.items()}}
    new |= {"gsi3pk": {"S": "OWED"}, "gsi3sk": {"S": f"{utc_iso(at)}#{request.request_id}#{effect}"}}
    return _stream_record(f"{request.request_id}/{effect}", at, keys, new, None, sequence)


def _stream_record(
    name: str, at: datetime, keys: dict[str, Any], new: dict[str, Any], old: dict[str, Any] | None, sequence: int
) -> dict[str, Any]:
    stream: dict[str, Any] = {"ApproximateCreationDateTime": int(at.timestamp()), "Keys": keys, "NewImage": new}
    if old is not None:
        stream["OldImage"] = old
    stream |= {
        "SequenceNumber": f"{sequence:021d}",
        "SizeBytes": len(json.dumps(stream)),
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    return {
        "eventID": hashlib.md5(name.encode()).hexdigest(),
        "eventName": "MODIFY" if old is not None else "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": REGION,
        "dynamodb": stream,
        "eventSourceARN": STREAM_ARN,
    }


def write(name: str, *records: dict[str, Any]) -> None:
    path = EVENTS / f"{name}.json"
    path.write_text(json.dumps({"Records": list(records)}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(path.relative_to(EVENTS.parent))


def main() -> None:
    EVENTS.mkdir(exist_ok=True)
    # Received on a Saturday: the deadline is the end of Friday 11 December 2026 (POLICY-RULES.md).
    alice_received = datetime(2026, 11, 28, 10, 15, tzinfo=HK)
    alice = request(
        "rr_01KB4Q7M2X9T3V8E6R5W1Z0H4N",
        username="alice",
        order_id="ord-1001",
        amount="59.99",
        currency="USD",
        channel="card",
        received_at=alice_received,
        ordered_at=datetime(2026, 11, 10, 9, 0, tzinfo=HK),
        traffic=12_500_000_000,
        connections=12,
        reason='The VPN drops every few minutes & support says <it> "cannot be fixed".',
        ticket=SupportTicket(
            ticket_id="T-77",
            username="alice",
            opened_at=datetime(2026, 11, 20, 9, 0, tzinfo=HK),
            category="technical",
            official_response="cannot_fix",
        ),
    )
    write(
        "stream_insert_pending",
        record("insert", alice_received, alice, None, 100),
        owed(alice, Effect.ACKNOWLEDGEMENT, alice_received, 101),
    )
    reminded = alice.model_copy(update={"reminded": True})
    write(
        "stream_reminded",
        record("reminded", alice.reminder_at, reminded, alice, 200),
        owed(alice, Effect.REMINDER, alice.reminder_at, 201),
    )
    overdue = reminded.model_copy(update={"overdue": True})
    write(
        "stream_overdue",
        record("overdue", alice.deadline, overdue, reminded, 300),
        owed(alice, Effect.ESCALATION, alice.deadline, 301),
        owed(alice, Effect.DELAY, alice.deadline, 302),
    )
    decided_at = datetime(2026, 12, 14, 11, 30, tzinfo=HK)
    decision = Decision(
        refund_type=RefundType.PARTIAL,
        amount=alice.assessment.suggested_amount,
        reasons=tuple(rule.reason for rule in alice.assessment.failed()),
        decided_at=decided_at,
        decided_by="rev-kim",
        note="We deducted 2.50 USD for the 2.5 GB beyond the 10 GB limit.",
    )
    approved = overdue.model_copy(update={"status": RequestStatus.APPROVED, "decision": decision, "version": 2})
    write(
        "stream_decided",
        record("decided", decided_at, approved, overdue, 400),
        owed(alice, Effect.DECISION, decided_at, 401),
        owed(alice, Effect.REFUND_DECIDED, decided_at, 402),
    )

    bob_received = datetime(2026, 12, 1, 16, 40, tzinfo=HK)
    bob = request(
        "rr_01KB9D3F6G8H2J4K5M7N9P1Q3R",
        username="bob",
        order_id="ord-2002",
        amount="399.00",
        currency="HKD",
        channel="paypal",
        received_at=bob_received,
        ordered_at=datetime(2026, 11, 25, 12, 0, tzinfo=HK),
        traffic=3 * GB,
        connections=40,
        reason="I no longer need the service.",
        ticket=None,
    )
    cancelled = bob.model_copy(update={"status": RequestStatus.CANCELLED, "version": 2})
    cancelled_at = bob_received + timedelta(hours=2)
    write(
        "stream_cancelled",
        record("cancelled", cancelled_at, cancelled, bob, 500),
        owed(bob, Effect.CANCELLATION, cancelled_at, 501),
    )

    carol_received = datetime(2026, 12, 2, 9, 5, tzinfo=HK)
    carol = request(
        "rr_01KBB8S2T4V6W8X0Y2Z4A6B8C0",
        username="carol",
        order_id="ord-3003",
        amount="9.99",
        currency="USD",
        channel="apple_itunes",
        received_at=carol_received,
        ordered_at=datetime(2026, 11, 30, 8, 0, tzinfo=HK),
        traffic=1 * GB,
        connections=150,
        reason="Too slow for streaming.",
        ticket=SupportTicket(
            ticket_id="T-91",
            username="carol",
            opened_at=datetime(2026, 12, 1, 9, 0, tzinfo=HK),
            category="technical",
            official_response="fixed",
        ),
        earlier=(
            EarlierClaim(
                request_id="rr_01J9ZZ0000000000000000000A",
                order_id="ord-2999",
                status=RequestStatus.APPROVED,
                received_at=datetime(2026, 3, 2, 10, 0, tzinfo=HK).astimezone(UTC),
            ),
        ),
    )
    refusal = Decision(
        refund_type=None,
        amount=None,
        reasons=tuple(rule.reason for rule in carol.assessment.failed()),
        decided_at=carol_received,
        decided_by="auto",
    )
    refused = carol.model_copy(update={"status": RequestStatus.REFUSED, "decision": refusal})
    write(
        "stream_refused",
        record("refused", carol_received, refused, None, 600),
        owed(carol, Effect.DECISION, carol_received, 601),
        owed(carol, Effect.REFUND_DECIDED, carol_received, 602),
    )


if __name__ == "__main__":
    main()
