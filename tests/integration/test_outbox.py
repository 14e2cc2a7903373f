"""What requests owe, delivered by the outbox function from the delivery queue, on moto built from
template.yaml: each email's content (from events/stream_*.json, whose images are put in the table as their
transactions wrote them), exactly once however often a delivery comes back, SES and EventBridge failing
(for 30 hours, with the clock injected), the email of record, a delivery that crashed after SES took the
email, the reconciler, and the dead-letter queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import boto3
import pytest
from api_support import (
    SentEmail,
    customer_upserted,
    deliver_all,
    deliver_queued,
    notifier_records,
    on_call,
    owed_items,
    put_images,
    queued_deliveries,
    sent_emails,
)
from botocore.exceptions import ClientError

from refund_core.adapters import clients, repository
from refund_core.adapters.records import Effect
from refund_core.app import outbox
from refund_core.settings import settings
from refund_local.environment import REGION
from refund_local.handlers import invoke
from refund_local.paths import REPO_ROOT
from refund_local.stack import LocalAws

EVENTS = REPO_ROOT / "events"
ALICE = "rr_01KB4Q7M2X9T3V8E6R5W1Z0H4N"  # pending → reminded → overdue → approved in part (card)
BOB = "rr_01KB9D3F6G8H2J4K5M7N9P1Q3R"  # pending → cancelled
CAROL = "rr_01KBB8S2T4V6W8X0Y2Z4A6B8C0"  # App Store order, refused at once
ALL_EVENTS = ("insert_pending", "reminded", "overdue", "decided", "cancelled", "refused")
INTERNAL_CODES = (
    "PENDING", "APPROVED", "REFUSED", "CANCELLED", "PARTIAL_REFUND", "FULL_REFUND", "NEEDS_REVIEW",
    "WITHIN_30_DAYS", "TRAFFIC_UNDER_LIMIT", "NOT_APP_STORE", "apple_itunes",
)  # fmt: skip


def stream_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(Path(EVENTS / f"stream_{name}.json").read_text(encoding="utf-8"))
    return event


def happen(*names: str) -> None:
    """As if each change had been written: its images in the table, the stream's records to the notifier."""
    for name in names:
        event = stream_event(name)
        put_images(event)
        assert invoke("functions/notifier/", {"Records": notifier_records(event["Records"])}) == {
            "batchItemFailures": []
        }


@pytest.fixture
def records_of_customers(stack: LocalAws) -> None:
    """The customers' email of record, as the accounts system published them."""
    for name in ("alice", "bob", "carol"):
        customer_upserted(name, f"{name}@example.com")


@pytest.fixture
def decided_events(stack: LocalAws) -> Any:
    """A queue that receives every RefundDecided event from the bus; returns a reader of it."""
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

    def read() -> list[dict[str, Any]]:
        found = []
        while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return found

    return read


def emails_to(address: str) -> list[SentEmail]:
    return [email for email in sent_emails() if email.to == (address,)]


def assert_customer_words(email: SentEmail) -> None:
    for code in INTERNAL_CODES:
        assert code not in email.subject
        assert code not in email.text
        assert code not in (email.html or "")


def history(request_id: str) -> list[dict[str, Any]]:
    response = boto3.client("dynamodb", region_name=REGION).query(
        TableName=settings().requests_table_name,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :history)",
        ExpressionAttributeValues={":pk": {"S": f"REQUEST#{request_id}"}, ":history": {"S": "HISTORY#"}},
    )
    return [repository.deserialize(item) for item in response["Items"]]


# ---- each email --------------------------------------------------------------------------------------------


def test_the_acknowledgement_gives_the_decision_date_and_the_customers_own_words(records_of_customers: None) -> None:
    happen("insert_pending")
    deliver_queued()

    (email,) = sent_emails()
    assert email.to == ("alice@example.com",)
    assert email.subject == "We have received your refund request for order ord-1001"
    assert "Saturday 28 November 2026" in email.text
    assert "you will have our decision by Friday 11 December 2026" in email.text
    assert ALICE in email.text
    assert 'support says <it> "cannot be fixed"' in email.text
    assert email.html is not None
    assert "support says &lt;it&gt; &quot;cannot be fixed&quot;" in email.html
    assert "<it>" not in email.html
    assert_customer_words(email)
    assert owed_items(ALICE)["email#acknowledgement"]["state"] == "DONE"


def test_one_mime_message_from_the_sender_through_the_configuration_set_tagged(records_of_customers: None) -> None:
    calls: list[dict[str, Any]] = []
    with on_call(
        clients.ses(), "before-parameter-build.ses.SendRawEmail", lambda params, **_: calls.append(dict(params))
    ):
        happen("cancelled")
        deliver_queued()

    (call,) = calls
    assert call["Source"] == settings().sender_email == "refunds@example.com"
    assert call["ConfigurationSetName"] == settings().ses_configuration_set == "SesConfigurationSet"
    assert "Destinations" not in call  # SES reads them from the To header: naming them too would send twice
    assert {tag["Name"]: tag["Value"] for tag in call["Tags"]} == {"request-id": BOB, "email-kind": "cancellation"}
    message = BytesParser(policy=email_policy.default).parsebytes(call["RawMessage"]["Data"])
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert (message["From"], message["To"]) == ("refunds@example.com", "bob@example.com")


def test_a_partial_approval_names_amount_reasons_and_path_and_publishes_once(
    records_of_customers: None, decided_events: Any
) -> None:
    happen("decided")
    deliver_queued()

    (email,) = sent_emails()
    assert email.to == ("alice@example.com",)
    assert email.subject == "Your refund for order ord-1001 is approved in part"
    assert "a partial refund of US$57.49 of the US$59.99 you paid" in email.text
    assert "You used 12.5 GB, not less than 10 GB" in email.text
    assert "We deducted 2.50 USD for the 2.5 GB beyond the 10 GB limit." in email.text
    assert "your bank usually shows it within 5 to 10 working days." in email.text
    assert email.html is not None
    assert "<strong>US$57.49</strong>" in email.html
    assert_customer_words(email)
    (event,) = decided_events()
    assert (event["source"], event["detail-type"]) == ("smart-security.refunds", "RefundDecided")
    assert event["detail"] == {
        "requestId": ALICE,
        "orderId": "ord-1001",
        "username": "alice",
        "status": "APPROVED",
        "refundType": "PARTIAL",
        "amount": {"amount": "57.49", "currency": "USD"},
    }


def test_a_refusal_gives_every_reason_with_its_clause_and_the_apple_wording(
    records_of_customers: None, decided_events: Any
) -> None:
    happen("refused")
    deliver_queued()

    (email,) = sent_emails()
    assert (email.to, email.subject) == (("carol@example.com",), "Your refund request for order ord-3003 is refused")
    reasons = [
        value["S"]
        for value in stream_event("refused")["Records"][0]["dynamodb"]["NewImage"]["decision"]["M"]["reasons"]["L"]
    ]
    assert len(reasons) == 4
    for reason in reasons:
        assert f"- {reason}" in email.text
    assert "Orders paid through the Apple iTunes Store are refunded by Apple, not by us" in email.text
    assert email.html is not None and email.html.count("<li>") == 4
    assert_customer_words(email)
    assert [event["detail"]["status"] for event in decided_events()] == ["REFUSED"]


def test_reminder_and_escalation_go_to_reviewers_and_supervisors(records_of_customers: None) -> None:
    happen("reminded", "overdue")
    deliver_queued()

    (reminder,) = emails_to("refund-reviewers@example.com")
    assert reminder.subject == f"Reminder: refund request {ALICE} is due by Friday 11 December 2026"
    assert "Deadline: Friday 11 December 2026, 23:59 Hong Kong time" in reminder.text
    (escalation,) = emails_to("refund-supervisors@example.com")
    assert escalation.subject == f"Overdue: refund request {ALICE} passed its deadline of Friday 11 December 2026"
    (apology,) = emails_to("alice@example.com")  # and the customer is told, once
    assert "taking longer" in apology.subject
    assert "by Tuesday 15 December 2026 at the latest" in apology.text
    assert len(sent_emails()) == 3


# ---- once --------------------------------------------------------------------------------------------------


def test_every_delivery_twice_and_the_stream_again_send_and_publish_nothing_twice(
    records_of_customers: None, decided_events: Any
) -> None:
    # Alice's reminder and escalation go while she waits; the emails about waiting are not sent once decided.
    happen("insert_pending", "reminded", "overdue")
    deliveries = queued_deliveries()
    deliver_queued()
    happen("decided", "cancelled", "refused")
    deliveries += queued_deliveries()
    assert len(deliveries) == 9
    deliver_queued()
    first = sent_emails()
    assert len(first) == 7
    assert len(decided_events()) == 2

    # Every delivery again (a queue delivers at least once), and the whole stream again.
    sqs = boto3.client("sqs", region_name=REGION)
    for delivery in deliveries:
        sqs.send_message(QueueUrl=settings().delivery_queue_url, MessageBody=json.dumps(delivery))
    deliver_queued()
    deliver_all()

    assert sent_emails() == first
    assert decided_events() == []
    alice = history(ALICE)
    assert sorted(entry["detail"] for entry in alice if entry["event"] == "email sent") == [
        "acknowledgement", "decision", "delay", "escalation", "reminder",
    ]  # fmt: skip
    assert [entry["event"] for entry in alice].count("RefundDecided published") == 1
    assert {item["state"] for request in (ALICE, BOB, CAROL) for item in owed_items(request).values()} == {"DONE"}


def test_an_ses_failure_fails_only_its_delivery_which_comes_back_after_its_backoff(records_of_customers: None) -> None:
    def refuse_bob(params: dict[str, Any], **_: Any) -> None:
        if b"To: bob@example.com" in params["RawMessage"]["Data"]:
            raise ClientError(
                {"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}}, "SendRawEmail"
            )

    happen("insert_pending", "cancelled", "refused")
    with on_call(clients.ses(), "before-parameter-build.ses.SendRawEmail", refuse_bob):
        (answer,) = deliver_queued()
    assert len(answer["batchItemFailures"]) == 1
    assert sorted(email.to[0] for email in sent_emails()) == ["alice@example.com", "carol@example.com"]
    bob = owed_items(BOB)["email#cancellation"]
    assert (bob["state"], bob["attempts"], bob["outcome"]) == ("OWED", 1, "ClientError")
    assert datetime.fromisoformat(bob["nextAttemptAt"]) > datetime.now(UTC) + timedelta(seconds=50)

    # Its message is back after the backoff; here, delivered as the queue would hand it over then.
    assert outbox.deliver(BOB, Effect.CANCELLATION).outcome == "done"
    assert outbox.deliver(BOB, Effect.CANCELLATION).outcome == "not owed"
    assert sorted(email.to[0] for email in sent_emails()) == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]


def test_an_eventbridge_failure_holds_back_the_event_not_the_email(
    records_of_customers: None, decided_events: Any
) -> None:
    def fail(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalException", "Message": "try again"}}, "PutEvents")

    happen("refused")
    with on_call(clients.eventbridge(), "before-parameter-build.events.PutEvents", fail):
        deliver_queued()
    assert [email.to for email in sent_emails()] == [("carol@example.com",)]
    assert owed_items(CAROL)["event#RefundDecided"]["state"] == "OWED"
    assert outbox.deliver(CAROL, Effect.REFUND_DECIDED).outcome == "done"
    assert len(decided_events()) == 1


# ---- the address -------------------------------------------------------------------------------------------


def test_the_email_of_record_wins_over_the_address_the_request_kept(stack: LocalAws) -> None:
    customer_upserted("bob", "bob.new@example.com")
    happen("cancelled")  # its request kept bob@example.com from a verified token
    deliver_queued()
    assert [email.to for email in sent_emails()] == [("bob.new@example.com",)]


def test_with_no_address_at_all_the_email_waits_until_one_of_record_arrives(stack: LocalAws) -> None:
    event = stream_event("cancelled")
    event["Records"][0]["dynamodb"]["NewImage"]["customerEmail"] = {"NULL": True}
    put_images(event)
    assert invoke("functions/notifier/", {"Records": notifier_records(event["Records"])})["batchItemFailures"] == []
    assert deliver_queued() == [{"batchItemFailures": []}]  # not a failure to retry soon
    assert sent_emails() == []
    waiting = owed_items(BOB)["email#cancellation"]
    assert (waiting["state"], waiting["outcome"]) == ("OWED", "no address of record")

    customer_upserted("bob", "bob@example.com")
    later = datetime.fromisoformat(waiting["nextAttemptAt"]) + timedelta(seconds=1)
    assert outbox.reconcile(now=later).queued == 1
    deliver_queued()
    assert [email.to for email in sent_emails()] == [("bob@example.com",)]


# ---- the ambiguous window, the reconciler and the dead-letter queue ---------------------------------------


def test_a_delivery_that_stopped_after_ses_took_the_email_is_uncertain_never_sent_again(
    records_of_customers: None,
) -> None:
    happen("cancelled")
    now = datetime.now(UTC)

    def lose_the_record(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "TransactWriteItems")

    with on_call(clients.dynamodb(), "before-parameter-build.dynamodb.TransactWriteItems", lose_the_record):
        assert outbox.deliver(BOB, Effect.CANCELLATION, now=now).outcome == "done"
    assert len(sent_emails()) == 1
    assert owed_items(BOB)["email#cancellation"]["state"] == "SENDING"

    # Within its lease nobody touches it; after the lease and the grace, the reconciler marks it uncertain.
    assert outbox.reconcile(now=now + timedelta(seconds=60)).uncertain == 0
    grace = settings().outbox_grace_seconds + settings().outbox_lease_seconds
    assert outbox.reconcile(now=now + timedelta(seconds=grace + 1)).uncertain == 1
    assert owed_items(BOB)["email#cancellation"]["state"] == "UNCERTAIN"
    assert outbox.deliver(BOB, Effect.CANCELLATION).outcome == "not owed"
    assert outbox.reconcile(now=now + timedelta(hours=2)) == outbox.Reconciled(0, 0, 0.0, 0)  # not owed, not oldest
    assert len(sent_emails()) == 1


def test_an_uncertain_email_a_person_finds_unsent_goes_once_they_set_it_owed(records_of_customers: None) -> None:
    """README "When something fails": the uncertain ones listed from the index, one set back to OWED."""
    happen("cancelled")
    now = datetime.now(UTC)

    def lose_the_record(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "TransactWriteItems")

    with on_call(clients.ses(), "before-call.ses.SendRawEmail", lose_the_record):
        assert outbox.deliver(BOB, Effect.CANCELLATION, now=now).outcome == "failed"
    table = settings().requests_table_name
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    key = {"pk": {"S": f"REQUEST#{BOB}"}, "sk": {"S": "OWED#email#cancellation"}}
    # As if SES had taken it and the delivery died: held, its lease long over.
    dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET #state = :sending, leaseUntil = :past",
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues={":sending": {"S": "SENDING"}, ":past": {"S": "2026-01-01T00:00:00.000+00:00"}},
    )
    later = now + timedelta(hours=1)
    assert outbox.reconcile(now=later).uncertain == 1
    listed = dynamodb.query(
        TableName=table,
        IndexName="ByOwed",
        KeyConditionExpression="gsi3pk = :uncertain",
        ExpressionAttributeValues={":uncertain": {"S": "UNCERTAIN"}},
    )["Items"]
    assert [(item["requestId"]["S"], item["effect"]["S"]) for item in listed] == [(BOB, "email#cancellation")]

    dynamodb.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET #state = :owed, gsi3pk = :owed",
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues={":owed": {"S": "OWED"}},
    )
    assert outbox.reconcile(now=later).queued == 1
    deliver_queued()
    (email,) = sent_emails()
    assert "cancelled" in email.subject
    assert owed_items(BOB)["email#cancellation"]["state"] == "DONE"


def test_ses_failing_for_thirty_hours_then_every_owed_email_goes_once(records_of_customers: None) -> None:
    """The clock injected: every 10 minutes of 30 hours the reconciler runs and the queue's deliveries are
    tried, SES refusing all; then SES takes them. Nothing is lost, nothing is sent twice, and what was about
    waiting for a decision made meanwhile is recorded as not needed, not sent."""
    happen(*ALL_EVENTS)
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = settings().delivery_queue_url

    def deliveries_at(moment: datetime) -> None:
        while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                body = json.loads(message["Body"])
                outbox.deliver(body["requestId"], Effect(body["effect"]), now=moment)
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def ses_down(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "SES is down"}}, "SendRawEmail")

    # The clock starts after the last change of the stories (their decision on 14 December).
    owed_at = [item["owedAt"] for request in (ALICE, BOB, CAROL) for item in owed_items(request).values()]
    start = max(datetime.fromisoformat(moment) for moment in owed_at) + timedelta(hours=1)
    with on_call(clients.ses(), "before-parameter-build.ses.SendRawEmail", ses_down):
        moment = start
        while moment < start + timedelta(hours=30):
            outbox.reconcile(now=moment)
            deliveries_at(moment)
            moment += timedelta(minutes=10)
    assert sent_emails() == []
    about_waiting = {"email#reminder", "email#escalation", "email#delay"}  # Alice's, decided: not needed
    owed = [
        item
        for request in (ALICE, BOB, CAROL)
        for item in owed_items(request).values()
        if item["effect"].startswith("email#") and not (request == ALICE and item["effect"] in about_waiting)
    ]
    assert {item["state"] for item in owed} == {"OWED"}
    assert min(item["attempts"] for item in owed) > 10  # tried all along, backing off up to an hour

    for _ in range(7):  # SES is back: within the hour, each one goes
        outbox.reconcile(now=moment)
        deliveries_at(moment)
        moment += timedelta(minutes=10)
    # Alice's request was decided meanwhile: her reminder, escalation and apology for the delay are not needed.
    assert sorted(email.to[0] for email in sent_emails()) == [
        "alice@example.com", "alice@example.com", "bob@example.com", "carol@example.com",
    ]  # fmt: skip
    not_needed = sorted(entry["detail"] for entry in history(ALICE) if entry["event"] == "email not needed")
    assert not_needed == ["delay", "escalation", "reminder"]
    assert outbox.reconcile(now=moment).queued == 0


def test_a_delivery_the_queue_gave_up_on_is_kept_whole_in_the_dead_letter_queue_and_reconciled(
    records_of_customers: None,
) -> None:
    happen("cancelled")
    sqs = boto3.client("sqs", region_name=REGION)
    queue_url = settings().delivery_queue_url
    redrive = json.loads(
        sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    )
    dead_letter_url = sqs.get_queue_url(QueueName=redrive["deadLetterTargetArn"].rsplit(":", 1)[1])["QueueUrl"]
    # Received as often as the redrive policy allows, never deleted (each delivery failed).
    for _ in range(int(redrive["maxReceiveCount"]) + 1):
        sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=0)
    (kept,) = sqs.receive_message(QueueUrl=dead_letter_url, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(kept["Body"]) | {"owedAt": None} == {
        "requestId": BOB,
        "effect": "email#cancellation",
        "owedAt": None,
    }

    # Nobody redrives it: the effect is still owed, and the reconciler queues it again past the grace period.
    later = datetime.now(UTC) + timedelta(seconds=settings().outbox_grace_seconds + 1)
    assert outbox.reconcile(now=later).queued == 1
    deliver_queued()
    assert [email.to for email in sent_emails()] == [("bob@example.com",)]
    # Redriven afterwards (the documented `aws sqs start-message-move-task`), it sends nothing again.
    sqs.send_message(QueueUrl=queue_url, MessageBody=kept["Body"])
    deliver_queued()
    assert len(sent_emails()) == 1
