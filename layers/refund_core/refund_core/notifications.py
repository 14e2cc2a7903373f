"""The notifier's work on one record of the RequestsTable stream (docs/design.md "Emails").

From the request item's old and new images it derives the changes that call for an email, sends each
email through SES exactly once per request and kind, appends "email sent" to the request's history, and
for a decision puts one `RefundDecided` event on the bus. "Exactly once" holds across stream redeliveries
and retried invocations: Powertools idempotency records each send under requestId + kind, and history
appends carry a once-key.

It also repairs a submit that recorded a pending request but failed to start its review-deadline
workflow: the INSERT of a PENDING request starts the workflow first (idempotent by execution name), and a
failure there fails the record, so the stream retries it until the workflow runs.

Every error raises: the batch processor reports that record as failed and the stream retries it (then its
dead-letter queue keeps it), while the other records of the batch go on."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from refund_core import clients, deadline_workflow, repository
from refund_core.emails import Email, EmailKind, NoRecipient, StaffAddresses, mime_message, render
from refund_core.models import HistoryEntry, RefundRequest, RequestStatus
from refund_core.observability import count, count_by, logger
from refund_core.policy import current_policy
from refund_core.settings import settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

NOTIFIER = "notifier"
EVENT_SOURCE = "smart-security.refunds"
REFUND_DECIDED = "RefundDecided"
# A stream keeps a record 24 hours: no redelivery can come after the idempotency record expires.
_STREAM_RETENTION_SECONDS = 24 * 60 * 60
_DECIDED = frozenset({RequestStatus.APPROVED, RequestStatus.REFUSED})

_CONFIG = IdempotencyConfig(event_key_jmespath="[requestId, kind]", expires_after_seconds=_STREAM_RETENTION_SECONDS)


class EventNotPublished(RuntimeError):
    """EventBridge accepted the call but not the entry; raised so that the record is retried."""


@dataclass(frozen=True)
class RequestChange:
    """One stream record of a request item: INSERT, MODIFY or REMOVE, with the images it carries."""

    event_name: str
    old: RefundRequest | None
    new: RefundRequest | None


def _image(stream: Mapping[str, Any], name: str) -> RefundRequest | None:
    image = stream.get(name)
    return RefundRequest.model_validate(repository.deserialize(image)) if image else None


def request_change(record: Mapping[str, Any]) -> RequestChange | None:
    """The change a raw stream record describes, or None for an item that is not a refund request
    (the event source's filter lets only request items through; this guards against a missing filter)."""
    stream = record.get("dynamodb") or {}
    keys = repository.deserialize(stream.get("Keys") or {})
    if keys.get("sk") != repository.REQUEST_SK:
        return None
    return RequestChange(
        event_name=str(record.get("eventName")),
        old=_image(stream, "OldImage"),
        new=_image(stream, "NewImage"),
    )


def email_kinds(change: RequestChange) -> tuple[EmailKind, ...]:
    """The emails a change calls for, per docs/design.md's table."""
    old, new = change.old, change.new
    if new is None:
        return ()
    if change.event_name == "INSERT":
        if new.status is RequestStatus.PENDING:
            return (EmailKind.ACKNOWLEDGEMENT,)
        return (EmailKind.DECISION,) if new.status in _DECIDED else ()
    if change.event_name != "MODIFY" or old is None:
        return ()
    kinds: list[EmailKind] = []
    if new.status in _DECIDED and old.status not in _DECIDED:
        kinds.append(EmailKind.DECISION)
    if old.status is RequestStatus.PENDING and new.status is RequestStatus.CANCELLED:
        kinds.append(EmailKind.CANCELLATION)
    if new.status is RequestStatus.PENDING:
        if new.reminded and not old.reminded:
            kinds.append(EmailKind.REMINDER)
        if new.overdue and not old.overdue:
            kinds.append(EmailKind.ESCALATION)
    return tuple(kinds)


def decided_event_detail(request: RefundRequest) -> dict[str, Any]:
    decision = request.decision
    return {
        "requestId": request.request_id,
        "orderId": request.order_id,
        "username": request.username,
        "status": str(request.status),
        "refundType": str(decision.refund_type) if decision and decision.refund_type else None,
        "amount": decision.amount.model_dump(mode="json") if decision and decision.amount else None,
    }


def _send_email(notification: dict[str, Any]) -> dict[str, str]:
    email = Email(**notification["email"])
    arguments: dict[str, Any] = {
        "Source": settings().sender_email,
        # No Destinations: SES takes them from the To header (naming them twice would send twice).
        "RawMessage": {"Data": mime_message(email, settings().sender_email)},
    }
    if settings().ses_configuration_set:
        arguments["ConfigurationSetName"] = settings().ses_configuration_set
    response = clients.ses().send_raw_email(**arguments)
    count_by("EmailsSent", notification["kind"])
    return {"messageId": response["MessageId"]}


def _put_decided_event(notification: dict[str, Any]) -> dict[str, str]:
    response = clients.eventbridge().put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": REFUND_DECIDED,
                "Detail": json.dumps(notification["detail"]),
                "EventBusName": settings().event_bus_name,
            }
        ]
    )
    entry = response["Entries"][0]
    if response.get("FailedEntryCount") or "EventId" not in entry:
        raise EventNotPublished(f"{REFUND_DECIDED}: {entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    count(f"{REFUND_DECIDED}Published")
    return {"eventId": entry["EventId"]}


@dataclass(frozen=True)
class _Once:
    send_email: Callable[..., dict[str, str]]
    put_decided_event: Callable[..., dict[str, str]]


@cache
def _once() -> _Once:
    # Built on first use: the persistence layers need the table name from the settings. The key prefixes
    # keep the keys independent of the deployed function's name.
    def once(function: Callable[[dict[str, Any]], dict[str, str]], key_prefix: str) -> Callable[..., dict[str, str]]:
        persistence = DynamoDBPersistenceLayer(
            table_name=settings().idempotency_table_name, boto3_client=clients.dynamodb()
        )
        decorate = idempotent_function(
            data_keyword_argument="notification", persistence_store=persistence, config=_CONFIG, key_prefix=key_prefix
        )
        wrapped: Callable[..., dict[str, str]] = decorate(function)
        return wrapped

    return _Once(
        send_email=once(_send_email, "notifier.email"),
        put_decided_event=once(_put_decided_event, "notifier.event"),
    )


def register_lambda_context(context: Any) -> None:
    """Lets an in-progress record expire with the invocation, so that a crashed attempt can be retried."""
    _CONFIG.register_lambda_context(context)


def reset() -> None:
    """Forget the idempotent senders (tests and the local runner start a fresh emulated AWS)."""
    _once.cache_clear()


def _now() -> datetime:
    return datetime.now(UTC)


def _staff() -> StaffAddresses:
    return StaffAddresses(reviewers=settings().reviewers_email, supervisors=settings().supervisors_email)


def send_email_once(kind: EmailKind, request: RefundRequest) -> None:
    try:
        email = render(kind, request, current_policy(), _staff())
    except NoRecipient:
        # Nothing to retry: no later attempt can find an address the request never recorded.
        logger.warning("no address for a customer email", request_id=request.request_id, kind=kind)
        count_by("EmailsWithoutAddress", kind)
        return
    notification = {"requestId": request.request_id, "kind": str(kind), "email": asdict(email)}
    _once().send_email(notification=notification)
    entry = HistoryEntry(at=_now(), event="email sent", by=NOTIFIER, detail=str(kind))
    repository.append_history_once(request.request_id, entry, once_key=f"email#{kind}")
    logger.info("email sent", request_id=request.request_id, kind=kind)


def publish_decision_once(request: RefundRequest) -> None:
    notification = {"requestId": request.request_id, "kind": "refund-decided", "detail": decided_event_detail(request)}
    _once().put_decided_event(notification=notification)
    entry = HistoryEntry(at=_now(), event=f"{REFUND_DECIDED} published", by=NOTIFIER)
    repository.append_history_once(request.request_id, entry, once_key=f"event#{REFUND_DECIDED}")


def handle_change(change: RequestChange) -> None:
    new = change.new
    if new is None:
        return
    if change.event_name == "INSERT" and new.status is RequestStatus.PENDING:
        # Submit starts the workflow right after recording the request; if that call failed, this
        # start (a no-op when the execution exists) repairs it, retried with the record until it works.
        deadline_workflow.start_review_deadline(new)
    kinds = email_kinds(change)
    if EmailKind.DECISION in kinds:
        # Before the emails: the event moves the money, and an email outage must not hold it back.
        publish_decision_once(new)
    for kind in kinds:
        send_email_once(kind, new)


def handle_record(record: DynamoDBRecord) -> None:
    """The batch processor's record handler: raises to report the record as failed."""
    change = request_change(record.raw_event)
    if change is None:
        logger.debug("not a refund request item: ignored", event_id=record.event_id)
        return
    handle_change(change)
