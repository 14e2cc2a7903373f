"""Faults injected into the AWS calls (botocore event hooks on refund_core's own clients, on moto), each
showing that nothing is lost and nothing is done twice: SES throttling, a transaction cancelled by a
concurrent writer, Step Functions down after the request was recorded, and the notifier failing or
crashing in the middle of a batch, then the batch delivered again."""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import boto3
import pytest
from api_support import (
    EVENTS,
    aws_error,
    call,
    on_call,
    requests_table_items,
    seed_order,
    sent_emails,
    table_stream_records,
)
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from refund_core.adapters import clients
from refund_core.adapters.settings import settings
from refund_core.observability import metrics
from refund_local.events import api_event, claims_for
from refund_local.handlers import LambdaContext, invoke, load_handler
from refund_local.stack import LocalAws

# An invocation whose every record failed has no metric to publish, and Powertools warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish:UserWarning")

NOTIFIER = "functions/notifier/"
ALICE = claims_for("alice")
ALICE_PENDING = "rr_01KB4Q7M2X9T3V8E6R5W1Z0H4N"  # events/stream_insert_pending.json
BOB_CANCELLED = "rr_01KB9D3F6G8H2J4K5M7N9P1Q3R"  # events/stream_cancelled.json
CAROL_REFUSED = "rr_01KBB8S2T4V6W8X0Y2Z4A6B8C0"  # events/stream_refused.json
BATCH = ("insert_pending", "cancelled", "refused")
EVERY_EMAIL_ONCE = Counter({"alice@example.com": 1, "bob@example.com": 1, "carol@example.com": 1})


def stream_record(name: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((EVENTS / f"stream_{name}.json").read_text(encoding="utf-8"))["Records"][0]
    return record


def notify(records: list[dict[str, Any]]) -> list[str]:
    """The sequence numbers of the records the notifier reports failed. When every record fails, Powertools
    raises instead, and Lambda retries the whole batch: the same for the stream."""
    try:
        response = invoke(NOTIFIER, {"Records": records})
    except BatchProcessingError:
        return [sequence(record) for record in records]
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


def sequence(record: dict[str, Any]) -> str:
    number: str = record["dynamodb"]["SequenceNumber"]
    return number


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


def test_ses_throttling_fails_the_record_until_ses_takes_it_then_one_email(stack: LocalAws) -> None:
    throttled: list[str] = []

    def throttle(**_: Any) -> None:
        if len(throttled) < 2:
            throttled.append("Throttling")
            raise aws_error("Throttling", "SendRawEmail", "Maximum sending rate exceeded.")

    cancelled = stream_record("cancelled")
    with on_call(clients.ses(), "before-call.ses.SendRawEmail", throttle):
        for _ in range(2):  # the stream retries the failed record
            assert notify([cancelled]) == [sequence(cancelled)]
        assert len(throttled) == 2
        assert sent_emails() == []
        assert emails_recorded(BOB_CANCELLED) == []
        assert notify([cancelled]) == []

    assert notify([cancelled]) == []  # a redelivery after success changes nothing
    assert recipients() == Counter({"bob@example.com": 1})
    assert emails_recorded(BOB_CANCELLED) == ["cancellation"]


# ---- a transaction cancelled by a concurrent writer --------------------------------------------------


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ({"pk": "CUSTOMER#alice", "sk": "OPEN_CLAIM"}, "you already have an open refund request"),
        ({"pk": "ORDER#ord-1", "sk": "CLAIM"}, "order ord-1 already has a refund request"),
    ],
    ids=["customer-open-claim", "order-claim"],
)
def test_a_claim_taken_between_read_and_transaction_is_409_and_nothing_is_written(
    stack: LocalAws, marker: dict[str, str], message: str
) -> None:
    seed_order("ord-1", days_ago=40)
    other = {**marker, "requestId": "rr_CONCURRENT"}

    def concurrent_submit_commits_first(**_: Any) -> None:
        # Its own client: the request's transaction is the only call the hook sees.
        boto3.client("dynamodb").put_item(
            TableName=settings().requests_table_name, Item={name: {"S": value} for name, value in other.items()}
        )

    with on_call(clients.dynamodb(), "before-call.dynamodb.TransactWriteItems", concurrent_submit_commits_first):
        response = submit("ord-1")

    assert response.status == 409, response.json
    assert message in response.json["message"]
    # Nothing of the transaction remains (request item, history, the other claim), and the stream holds only
    # the concurrent write: the notifier has nothing to acknowledge.
    assert requests_table_items() == [other]
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
        # The notifier's own start fails too while Step Functions is down: the record is retried, and the
        # workflow comes before the acknowledgement.
        (insert,) = [record for record in table_stream_records() if record["dynamodb"]["Keys"]["sk"]["S"] == "REQUEST"]
        assert notify([insert]) == [sequence(insert)]
        assert sent_emails() == []

    (emitted,) = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emitted["DeadlineWorkflowStartFailed"] == [1.0]
    assert executions(stack) == []
    assert [item["requestId"] for item in requests_table_items() if item["sk"] == "REQUEST"] == [request_id]

    assert notify([insert]) == []
    assert notify(table_stream_records()) == []  # the whole stream again: nothing twice
    (execution,) = executions(stack)
    assert execution["name"] == request_id
    assert recipients() == Counter({"alice@example.com": 1})
    assert emails_recorded(request_id) == ["acknowledgement"]


# ---- the notifier failing, or crashing, in the middle of a batch -------------------------------------


def test_a_record_failing_after_its_email_went_out_is_retried_without_a_second_email(stack: LocalAws) -> None:
    batch = [stream_record(name) for name in BATCH]

    def history_write_fails(params: dict[str, Any], **_: Any) -> None:
        if params["Item"].get("sk") == {"S": "HISTORY#email#cancellation"}:
            raise aws_error("ProvisionedThroughputExceededException", "PutItem", "Rate of requests exceeds the limit.")

    with on_call(clients.dynamodb(), "before-parameter-build.dynamodb.PutItem", history_write_fails):
        assert notify(batch) == [sequence(batch[1])]
    assert recipients() == EVERY_EMAIL_ONCE  # bob's email was sent before its record failed
    assert emails_recorded(BOB_CANCELLED) == []

    # Lambda resends from the failed record on; a bisected or retried batch resends all of it.
    assert notify(batch[1:]) == []
    assert notify(batch) == []
    assert recipients() == EVERY_EMAIL_ONCE
    assert emails_recorded(ALICE_PENDING) == ["acknowledgement"]
    assert emails_recorded(BOB_CANCELLED) == ["cancellation"]
    assert emails_recorded(CAROL_REFUSED) == ["decision"]


class RuntimeDied(BaseException):
    """What no `except Exception` catches, the batch processor's included: the invocation ends (timeout, out
    of memory, a killed runtime) and Lambda delivers the whole batch again."""


class LastMoments(LambdaContext):
    """An invocation about to time out: Powertools holds an in-progress record only for the time left."""

    def get_remaining_time_in_millis(self) -> int:
        return 50


def test_a_crash_between_two_emails_then_the_batch_again_sends_each_email_once(stack: LocalAws) -> None:
    batch = [stream_record(name) for name in BATCH]
    sends: list[str] = []

    def crash_at_the_second_email(**_: Any) -> None:
        sends.append("SendRawEmail")
        if len(sends) == 2:
            raise RuntimeDied

    with on_call(clients.ses(), "before-call.ses.SendRawEmail", crash_at_the_second_email), pytest.raises(RuntimeDied):
        load_handler(NOTIFIER)({"Records": batch}, LastMoments())
    assert recipients() == Counter({"alice@example.com": 1})

    # The crashed invocation's hold on bob's email ends with its time; Lambda's retry comes after that.
    time.sleep(0.2)
    assert notify(batch) == []
    assert notify(batch) == []
    assert recipients() == EVERY_EMAIL_ONCE
    assert emails_recorded(ALICE_PENDING) == ["acknowledgement"]
    assert emails_recorded(BOB_CANCELLED) == ["cancellation"]
    assert emails_recorded(CAROL_REFUSED) == ["decision"]
