"""The notifier's work on one record of the RequestsTable stream (docs/design.md "What requests owe").

- An owed effect written (an email of a kind, the `RefundDecided` event, each written in the transaction of
  the change that owes it): put on the delivery queue, where refund_core.app.outbox delivers it.
- A pending request written: its review-deadline workflow started. Submit starts it right after recording
  the request; if that call failed, this start (a no-op when the execution exists) repairs it, and a
  failure here fails the record, so the stream retries it until the workflow runs.
- A pending request decided or cancelled: its workflow stopped, so that it bills no more state transitions.
  A stop that fails is logged and counted, not retried: the workflow ends by itself at its next step, when it
  finds the request no longer pending.
- A request that has ended (recorded decided, or decided or cancelled while pending): counted in the service
  levels of the day it was received on (app/reports.py), once however often the stream gives the change.

For the owed effects the stream is only the fast path: an owed effect is durable in the table from its change
on, and the reconciler queues again whatever is still owed after a grace period, so a record the stream gives
up on loses none; the request's count in the service levels the reconciler's daily recount makes up
(app/service_levels.py). Every error raises: the batch processor reports the record as failed and the stream
retries it, while the other records of the batch go on."""

from __future__ import annotations

from typing import TypeGuard
from zoneinfo import ZoneInfo

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from refund_core.adapters import outbound, received_days, workflow
from refund_core.adapters.records import OwedEffect, RequestRecord, RequestStreamRecord
from refund_core.app import policies, reports
from refund_core.app.outbox import delivery
from refund_core.observability import count, logger
from refund_core.policy.models import RequestStatus

# The notifier's batches: each record parsed as the table stores it (a request, an owed effect, other items).
stream_processor = BatchProcessor(event_type=EventType.DynamoDBStreams, model=RequestStreamRecord)


def handle_record(record: RequestStreamRecord) -> None:
    """The batch processor's record handler: raises to report the record as failed. Other items of the table
    (history, claims) call for nothing."""
    old, new = record.dynamodb.OldImage, record.dynamodb.NewImage
    if _has_just_ended(new, old):
        if old is not None:  # decided or cancelled while pending
            _stop_review_deadline(new.request_id)
        _count_service_levels(new)
    if old is not None:
        return
    if isinstance(new, RequestRecord) and new.status is RequestStatus.PENDING:
        workflow.start_review_deadline(new)
    elif isinstance(new, OwedEffect):
        outbound.enqueue_deliveries([delivery(new)])
        count("DeliveriesQueued")


def _has_just_ended(new: object, old: object) -> TypeGuard[RequestRecord]:
    """Recorded decided, or decided or cancelled while pending: a request ends once."""
    return (
        isinstance(new, RequestRecord)
        and new.status is not RequestStatus.PENDING
        and (old is None or (isinstance(old, RequestRecord) and old.status is RequestStatus.PENDING))
    )


def _count_service_levels(ended: RequestRecord) -> None:
    received_on, counts = reports.counted(ended, ZoneInfo(policies.in_force().time_zone))
    received_days.count_ended(ended.request_id, received_on, counts)


def _stop_review_deadline(request_id: str) -> None:
    try:
        workflow.stop_review_deadline(request_id)
    except workflow.WorkflowNotStopped:
        logger.exception("review deadline workflow not stopped; it ends at its next step", request_id=request_id)
        count("DeadlineWorkflowStopFailed")
