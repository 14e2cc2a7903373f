"""Faults injected into the AWS calls (botocore event hooks on refund_core's own clients, on moto), each
showing that nothing is lost and nothing is done twice: SES throttling, a transaction cancelled by a
concurrent writer, Step Functions down after the request was recorded, DynamoDB failing after SES took an
email, and the delivery function dying in the middle of a batch, then the batch delivered again."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from api_support import (
    aws_error,
    call,
    customer_upserted,
    deliver_queued,
    notifier_records,
    on_call,
    owed_items,
    put_images,
    requests_table_items,
    seed_order,
    sent_emails,
    table_stream_records,
)
from boto3.dynamodb.types import TypeSerializer

from refund_core.adapters import clients
from refund_core.adapters.records import Effect
from refund_core.app import outbox
from refund_core.observability import FunctionFailed, metrics
from refund_core.settings import settings
from refund_local.events import api_event, claims_for
from refund_local.handlers import LambdaContext, invoke, load_handler
from refund_local.paths import REPO_ROOT
from refund_local.queues import sqs_event
from refund_local.stack import LocalAws

# An invocation whose every record failed has no metric to publish, and Powertools warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

NOTIFIER = "functions/notifier/"
ALICE = claims_for("alice")
ALICE_PENDING = "rr_01KB4Q7M2X9T3V8E6R5W1Z0H4N"  # events/stream_insert_pending.json
BOB_CANCELLED = "rr_01KB9D3F6G8H2J4K5M7N9P1Q3R"  # events/stream_cancelled.json
CAROL_REFUSED = "rr_01KBB8S2T4V6W8X0Y2Z4A6B8C0"  # events/stream_refused.json
BATCH = ("insert_pending", "cancelled", "refused")


def happen(*names: str) -> None:
    """Each change as its transaction wrote it, and the notifier's work on its stream records."""
    for name in names:
        event = json.loads((REPO_ROOT / "events" / f"stream_{name}.json").read_text(encoding="utf-8"))
        put_images(event)
        assert invoke(NOTIFIER, {"Records": notifier_records(event["Records"])})["batchItemFailures"] == []


@pytest.fixture
def customers(stack: LocalAws) -> None:
    for name in ("alice", "bob", "carol"):
        customer_upserted(name, f"{name}@example.com")


def notify(records: list[dict[str, Any]]) -> list[str]:
    """The sequence numbers of the records the notifier reports failed. When every record fails, Powertools
    raises instead (the runtime sees it as FunctionFailed), and Lambda retries the whole batch: the same for
    the stream."""
    try:
        response = invoke(NOTIFIER, {"Records": records})
    except FunctionFailed:
        return [record["dynamodb"]["SequenceNumber"] for record in records]
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def recipients() -> Counter[str]:
    return Counter(address for email in sent_emails() for address in email.to)


def emails_recorded(request_id: str) -> list[str]:
    """The request's "email sent" history entries, by kind."""
    return sorted(
        item["detail"]
        for item in requests_table_items()
        if item["pk"] == f"REQUEST#{request_id}" and item.get("event") == "email sent"
    )


def executions(stack: LocalAws) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = boto3.client("stepfunctions").list_executions(
        stateMachineArn=stack.state_machine_arn
    )["executions"]
    return found


def submit(order_id: str) -> Any:
    body = {"orderId": order_id, "reason": "It keeps disconnecting.", "supportTicketId": f"T-{order_id}"}
    return call(api_event("POST", "/refund-requests", "/refund-requests", body=body, claims=ALICE))


# ---- SES throttling ----------------------------------------------------------------------------------


def test_ses_throttling_leaves_the_email_owed_until_ses_takes_it_then_one_email(customers: None) -> None:
    throttled: list[str] = []

    def throttle(**_: Any) -> None:
        if len(throttled) < 2:
            throttled.append("Throttling")
            raise aws_error("Throttling", "SendRawEmail", "Maximum sending rate exceeded.")

    happen("cancelled")
    now = datetime.now(UTC)
    with on_call(clients.ses(), "before-call.ses.SendRawEmail", throttle):
        for attempt in range(2):  # each time the queue hands the delivery over again
            assert (
                outbox.deliver(BOB_CANCELLED, Effect.CANCELLATION, now=now + timedelta(minutes=attempt)).outcome
                == "failed"
            )
        assert sent_emails() == []
        assert emails_recorded(BOB_CANCELLED) == []
        assert outbox.deliver(BOB_CANCELLED, Effect.CANCELLATION).outcome == "done"

    assert outbox.deliver(BOB_CANCELLED, Effect.CANCELLATION).outcome == "not owed"  # a redelivery after success
    assert recipients() == Counter({"bob@example.com": 1})
    assert emails_recorded(BOB_CANCELLED) == ["cancellation"]


# ---- a transaction cancelled by a concurrent writer --------------------------------------------------


@pytest.mark.parametrize(
    ("concurrent", "message"),
    [
        (
            {
                "pk": "CUSTOMER#alice",
                "sk": "CLAIMS",
                "username": "alice",
                "openRequestId": "rr_CONCURRENT",
                "version": 1,
            },
            "you already have an open refund request",
        ),
        (
            {
                "pk": "ORDER#ord-1",
                "sk": "CLAIM",
                "orderId": "ord-1",
                "requestId": "rr_CONCURRENT",
                "filings": 1,
                "version": 1,
            },
            "order ord-1 already has a refund request",
        ),
    ],
    ids=["customer-open-claim", "order-claim"],
)
def test_a_claim_taken_between_read_and_transaction_is_409_and_nothing_is_written(
    stack: LocalAws, concurrent: dict[str, Any], message: str
) -> None:
    seed_order("ord-1", days_ago=40)

    def concurrent_submit_commits_first(**_: Any) -> None:
        # Its own client: the request's transaction is the only call the hook sees.
        item = {name: TypeSerializer().serialize(value) for name, value in concurrent.items()}
        boto3.client("dynamodb").put_item(TableName=settings().requests_table_name, Item=item)

    with on_call(clients.dynamodb(), "before-call.dynamodb.TransactWriteItems", concurrent_submit_commits_first):
        response = submit("ord-1")

    assert response.status == 409, response.json
    assert message in response.json["message"]
    # Nothing of the transaction remains (request item, history, owed effects), and the stream holds only the
    # concurrent write: the notifier has nothing to queue.
    assert [item["sk"] for item in requests_table_items()] == [concurrent["sk"]]
    assert [record["eventName"] for record in table_stream_records()] == ["INSERT"]
    assert executions(stack) == []


# ---- Step Functions down after the request was recorded ----------------------------------------------


def test_a_workflow_that_did_not_start_is_started_once_from_the_stream(
    stack: LocalAws, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_order("ord-1", days_ago=40)

    def unavailable(**_: Any) -> None:
        raise aws_error("ServiceUnavailable", "StartExecution", "Service is unavailable.")

    with on_call(clients.stepfunctions(), "before-call.sfn.StartExecution", unavailable):
        with monkeypatch.context() as patch:  # the submit's metrics, as EMF lines on stdout
            patch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
            metrics.clear_metrics()
            response = submit("ord-1")
        # Answered as recorded: a 5xx would make the client retry into a 409 for the request it has.
        assert response.status == 201, response.json
        request_id = response.json["requestId"]
        assert response.json["status"] == "PENDING"
        # The notifier's own start fails too while Step Functions is down: that record is retried.
        (insert,) = [record for record in table_stream_records() if record["dynamodb"]["Keys"]["sk"]["S"] == "REQUEST"]
        assert notify([insert]) == [insert["dynamodb"]["SequenceNumber"]]

    (emitted,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emitted["DeadlineWorkflowStartFailed"] == [1.0]
    assert executions(stack) == []
    assert notify([insert]) == []
    assert notify(notifier_records(table_stream_records())) == []  # the whole stream again: nothing twice
    deliver_queued()
    (execution,) = executions(stack)
    assert execution["name"] == request_id
    assert recipients() == Counter({"alice@example.com": 1})
    assert emails_recorded(request_id) == ["acknowledgement"]


# ---- DynamoDB failing after SES took an email, and a delivery that dies mid-batch ---------------------


def test_a_record_of_an_email_sent_that_fails_once_is_written_again_without_a_second_email(customers: None) -> None:
    happen("cancelled")
    failures: list[str] = []

    def done_write_fails_once(**_: Any) -> None:
        if not failures:
            failures.append("InternalServerError")
            raise aws_error("InternalServerError", "TransactWriteItems", "try again")

    with on_call(clients.dynamodb(), "before-call.dynamodb.TransactWriteItems", done_write_fails_once):
        assert outbox.deliver(BOB_CANCELLED, Effect.CANCELLATION).outcome == "done"
    assert failures == ["InternalServerError"]
    assert recipients() == Counter({"bob@example.com": 1})
    assert emails_recorded(BOB_CANCELLED) == ["cancellation"]
    assert owed_items(BOB_CANCELLED)["email#cancellation"]["state"] == "DONE"


class RuntimeDied(BaseException):
    """What no `except Exception` catches, the batch processor's included: the invocation ends (timeout, out
    of memory, a killed runtime) and the queue delivers the whole batch again."""


def test_a_delivery_that_dies_during_an_ses_call_leaves_that_email_uncertain_and_the_others_go_once(
    customers: None,
) -> None:
    happen(*BATCH)
    sqs = boto3.client("sqs", region_name="ap-southeast-1")
    queue_url = settings().delivery_queue_url
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sends: list[str] = []

    def die_at_the_second_email(**_: Any) -> None:
        sends.append("SendRawEmail")
        if len(sends) == 2:
            raise RuntimeDied

    with on_call(clients.ses(), "before-call.ses.SendRawEmail", die_at_the_second_email), pytest.raises(RuntimeDied):
        load_handler("functions/outbox/")(sqs_event(messages, arn), LambdaContext())
    assert len(sent_emails()) == 1

    # The queue hands the batch over again: what was done is not done again; the email whose SES call died
    # is held (SES may have taken it), and after its lease the reconciler marks it uncertain.
    assert invoke("functions/outbox/", sqs_event(messages, arn)) == {"batchItemFailures": []}
    assert len(sent_emails()) == 2
    later = datetime.now(UTC) + timedelta(seconds=settings().outbox_lease_seconds + settings().outbox_grace_seconds + 1)
    assert outbox.reconcile(now=later).uncertain == 1
    states = Counter(
        item["state"]
        for request in (ALICE_PENDING, BOB_CANCELLED, CAROL_REFUSED)
        for item in owed_items(request).values()
    )
    assert states == Counter({"DONE": 3, "UNCERTAIN": 1})
    assert len(sent_emails()) == 2
