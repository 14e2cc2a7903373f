"""The notifier handler fed the committed events/stream_*.json, on moto built from template.yaml: each email
kind's content, exactly once however often a record comes back, partial batch failure on an SES error,
RefundDecided on the bus once, history appended once, and the review-deadline workflow repaired."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import boto3
import pytest
from api_support import SentEmail, sent_emails, table_stream_records
from botocore.exceptions import ClientError

from refund_core.adapters import clients, repository
from refund_core.adapters.settings import settings
from refund_core.app import service
from refund_core.app.inputs import SubmitRefundRequest
from refund_core.http.identity import Caller
from refund_core.policy.models import Customer, Order, PaymentState, SupportTicket, Usage
from refund_core.policy.money import Money
from refund_local.environment import REGION
from refund_local.handlers import invoke
from refund_local.paths import REPO_ROOT
from refund_local.stack import LocalAws

NOTIFIER = "functions/notifier/"
EVENTS = REPO_ROOT / "events"
ALICE = "rr_01KB4Q7M2X9T3V8E6R5W1Z0H4N"  # pending → reminded → overdue → approved in part (card)
BOB = "rr_01KB9D3F6G8H2J4K5M7N9P1Q3R"  # pending → cancelled
CAROL = "rr_01KBB8S2T4V6W8X0Y2Z4A6B8C0"  # App Store order, refused at once
ALL_EVENTS = ("insert_pending", "reminded", "overdue", "decided", "cancelled", "refused")
INTERNAL_CODES = (
    "PENDING",
    "APPROVED",
    "REFUSED",
    "CANCELLED",
    "PARTIAL_REFUND",
    "FULL_REFUND",
    "NEEDS_REVIEW",
    "WITHIN_30_DAYS",
    "TRAFFIC_UNDER_LIMIT",
    "NOT_APP_STORE",
    "apple_itunes",
)


def stream_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(Path(EVENTS / f"stream_{name}.json").read_text(encoding="utf-8"))
    return event


def records(*names: str) -> list[dict[str, Any]]:
    return [record for name in names for record in stream_event(name)["Records"]]


def new_image(name: str) -> dict[str, Any]:
    image: dict[str, Any] = stream_event(name)["Records"][0]["dynamodb"]["NewImage"]
    return image


def notify(*names: str) -> dict[str, Any]:
    response: dict[str, Any] = invoke(NOTIFIER, {"Records": records(*names)})
    return response


@dataclass
class Notifier:
    aws: LocalAws
    queue_url: str

    def decided_events(self) -> list[dict[str, Any]]:
        """RefundDecided events the bus delivered to the test's queue."""
        sqs = boto3.client("sqs", region_name=REGION)
        events = []
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return events
            for message in messages:
                events.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def history(self, request_id: str) -> list[dict[str, Any]]:
        response = boto3.client("dynamodb", region_name=REGION).query(
            TableName=settings().requests_table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :history)",
            ExpressionAttributeValues={":pk": {"S": f"REQUEST#{request_id}"}, ":history": {"S": "HISTORY#"}},
        )
        return [{name: next(iter(value.values())) for name, value in item.items()} for item in response["Items"]]

    def executions(self) -> list[dict[str, Any]]:
        sfn = boto3.client("stepfunctions", region_name=REGION)
        executions: list[dict[str, Any]] = sfn.list_executions(stateMachineArn=self.aws.state_machine_arn)["executions"]
        return executions


@pytest.fixture
def notifier(stack: LocalAws) -> Notifier:
    """The stack, and a queue that receives every RefundDecided event from the bus."""
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = sqs.create_queue(QueueName="refund-decided")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events", region_name=REGION)
    bus = settings().event_bus_name
    events.put_rule(
        Name="refund-decided",
        EventBusName=bus,
        EventPattern=json.dumps({"source": ["smart-security.refunds"], "detail-type": ["RefundDecided"]}),
    )
    events.put_targets(Rule="refund-decided", EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return Notifier(stack, queue_url)


def emails_to(address: str) -> list[SentEmail]:
    return [email for email in sent_emails() if email.to == (address,)]


def assert_customer_words(email: SentEmail) -> None:
    for code in INTERNAL_CODES:
        assert code not in email.subject
        assert code not in email.text
        assert code not in (email.html or "")


def test_insert_pending_acknowledges_with_the_deadline_and_starts_the_workflow(notifier: Notifier) -> None:
    assert notify("insert_pending") == {"batchItemFailures": []}

    (email,) = sent_emails()
    assert email.to == ("alice@example.com",)
    assert email.subject == "We have received your refund request for order ord-1001"
    assert "Saturday 28 November 2026" in email.text
    assert "you will have our decision by Friday 11 December 2026" in email.text
    assert ALICE in email.text
    # The customer's own words, as text and escaped in HTML.
    assert 'support says <it> "cannot be fixed"' in email.text
    assert email.html is not None
    assert "support says &lt;it&gt; &quot;cannot be fixed&quot;" in email.html
    assert "<it>" not in email.html
    assert_customer_words(email)

    (execution,) = notifier.executions()
    assert execution["name"] == ALICE
    described = boto3.client("stepfunctions", region_name=REGION).describe_execution(
        executionArn=execution["executionArn"]
    )
    assert json.loads(described["input"]) == {
        "requestId": ALICE,
        "reminderAt": "2026-12-09T16:00:00Z",
        "deadline": "2026-12-11T16:00:00Z",
    }

    assert notify("insert_pending") == {"batchItemFailures": []}
    assert len(sent_emails()) == 1
    assert len(notifier.executions()) == 1


def test_sends_one_mime_message_from_the_sender_through_the_configuration_set(notifier: Notifier) -> None:
    calls: list[dict[str, Any]] = []
    events = clients.ses().meta.events
    events.register("before-parameter-build.ses.SendRawEmail", lambda params, **_: calls.append(dict(params)))
    notify("cancelled")

    (call,) = calls
    assert call["Source"] == settings().sender_email == "refunds@example.com"
    assert call["ConfigurationSetName"] == settings().ses_configuration_set == "SesConfigurationSet"
    assert "Destinations" not in call  # SES reads them from the To header: naming them too would send twice
    message = BytesParser(policy=email_policy.default).parsebytes(call["RawMessage"]["Data"])
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["From"] == "refunds@example.com"
    assert message["To"] == "bob@example.com"


def test_partial_approval_names_amount_reasons_and_path_and_publishes_once(notifier: Notifier) -> None:
    assert notify("decided") == {"batchItemFailures": []}

    (email,) = sent_emails()
    assert email.to == ("alice@example.com",)
    assert email.subject == "Your refund for order ord-1001 is approved in part"
    assert "a partial refund of 57.49 USD of the 59.99 USD you paid" in email.text
    assert "You used 12.5 GB, not less than 10 GB" in email.text
    assert "(Refund Policy: “You have used less than 10 GB of bandwidth”)" in email.text
    assert "We deducted 2.50 USD for the 2.5 GB beyond the 10 GB limit." in email.text
    assert (
        "We pay the refund back to the card you paid with; your bank usually shows it within 5 to 10 working days."
        in email.text
    )
    assert email.html is not None
    assert "<strong>57.49 USD</strong>" in email.html
    assert_customer_words(email)

    (event,) = notifier.decided_events()
    assert event["source"] == "smart-security.refunds"
    assert event["detail-type"] == "RefundDecided"
    assert event["detail"] == {
        "requestId": ALICE,
        "orderId": "ord-1001",
        "username": "alice",
        "status": "APPROVED",
        "refundType": "PARTIAL",
        "amount": {"amount": "57.49", "currency": "USD"},
    }
    # A decided request's workflow is never started by the notifier: only an INSERT of a pending one.
    assert notifier.executions() == []


def test_refusal_gives_every_reason_with_its_clause_and_the_apple_wording(notifier: Notifier) -> None:
    assert notify("refused") == {"batchItemFailures": []}

    (email,) = sent_emails()
    assert email.to == ("carol@example.com",)
    assert email.subject == "Your refund request for order ord-3003 is refused"
    reasons = [value["S"] for value in new_image("refused")["decision"]["M"]["reasons"]["L"]]
    assert len(reasons) == 4
    assert email.html is not None
    for reason in reasons:
        assert f"- {reason}" in email.text
        assert "(Refund Policy: “" in reason
    assert "You made 150 connections, more than the 100 allowed." in email.text
    assert "Orders paid through the Apple iTunes Store are refunded by Apple, not by us" in email.text
    assert "Orders paid through the Apple iTunes Store are refunded by Apple, not by us" in email.html
    assert email.html.count("<li>") == 4
    assert_customer_words(email)

    (event,) = notifier.decided_events()
    assert event["detail"] == {
        "requestId": CAROL,
        "orderId": "ord-3003",
        "username": "carol",
        "status": "REFUSED",
        "refundType": None,
        "amount": None,
    }


def test_cancellation_confirms_the_withdrawal(notifier: Notifier) -> None:
    assert notify("cancelled") == {"batchItemFailures": []}

    (email,) = sent_emails()
    assert email.to == ("bob@example.com",)
    assert email.subject == "Your refund request for order ord-2002 is cancelled"
    assert "we have withdrawn your request for a refund for order ord-2002" in email.text
    assert_customer_words(email)
    assert notifier.decided_events() == []


def test_reminder_and_escalation_go_to_reviewers_and_supervisors(notifier: Notifier) -> None:
    assert notify("reminded", "overdue") == {"batchItemFailures": []}

    (reminder,) = emails_to("refund-reviewers@example.com")
    assert reminder.subject == f"Reminder: refund request {ALICE} is due by Friday 11 December 2026"
    assert "Customer: alice" in reminder.text
    assert "Deadline: Friday 11 December 2026, 23:59 Hong Kong time" in reminder.text
    (escalation,) = emails_to("refund-supervisors@example.com")
    assert escalation.subject == f"Overdue: refund request {ALICE} passed its deadline of Friday 11 December 2026"
    assert "Customer: alice" in escalation.text
    assert f"Refund request {ALICE} passed its deadline of Friday 11 December 2026, 23:59" in escalation.text
    assert len(sent_emails()) == 2
    assert notifier.executions() == []


def test_a_redelivered_batch_sends_and_publishes_nothing_twice(notifier: Notifier) -> None:
    assert notify(*ALL_EVENTS) == {"batchItemFailures": []}
    first = sent_emails()
    assert sorted(email.to[0] for email in first) == [
        "alice@example.com",
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
        "refund-reviewers@example.com",
        "refund-supervisors@example.com",
    ]
    assert len(notifier.decided_events()) == 2

    assert notify(*ALL_EVENTS) == {"batchItemFailures": []}
    for name in ALL_EVENTS:  # and one record at a time, as a retry after a bisected batch would
        assert notify(name) == {"batchItemFailures": []}

    assert sent_emails() == first
    assert notifier.decided_events() == []
    assert len(notifier.executions()) == 1

    alice = notifier.history(ALICE)
    sent = sorted(entry["detail"] for entry in alice if entry["event"] == "email sent")
    assert sent == ["acknowledgement", "decision", "escalation", "reminder"]
    assert all(entry["by"] == "notifier" for entry in alice)
    assert [entry["event"] for entry in alice].count("RefundDecided published") == 1
    carol = notifier.history(CAROL)
    assert sorted(entry["event"] for entry in carol) == ["RefundDecided published", "email sent"]
    assert [entry["event"] for entry in notifier.history(BOB)] == ["email sent"]


def test_an_ses_error_fails_only_its_record_and_the_retry_sends_it_once(notifier: Notifier) -> None:
    def refuse_bob(params: dict[str, Any], **_: Any) -> None:
        if b"To: bob@example.com" in params["RawMessage"]["Data"]:
            raise ClientError(
                {"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}}, "SendRawEmail"
            )

    batch = ("insert_pending", "cancelled", "refused")
    events = clients.ses().meta.events
    events.register("before-parameter-build.ses.SendRawEmail", refuse_bob, unique_id="refuse-bob")
    try:
        response = notify(*batch)
    finally:
        events.unregister("before-parameter-build.ses.SendRawEmail", unique_id="refuse-bob")

    cancelled = stream_event("cancelled")["Records"][0]
    assert response == {"batchItemFailures": [{"itemIdentifier": cancelled["dynamodb"]["SequenceNumber"]}]}
    assert sorted(email.to[0] for email in sent_emails()) == ["alice@example.com", "carol@example.com"]
    assert notifier.history(BOB) == []

    assert invoke(NOTIFIER, {"Records": [cancelled]}) == {"batchItemFailures": []}
    assert notify(*batch) == {"batchItemFailures": []}  # the stream resends from the failed record on

    assert sorted(email.to[0] for email in sent_emails()) == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]
    assert [entry["detail"] for entry in notifier.history(BOB)] == ["cancellation"]
    assert len(notifier.decided_events()) == 1


def test_an_eventbridge_failure_fails_the_record_before_any_email(notifier: Notifier) -> None:
    def fail(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalException", "Message": "try again"}}, "PutEvents")

    events = clients.eventbridge().meta.events
    events.register("before-parameter-build.events.PutEvents", fail, unique_id="fail-put-events")
    try:
        response = notify("cancelled", "refused")
    finally:
        events.unregister("before-parameter-build.events.PutEvents", unique_id="fail-put-events")

    refused = stream_event("refused")["Records"][0]
    assert response == {"batchItemFailures": [{"itemIdentifier": refused["dynamodb"]["SequenceNumber"]}]}
    assert [email.to for email in sent_emails()] == [("bob@example.com",)]

    assert notify("refused") == {"batchItemFailures": []}
    assert [email.to for email in sent_emails()] == [("bob@example.com",), ("carol@example.com",)]
    assert len(notifier.decided_events()) == 1


def test_items_other_than_requests_are_ignored(notifier: Notifier) -> None:
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
    assert sent_emails() == []
    assert notifier.executions() == []


def test_a_request_without_customer_address_sends_no_customer_email(notifier: Notifier) -> None:
    record = json.loads(json.dumps(stream_event("cancelled")["Records"][0]))
    record["dynamodb"]["NewImage"]["customerEmail"] = {"NULL": True}

    assert invoke(NOTIFIER, {"Records": [record]}) == {"batchItemFailures": []}
    assert sent_emails() == []
    assert notifier.history(BOB) == []


def test_the_real_table_stream_of_a_submitted_then_cancelled_request(notifier: Notifier) -> None:
    """Unfiltered, as if the event source had no filter: history and claim items pass through and are ignored."""
    received = datetime.now(UTC)
    repository.put_customer(Customer(username="dana", email="dana@example.com"))
    repository.put_order(
        Order(
            order_id="ord-4004",
            username="dana",
            ordered_at=received - timedelta(days=3),
            amount_paid=Money.of("59.99", "USD"),
            payment_channel="card",
            kind="new",
            service_period_days=365,
            payment_state=PaymentState.SETTLED,
        )
    )
    repository.put_usage("ord-4004", Usage(traffic_bytes=None, connections=3))  # unknown traffic: review
    repository.put_support_ticket(
        SupportTicket(
            ticket_id="T-5",
            username="dana",
            opened_at=received - timedelta(days=1),
            category="technical",
            official_response="cannot_fix",
        )
    )
    dana = Caller(username="dana", email="dana@example.com", groups=frozenset())
    command = SubmitRefundRequest(order_id="ord-4004", reason="Too slow.", support_ticket_id="T-5")
    request = service.submit_refund_request(dana, command, now=received)
    service.cancel_refund_request(dana, request.request_id)

    stream = table_stream_records()
    assert {record["dynamodb"]["Keys"]["sk"]["S"] for record in stream} > {"REQUEST"}
    assert invoke(NOTIFIER, {"Records": stream}) == {"batchItemFailures": []}

    acknowledgement, cancellation = sent_emails()
    assert acknowledgement.to == cancellation.to == ("dana@example.com",)
    assert acknowledgement.subject == "We have received your refund request for order ord-4004"
    assert cancellation.subject == "Your refund request for order ord-4004 is cancelled"
    assert [execution["name"] for execution in notifier.executions()] == [request.request_id]
    current = repository.get_request(request.request_id)
    assert current is not None
    emailed = [entry.detail for entry in current.history if entry.event == "email sent"]
    assert sorted(emailed) == ["acknowledgement", "cancellation"]
