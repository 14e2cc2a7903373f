"""A request's questions to its customer and their answers, in the requests table: each a conditional write on
the pending request, with its history and, for a question, the email it owes (owed again with each question:
one question at a time is open, so its email always says the latest)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from refund_core.adapters.dynamo import serialize
from refund_core.adapters.owed_effects import owe_once_more
from refund_core.adapters.records import Effect, RequestRecord
from refund_core.adapters.repository import pending_update, transact_on_pending
from refund_core.adapters.requests_table import (
    history_put,
    history_puts,
    request_key,
    transact,
    transact_or_conflict,
)
from refund_core.errors import Conflict
from refund_core.policy.models import HistoryEntry, QuestionToCustomer, RequestStatus, utc_iso
from refund_core.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef


def _question_email_owed(request_id: str, at: datetime) -> TransactWriteItemTypeDef:
    """The question's email, owed: new, owed again once the last was sent, or still owed (its delivery renders
    the question open when it runs: checked to be still waiting)."""
    return owe_once_more(
        request_id,
        Effect.QUESTION,
        at,
        "the last question's email is being sent this moment; ask again in a few seconds",
    )


def record_question(request: RequestRecord, question: QuestionToCustomer, history: Iterable[HistoryEntry]) -> None:
    """The question asked on the version of the pending request read (in place of the last one, answered or
    not), the customer-answered marker cleared, and its email owed."""
    update = pending_update(
        request,
        "question = :question",
        {":question": question.model_dump(mode="json", by_alias=True, exclude_none=True)},
        RequestStatus.PENDING,
        remove="customerAnsweredAt",
    )
    owed = _question_email_owed(request.request_id, question.asked_at)
    transact_on_pending(request, [update, owed, *history_puts(request.request_id, history)])


def _answered(request: RequestRecord, at: datetime, condition: str, values: dict[str, Any]) -> TransactWriteItemTypeDef:
    answered = ", question.answeredAt = if_not_exists(question.answeredAt, :at)" if request.question else ""
    return {
        "Update": {
            "TableName": settings().requests_table_name,
            "Key": request_key(request.request_id),
            # A new version: a decision made on the version before the answer was read without it.
            "UpdateExpression": f"SET customerAnsweredAt = :at, version = version + :one{answered}",
            "ConditionExpression": f"#status = :pending AND {condition}",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": serialize(
                {**values, ":at": utc_iso(at), ":one": 1, ":pending": str(RequestStatus.PENDING)}
            ),
        }
    }


def record_answer(request: RequestRecord, at: datetime, history: Iterable[HistoryEntry]) -> None:
    """The customer's answer to the open question they read: a Conflict when it is no longer open (answered
    meanwhile, or the request decided or cancelled)."""
    if request.question is None or not request.waits_for_the_customer:
        raise Conflict(
            f"refund request {request.request_id} has no question waiting for your answer", code="no_question"
        )
    update = _answered(
        request,
        at,
        "question.askedAt = :asked AND attribute_not_exists(question.answeredAt)",
        {":asked": utc_iso(request.question.asked_at)},
    )
    transact_or_conflict(
        [update, *history_puts(request.request_id, history)],
        f"refund request {request.request_id} has no question waiting for your answer any more; read it again",
        "no_question",
    )


def record_written_answer(request: RequestRecord, at: datetime, entry: HistoryEntry, letter_id: str) -> None:
    """A customer's reply to one of the request's emails, kept once per letter (a second delivery of the same
    letter writes the same entry again): on a pending request it also answers the question asked last and
    marks the request answered; on a decided or cancelled one it is only kept in the history."""
    history = history_put(request.request_id, entry, f"answer#{letter_id}")
    if request.status is not RequestStatus.PENDING:
        transact([history])
        return
    try:
        transact([_answered(request, at, "version = :seen", {":seen": request.version}), history])
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        transact([history])  # changed meanwhile (decided, asked again...): the answer is still kept
