"""The customer records' events (RECORDS.md), as the records function receives them from its queue: each type
accepted, applied and seen by the next assessment; each kind of refusal kept whole in the dead-letter queue
with the field named, and nothing of it stored; and any order and any repetition of a history of events
leaves the records as applying it once, in `asOf` order, does."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from api_support import call, customer_upserted, queued_bodies, record_event
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from refund_core.adapters import customer_records
from refund_core.app.record_events import DETAIL_TYPES, detail_schemas
from refund_core.settings import settings
from refund_local.environment import REGION
from refund_local.events import api_event, claims_for
from refund_local.handlers import invoke
from refund_local.paths import REPO_ROOT
from refund_local.queues import sqs_event
from refund_local.stack import LocalAws

RECORDS = "functions/records/"
RITA = claims_for("rita", reviewer=True)
NOW = datetime.now(UTC).replace(microsecond=0)


def at(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


def envelope(detail_type: str, detail: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """The event as EventBridge puts it on the records queue."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source or DETAIL_TYPES.get(detail_type, (None, "smart-security.billing"))[1],
        "account": "123456789012",
        "time": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def deliver(*events: dict[str, Any]) -> dict[str, Any]:
    """The events, as one batch of the records queue, to the records function."""
    messages = [
        {"MessageId": str(uuid.uuid4()), "ReceiptHandle": f"r-{index}", "Body": json.dumps(event)}
        for index, event in enumerate(events)
    ]
    answer: dict[str, Any] = invoke(
        RECORDS, sqs_event(messages, "arn:aws:sqs:ap-southeast-1:123456789012:RecordsQueue")
    )
    return answer


def dead_letters() -> list[dict[str, Any]]:
    return queued_bodies(settings().records_dead_letter_queue_url)


def records_table_items() -> list[dict[str, Any]]:
    return boto3.client("dynamodb", region_name=REGION).scan(TableName=settings().customer_records_table_name)["Items"]


def submit(username: str, order_id: str, ticket_id: str) -> Any:
    body = {"orderId": order_id, "reason": "It drops.", "supportTicketId": ticket_id}
    return call(api_event("POST", "/refund-requests", "/refund-requests", body=body, claims=claims_for(username)))


def evaluate(request_id: str, body: dict[str, Any]) -> Any:
    path = f"/refund-requests/{request_id}/evaluate"
    event = api_event(
        "POST", "/refund-requests/{requestId}/evaluate", path, path_parameters={"requestId": request_id},
        claims=RITA, body=body,
    )  # fmt: skip
    return call(event)


def assess(request_id: str) -> Any:
    return evaluate(request_id, {"action": "assess"})


def rule(assessment: dict[str, Any], rule_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(rule for rule in assessment["rules"] if rule["id"] == rule_id)
    return found


def a_customer_with_an_order(username: str, order_id: str) -> None:
    """What the four systems say about a customer with one new settled order, 5 days old."""
    assert deliver(
        envelope("CustomerUpserted", {"username": username, "email": f"{username}@example.com", "asOf": at(30)}),
        envelope(
            "OrderPlaced",
            {
                "orderId": order_id, "username": username, "orderedAt": at(5), "amount": "59.99",
                "currency": "USD", "paymentChannel": "card", "kind": "new", "servicePeriodDays": 365,
            },
        ),
        envelope("PaymentStateChanged", {"orderId": order_id, "paymentState": "settled", "asOf": at(5)}),
        envelope("UsageReported", {"orderId": order_id, "trafficBytes": 10**9, "connections": 12, "asOf": at(1)}),
        envelope(
            "SupportTicketUpdated",
            {
                "ticketId": f"T-{order_id}", "username": username, "openedAt": at(2), "category": "technical",
                "officialResponse": "cannot_fix", "asOf": at(1),
            },
        ),
    ) == {"batchItemFailures": []}  # fmt: skip


# ---- each event type: accepted, applied, seen by the next assessment ---------------------------------------


def test_an_order_known_only_by_its_events_is_a_full_refund(stack: LocalAws) -> None:
    a_customer_with_an_order("amy", "ord-amy")
    created = submit("amy", "ord-amy", "T-ord-amy")
    assert created.status == 201, created.json
    assert created.json["status"] == "APPROVED"
    assert dead_letters() == []


def test_a_correction_a_payment_state_and_usage_change_what_assess_sees_of_a_pending_claim(stack: LocalAws) -> None:
    a_customer_with_an_order("ben", "ord-ben")
    deliver(envelope("UsageReported", {"orderId": "ord-ben", "trafficBytes": 12 * 10**9, "connections": 12,
                                       "asOf": at(0.5)}))  # fmt: skip
    pending = submit("ben", "ord-ben", "T-ord-ben").json
    assert pending["status"] == "PENDING"
    assert rule(pending["assessment"], "TRAFFIC_UNDER_LIMIT")["result"] == "fail"

    # Facts that arrive after the claim change nothing until a reviewer assesses it again.
    corrected = {
        "orderId": "ord-ben", "username": "ben", "orderedAt": at(5), "amount": "49.99", "currency": "USD",
        "paymentChannel": "apple_itunes", "kind": "new", "servicePeriodDays": 365, "asOf": at(0.1),
    }  # fmt: skip
    deliver(
        envelope("OrderCorrected", corrected),
        envelope("PaymentStateChanged", {"orderId": "ord-ben", "paymentState": "disputed", "asOf": at(0.1)}),
    )
    read = call(api_event("GET", "/refund-requests/{requestId}", f"/refund-requests/{pending['requestId']}",
                          path_parameters={"requestId": pending["requestId"]}, claims=RITA))  # fmt: skip
    assert read.json["assessment"] == pending["assessment"]

    reassessed = assess(pending["requestId"]).json["assessment"]
    assert rule(reassessed, "NOT_APP_STORE")["result"] == "fail"
    assert rule(reassessed, "PAYMENT_RETURNABLE")["result"] == "fail"
    assert reassessed["outcome"] == "REFUSED"


def test_after_a_correction_and_a_new_assessment_an_approval_is_held_to_what_billing_now_says_was_paid(
    stack: LocalAws,
) -> None:
    a_customer_with_an_order("bea", "ord-bea")
    deliver(envelope("UsageReported", {"orderId": "ord-bea", "trafficBytes": 12 * 10**9, "connections": 12,
                                       "asOf": at(0.5)}))  # fmt: skip
    pending = submit("bea", "ord-bea", "T-ord-bea").json
    assert pending["status"] == "PENDING"
    # Billing: the order was HKD 20.00, not USD 59.99.
    corrected = {
        "orderId": "ord-bea", "username": "bea", "orderedAt": at(5), "amount": "20.00", "currency": "HKD",
        "paymentChannel": "card", "kind": "new", "servicePeriodDays": 365, "asOf": at(0.1),
    }  # fmt: skip
    deliver(envelope("OrderCorrected", corrected))
    reassessed = assess(pending["requestId"])
    assert reassessed.status == 200, reassessed.json

    too_much = evaluate(pending["requestId"], {"action": "approve", "amount": "30.00", "note": "Part of it"})
    assert too_much.status == 422, too_much.json
    approved = evaluate(pending["requestId"], {"action": "approve", "note": "Part of it"})
    assert approved.status == 200, approved.json
    amount = approved.json["decision"]["amount"]
    assert amount["currency"] == "HKD"
    assert Decimal(amount["amount"]) <= Decimal("20.00")


@pytest.mark.parametrize(
    ("events", "rule_id", "words"),
    [
        pytest.param(
            [("AccountBlocked", {"username": "cat", "blockId": "b-1", "reason": "terms_violation", "from": at(3)})],
            "NOT_BLOCKED", "blocked", id="AccountBlocked",
        ),
        pytest.param(
            [("ViolationRecorded", {"username": "cat", "violationId": "v-1", "kind": "hong_kong_law", "at": at(3)})],
            "LAWFUL_USE", "laws of Hong Kong", id="ViolationRecorded",
        ),
        pytest.param(
            [("RefundGrantedElsewhere", {"username": "cat", "orderId": "ord-2024-77", "refundedAt": at(200),
                                         "amount": {"amount": "19.99", "currency": "USD"}, "reference": "BILL-5521"})],
            "NO_EARLIER_CLAIM", "BILL-5521", id="RefundGrantedElsewhere",
        ),
    ],
)  # fmt: skip
def test_an_account_fact_fails_its_rule_and_says_so(
    stack: LocalAws, events: list[tuple[str, dict[str, Any]]], rule_id: str, words: str
) -> None:
    a_customer_with_an_order("cat", "ord-cat")
    assert deliver(*(envelope(kind, detail) for kind, detail in events)) == {"batchItemFailures": []}
    created = submit("cat", "ord-cat", "T-ord-cat").json
    assert created["status"] == "REFUSED"
    failed = rule(created["assessment"], rule_id)
    assert failed["result"] == "fail"
    assert words in failed["reason"]


@pytest.mark.parametrize(
    "ending",
    [
        pytest.param(("AccountUnblocked", {"username": "dan", "blockId": "b-1", "until": at(10)}), id="AccountUnblocked"),
        pytest.param(("ViolationWithdrawn", {"username": "dan", "violationId": "v-1", "asOf": at(1)}), id="ViolationWithdrawn"),
    ],
)  # fmt: skip
def test_what_ends_a_fact_ends_it_whether_it_comes_before_or_after_it(
    stack: LocalAws, ending: tuple[str, dict[str, Any]]
) -> None:
    a_customer_with_an_order("dan", "ord-dan")
    block = ("AccountBlocked", {"username": "dan", "blockId": "b-1", "reason": "terms_violation", "from": at(20)})
    violation = ("ViolationRecorded", {"username": "dan", "violationId": "v-1", "kind": "terms_of_use", "at": at(20)})
    started = block if ending[0] == "AccountUnblocked" else violation
    deliver(envelope(*ending))  # the end first
    deliver(envelope(*started))
    created = submit("dan", "ord-dan", "T-ord-dan").json
    assert created["status"] == "APPROVED", created["assessment"]


def test_the_customers_name_and_language_of_record_are_kept_for_the_emails(stack: LocalAws) -> None:
    a_customer_with_an_order("eve", "ord-eve")
    deliver(envelope("CustomerUpserted", {"username": "eve", "email": "eve.new@example.com", "name": "Eve Chan",
                                          "language": "zh-HK", "asOf": at(0)}))  # fmt: skip
    profile = customer_records.customer_profile("eve")
    assert profile is not None
    assert (profile.email, profile.name, profile.language) == ("eve.new@example.com", "Eve Chan", "zh-HK")


def test_the_same_event_twice_and_an_older_one_change_nothing(stack: LocalAws) -> None:
    a_customer_with_an_order("fay", "ord-fay")
    assert customer_upserted("fay", "fay@new.example.com") is True
    before = records_table_items()
    newer = {
        "username": "fay",
        "email": "fay@new.example.com",
        "asOf": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
    }
    assert record_event("CustomerUpserted", newer) is True
    assert record_event("CustomerUpserted", newer) is False  # again: not applied
    assert record_event("CustomerUpserted", newer | {"email": "old@example.com", "asOf": at(7)}) is False
    placed = {
        "orderId": "ord-fay", "username": "fay", "orderedAt": at(5), "amount": "59.99", "currency": "USD",
        "paymentChannel": "card", "kind": "new", "servicePeriodDays": 365,
    }  # fmt: skip
    assert record_event("OrderPlaced", placed) is False
    after = records_table_items()
    profile = customer_records.customer_profile("fay")
    assert profile is not None and profile.email == "fay@new.example.com"
    assert len(after) == len(before)


# ---- refusals ------------------------------------------------------------------------------------------------

PLACED = {
    "orderId": "ord-zed", "username": "zed", "orderedAt": at(5), "amount": "59.99", "currency": "USD",
    "paymentChannel": "card", "kind": "new", "servicePeriodDays": 365,
}  # fmt: skip


@pytest.mark.parametrize(
    ("event", "field"),
    [
        pytest.param(envelope("OrderShipped", PLACED), "detail-type", id="unknown-type"),
        pytest.param(envelope("OrderPlaced", PLACED, source="smart-security.support"), "source", id="wrong-source"),
        pytest.param(envelope("OrderPlaced", {k: v for k, v in PLACED.items() if k != "currency"}), "detail.currency",
                     id="missing-field"),
        pytest.param(envelope("OrderPlaced", PLACED | {"servicePeriodDays": "365"}), "detail.servicePeriodDays",
                     id="wrong-type"),
        pytest.param(envelope("OrderPlaced", PLACED | {"amount": 59.99}), "detail.amount", id="money-as-a-number"),
        pytest.param(envelope("PaymentStateChanged", {"orderId": "ord-zed", "paymentState": "lost", "asOf": at(1)}),
                     "detail.paymentState", id="unknown-enum"),
        pytest.param(envelope("OrderPlaced", PLACED | {"discount": "5.00"}), "detail.discount", id="unknown-field"),
        pytest.param(envelope("UsageReported", {"orderId": "ord-zed", "trafficBytes": 5, "connections": 1,
                                                "asOf": "2026-11-01T00:00:00"}), "detail.asOf", id="time-without-offset"),
        # More decimals than the currency has (ISO 4217): never an amount billing took, nor one a refund can pay.
        pytest.param(envelope("OrderPlaced", PLACED | {"amount": "59.999999"}), "detail.amount", id="usd-6-places"),
        pytest.param(envelope("OrderPlaced", PLACED | {"amount": "1000.5", "currency": "JPY"}), "detail.amount",
                     id="jpy-with-decimals"),
        pytest.param(envelope("OrderCorrected", PLACED | {"amount": "10.1234", "currency": "BHD", "asOf": at(1)}),
                     "detail.amount", id="bhd-4-places"),
        pytest.param(envelope("RefundGrantedElsewhere", {"username": "zed", "orderId": "ord-zed", "refundedAt": at(1),
                                                         "amount": {"amount": "5.001", "currency": "USD"},
                                                         "reference": "R-1"}), "detail.amount.amount",
                     id="granted-elsewhere-3-places"),
        # Channels are the policy's closed list, written exactly: no other spelling passes for a refundable one.
        *(pytest.param(envelope("OrderPlaced", PLACED | {"paymentChannel": channel}), "detail.paymentChannel",
                       id=f"channel-{channel!r}") for channel in ("Apple_iTunes", "APPLE_ITUNES", "apple_itunes ", "wire")),
        # A fact dated in the future would hide every real later fact behind its asOf (or order a claim -177 days).
        pytest.param(envelope("UsageReported", {"orderId": "ord-zed", "trafficBytes": 5, "connections": 1,
                                                "asOf": "2099-01-01T00:00:00+00:00"}), "detail.asOf", id="usage-in-2099"),
        pytest.param(envelope("OrderPlaced", PLACED | {"orderedAt": (NOW + timedelta(days=177)).isoformat()}),
                     "detail.orderedAt", id="order-in-the-future"),
        pytest.param(envelope("SupportTicketUpdated", {"ticketId": "T-9", "username": "zed", "openedAt": at(-1),
                                                       "category": "technical", "officialResponse": "cannot_fix",
                                                       "asOf": at(0)}), "detail.openedAt", id="ticket-opened-tomorrow"),
        # A null total would erase the known one (a clear refusal became "needs review").
        pytest.param(envelope("UsageReported", {"orderId": "ord-zed", "trafficBytes": None, "connections": 1,
                                                "asOf": at(1)}), "detail.trafficBytes", id="null-traffic"),
        # Beyond what DynamoDB keeps exactly: refused at once, not retried eight times.
        pytest.param(envelope("UsageReported", {"orderId": "ord-zed", "trafficBytes": 5, "connections": 10**40,
                                                "asOf": at(1)}), "detail.connections", id="huge-connections"),
        pytest.param(envelope("OrderPlaced", PLACED | {"servicePeriodDays": 10**40}), "detail.servicePeriodDays",
                     id="huge-service-period"),
    ],
)  # fmt: skip
def test_every_refusal_keeps_the_event_whole_with_its_field_and_stores_nothing(
    stack: LocalAws, event: dict[str, Any], field: str
) -> None:
    before = records_table_items()
    assert deliver(event) == {"batchItemFailures": []}  # refused for good: not retried
    (letter,) = dead_letters()
    assert letter["field"] == field
    assert field in letter["reason"]
    assert json.loads(letter["event"]) == event
    assert records_table_items() == before


def test_usage_dated_in_2099_leaves_the_real_totals_to_decide_the_claim(stack: LocalAws) -> None:
    a_customer_with_an_order("una", "ord-una")
    usage = {"orderId": "ord-una", "trafficBytes": 10**9, "connections": 12}
    deliver(envelope("UsageReported", usage | {"asOf": "2099-01-01T00:00:00+00:00"}))
    deliver(envelope("UsageReported", usage | {"trafficBytes": 50 * 10**9, "connections": 400, "asOf": at(0)}))
    created = submit("una", "ord-una", "T-ord-una")
    assert created.json["status"] == "REFUSED"
    assert rule(created.json["assessment"], "CONNECTIONS_WITHIN_LIMIT")["result"] == "fail"


def test_an_amount_stored_with_more_decimals_than_its_currency_is_refunded_in_its_minor_units(stack: LocalAws) -> None:
    """An order stored before the records' door checked its decimals: the full refund is rounded down once."""
    from refund_core.policy.models import Order, PaymentState  # noqa: PLC0415
    from refund_core.policy.money import Money  # noqa: PLC0415

    a_customer_with_an_order("odd", "ord-odd")
    order = Order(
        order_id="ord-odd", username="odd", ordered_at=NOW - timedelta(days=5), amount_paid=Money.of("59.999999", "USD"),
        payment_channel="card", kind="new", service_period_days=365, payment_state=PaymentState.SETTLED,
    )  # fmt: skip
    customer_records.correct_order(order, NOW)
    created = submit("odd", "ord-odd", "T-ord-odd")
    assert created.json["status"] == "APPROVED"
    assert created.json["decision"]["amount"] == {"amount": "59.99", "currency": "USD"}
    assert created.json["assessment"]["suggestedAmount"] == {"amount": "59.99", "currency": "USD"}


def test_a_second_order_placed_with_other_facts_is_refused_and_the_first_kept(stack: LocalAws) -> None:
    assert deliver(envelope("OrderPlaced", PLACED)) == {"batchItemFailures": []}
    before = records_table_items()
    deliver(envelope("OrderPlaced", PLACED | {"amount": "99.99"}))
    (letter,) = dead_letters()
    assert letter["field"] == "amountPaid"
    assert "OrderCorrected" in letter["reason"]
    assert records_table_items() == before


def test_usage_totals_that_go_down_are_refused(stack: LocalAws) -> None:
    deliver(envelope("UsageReported", {"orderId": "ord-zed", "trafficBytes": 500, "connections": 3, "asOf": at(2)}))
    deliver(envelope("UsageReported", {"orderId": "ord-zed", "trafficBytes": 400, "connections": 3, "asOf": at(1)}))
    (letter,) = dead_letters()
    assert letter["field"] == "trafficBytes"


def test_an_event_that_cannot_be_applied_now_is_retried_not_refused(stack: LocalAws) -> None:
    from api_support import aws_error, on_call  # noqa: PLC0415

    from refund_core.adapters import clients  # noqa: PLC0415

    def usage_down(params: dict[str, Any], **_: Any) -> None:
        if params["Key"]["sk"]["S"] == "USAGE":
            raise aws_error("InternalServerError", "UpdateItem", "down")

    usage = envelope("UsageReported", {"orderId": "ord-zed", "trafficBytes": 5, "connections": 1, "asOf": at(1)})
    profile = envelope("CustomerUpserted", {"username": "zed", "email": "z@example.com", "asOf": at(1)})
    with on_call(clients.dynamodb(), "before-parameter-build.dynamodb.UpdateItem", usage_down):
        answer = deliver(usage, profile)
    assert len(answer["batchItemFailures"]) == 1  # the usage comes back; the profile is applied
    assert dead_letters() == []
    assert customer_records.customer_profile("zed") is not None


# ---- order and repetition ------------------------------------------------------------------------------------


def history(order_id: str, username: str) -> list[tuple[str, dict[str, Any]]]:
    """A history the four systems could send about one customer and one order, in `asOf` order."""
    return [
        ("CustomerUpserted", {"username": username, "email": f"{username}@one.example", "asOf": at(40)}),
        ("OrderPlaced", PLACED | {"orderId": order_id, "username": username}),
        ("PaymentStateChanged", {"orderId": order_id, "paymentState": "settled", "asOf": at(5)}),
        ("UsageReported", {"orderId": order_id, "trafficBytes": 100, "connections": 1, "asOf": at(4)}),
        ("OrderCorrected", PLACED | {"orderId": order_id, "username": username, "amount": "49.99", "asOf": at(3)}),
        ("AccountBlocked", {"username": username, "blockId": "b-1", "reason": "security_check", "from": at(3)}),
        ("UsageReported", {"orderId": order_id, "trafficBytes": 900, "connections": 4, "asOf": at(2)}),
        ("ViolationRecorded", {"username": username, "violationId": "v-1", "kind": "terms_of_use", "at": at(2)}),
        ("AccountUnblocked", {"username": username, "blockId": "b-1", "until": at(1)}),
        ("PaymentStateChanged", {"orderId": order_id, "paymentState": "refunded", "asOf": at(1)}),
        ("CustomerUpserted", {"username": username, "email": f"{username}@two.example", "name": "N", "asOf": at(1)}),
        ("ViolationWithdrawn", {"username": username, "violationId": "v-1", "asOf": at(0.5)}),
        ("SupportTicketUpdated", {"ticketId": f"T-{order_id}", "username": username, "openedAt": at(2),
                                  "category": "technical", "officialResponse": None, "asOf": at(2)}),
        ("SupportTicketUpdated", {"ticketId": f"T-{order_id}", "username": username, "openedAt": at(2),
                                  "category": "technical", "officialResponse": "cannot_fix", "asOf": at(1)}),
        ("RefundGrantedElsewhere", {"username": username, "orderId": "ord-old", "refundedAt": at(300),
                                    "reference": "BILL-1"}),
    ]  # fmt: skip


def facts(order_id: str, username: str) -> Any:
    found = boto3.client("dynamodb", region_name=REGION).batch_get_item(
        RequestItems={
            settings().customer_records_table_name: {
                "Keys": customer_records.record_keys(username, order_id, f"T-{order_id}"),
                "ConsistentRead": True,
            }
        }
    )["Responses"][settings().customer_records_table_name]
    from refund_core.adapters.dynamo import deserialize  # noqa: PLC0415

    items = {f"{item['pk']}|{item['sk']}": item for item in (deserialize(raw) for raw in found)}
    return customer_records.records_found(items, username, order_id, f"T-{order_id}")


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_order_and_any_repetition_of_a_history_gives_the_records_of_applying_it_once_in_order(
    stack: LocalAws, data: st.DataObject
) -> None:
    run = uuid.uuid4().hex[:8]
    in_order, shuffled = (f"ord-a-{run}", f"u-a-{run}"), (f"ord-b-{run}", f"u-b-{run}")
    for kind, detail in history(*in_order):
        record_event(kind, detail)
    events = history(*shuffled)
    repeated = data.draw(st.lists(st.sampled_from(events), max_size=10), label="repeated")
    arriving = data.draw(st.permutations(events + repeated), label="arriving")
    for kind, detail in arriving:
        record_event(kind, detail)

    def renamed(records: Any, order_id: str, username: str) -> str:
        return (
            json.dumps(
                {
                    "customer": records.customer.model_dump(mode="json") if records.customer else None,
                    "order": records.order.model_dump(mode="json") if records.order else None,
                    "usage": records.usage.model_dump(mode="json") if records.usage else None,
                    "ticket": records.support_ticket.model_dump(mode="json") if records.support_ticket else None,
                },
                sort_keys=True,
            )
            .replace(order_id, "ORDER")
            .replace(username, "USER")
        )

    assert renamed(facts(*shuffled), *shuffled) == renamed(facts(*in_order), *in_order)


# ---- the published schemas ------------------------------------------------------------------------------------


def test_the_published_schemas_are_the_models_the_code_validates_with() -> None:
    published = {
        path.stem: json.loads(path.read_text(encoding="utf-8")) for path in (REPO_ROOT / "schemas").glob("*.json")
    }
    assert published == detail_schemas(), "regenerate them: .venv/bin/python scripts/generate_schemas.py"


def test_each_schema_refuses_what_the_code_refuses() -> None:
    from jsonschema import Draft202012Validator  # noqa: PLC0415

    schema = detail_schemas()["OrderPlaced"]
    validator = Draft202012Validator(schema)
    assert not list(validator.iter_errors(json.loads(json.dumps(PLACED))))
    assert list(validator.iter_errors(PLACED | {"discount": "5"}))
    assert list(validator.iter_errors({k: v for k, v in PLACED.items() if k != "currency"}))


def test_every_example_of_the_contract_in_design_md_is_an_event_the_service_accepts() -> None:
    from refund_core.app.record_events import parse_record_event  # noqa: PLC0415

    rows = [
        row.split("|")[1:4]
        for row in (REPO_ROOT / "docs" / "design.md").read_text(encoding="utf-8").splitlines()
        if row.startswith("| smart-security.")
    ]
    examples = [(source.strip(), kind.strip().strip("`"), example.strip().strip("`")) for source, kind, example in rows]
    assert {kind for _, kind, _ in examples} == set(DETAIL_TYPES)
    for source, kind, example in examples:
        if example.startswith("{"):
            parse_record_event({"source": source, "detail-type": kind, "detail": json.loads(example)})
