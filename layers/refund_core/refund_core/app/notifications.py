"""The notifier's work on one record of the RequestsTable stream (docs/design.md "Emails").

From the request item's old and new images (refund_core.adapters.records) it takes the emails the change
calls for (refund_core.policy.emails), sends each through SES exactly once per request and kind, appends
"email sent" to the request's history, and for a decision puts one `RefundDecided` event on the bus.
"Exactly once" holds across stream redeliveries and retried invocations: Powertools idempotency records
each send under requestId + kind, and history appends carry a once-key.

It also repairs a submit that recorded a pending request but failed to start its review-deadline
workflow: the INSERT of a PENDING request starts the workflow first (idempotent by execution name), and a
failure there fails the record, so the stream retries it until the workflow runs.

Every error raises: the batch processor reports that record as failed and the stream retries it (then its
dead-letter queue keeps it), while the other records of the batch go on."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from refund_core.adapters import outbound, repository, workflow
from refund_core.adapters.records import RequestRecord, RequestStreamRecord
from refund_core.adapters.settings import settings
from refund_core.app.idempotency import once_per_request_and_kind
from refund_core.observability import count, count_by, logger
from refund_core.policy.document import current_policy
from refund_core.policy.emails import Email, EmailKind, NoRecipient, Recipients, emails_owed, render
from refund_core.policy.models import HistoryEntry, RequestStatus

NOTIFIER = "notifier"
REFUND_DECIDED = "RefundDecided"


def decided_event_detail(request: RequestRecord) -> dict[str, Any]:
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
    message_id = outbound.send_email(Email(**notification["email"]))
    count_by("EmailsSent", notification["kind"])
    return {"messageId": message_id}


def _publish_decision(notification: dict[str, Any]) -> dict[str, str]:
    event_id = outbound.publish_event(REFUND_DECIDED, notification["detail"])
    count(f"{REFUND_DECIDED}Published")
    return {"eventId": event_id}


def _now() -> datetime:
    return datetime.now(UTC)


def _recipients(request: RequestRecord) -> Recipients:
    return Recipients(
        customer=request.customer_email,
        reviewers=settings().reviewers_email,
        supervisors=settings().supervisors_email,
    )


def send_email_once(kind: EmailKind, request: RequestRecord) -> None:
    try:
        email = render(kind, request, current_policy(), _recipients(request))
    except NoRecipient:
        # Nothing to retry: no later attempt can find an address the request never recorded.
        logger.warning("no address for a customer email", request_id=request.request_id, kind=kind)
        count_by("EmailsWithoutAddress", kind)
        return
    notification = {"requestId": request.request_id, "kind": str(kind), "email": asdict(email)}
    once_per_request_and_kind("notifier.email", _send_email)(notification=notification)
    entry = HistoryEntry(at=_now(), event="email sent", by=NOTIFIER, detail=str(kind))
    repository.append_history_once(request.request_id, entry, once_key=f"email#{kind}")
    logger.info("email sent", request_id=request.request_id, kind=kind)


def publish_decision_once(request: RequestRecord) -> None:
    notification = {"requestId": request.request_id, "kind": "refund-decided", "detail": decided_event_detail(request)}
    once_per_request_and_kind("notifier.event", _publish_decision)(notification=notification)
    entry = HistoryEntry(at=_now(), event=f"{REFUND_DECIDED} published", by=NOTIFIER)
    repository.append_history_once(request.request_id, entry, once_key=f"event#{REFUND_DECIDED}")


def handle_change(old: RequestRecord | None, new: RequestRecord | None) -> None:
    if new is None:
        return
    if old is None and new.status is RequestStatus.PENDING:
        # Submit starts the workflow right after recording the request; if that call failed, this
        # start (a no-op when the execution exists) repairs it, retried with the record until it works.
        workflow.start_review_deadline(new)
    kinds = emails_owed(old, new)
    if EmailKind.DECISION in kinds:
        # Before the emails: the event moves the money, and an email outage must not hold it back.
        publish_decision_once(new)
    for kind in kinds:
        send_email_once(kind, new)


def handle_record(record: RequestStreamRecord) -> None:
    """The batch processor's record handler: raises to report the record as failed. Items other than
    requests (history, claim markers) call for nothing."""
    old, new = record.dynamodb.OldImage, record.dynamodb.NewImage
    if isinstance(new, RequestRecord) or isinstance(old, RequestRecord):
        handle_change(old if isinstance(old, RequestRecord) else None, new if isinstance(new, RequestRecord) else None)
