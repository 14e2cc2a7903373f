"""The refund service: each API operation as one function over the repository, the rules and the
review calendar. Handlers call exactly one of these; they know nothing of tables or policy."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from refund_core.adapters import repository, workflow
from refund_core.adapters.records import RequestRecord
from refund_core.adapters.repository import Page
from refund_core.adapters.settings import settings
from refund_core.app.inputs import ApproveCommand, AssessCommand, RefuseCommand, SubmitRefundRequest
from refund_core.app.resources import RefundRequestResource
from refund_core.errors import Conflict, NotAReviewer, NotFound
from refund_core.http.identity import Caller
from refund_core.observability import count, count_by, logger
from refund_core.policy.approval import approved_refund
from refund_core.policy.calendar import review_timeline
from refund_core.policy.document import current_policy
from refund_core.policy.models import (
    Assessment,
    ClaimFacts,
    Decision,
    HistoryEntry,
    Outcome,
    RefundType,
    RequestStatus,
    RuleId,
)
from refund_core.policy.rules import assess

AUTOMATIC = "auto"
RULES_ACTOR = "rules"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PARTIAL_PATH_RULES = {RuleId.WITHIN_30_DAYS, RuleId.TRAFFIC_UNDER_LIMIT, RuleId.NEW_ORDER}


def _now() -> datetime:
    return datetime.now(UTC)


def new_request_id(now: datetime) -> str:
    """`rr_` + a ULID: 48 bits of milliseconds, then 80 random bits, in Crockford base 32."""
    value = (int(now.timestamp() * 1000) << 80) | secrets.randbits(80)
    return "rr_" + "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _facts(request_username: str, order_id: str, ticket_id: str, received_at: datetime) -> ClaimFacts | None:
    records = repository.load_customer_records(request_username, order_id, ticket_id)
    if records.order is None or records.order.username != request_username:
        return None
    return ClaimFacts(
        received_at=received_at,
        order=records.order,
        usage=records.usage,
        customer=records.customer,
        support_ticket_id=ticket_id,
        support_ticket=records.support_ticket,
        earlier_claims=repository.earlier_claims(request_username),
    )


def _automatic_decision(assessment: Assessment, request_paid: RequestRecord, now: datetime) -> Decision | None:
    automatic = current_policy().automatic_decisions
    if assessment.outcome is Outcome.FULL_REFUND and automatic.full_refund:
        return Decision(
            refund_type=RefundType.FULL,
            amount=request_paid.amount_paid,
            reasons=(),
            decided_at=now,
            decided_by=AUTOMATIC,
        )
    if assessment.outcome is Outcome.REFUSED and automatic.refused:
        return Decision(
            refund_type=None,
            amount=None,
            reasons=tuple(rule.reason for rule in assessment.failed()),
            decided_at=now,
            decided_by=AUTOMATIC,
        )
    return None


def submit_refund_request(
    caller: Caller, command: SubmitRefundRequest, now: datetime | None = None
) -> RefundRequestResource:
    """Record a customer's claim, assess it, decide it at once when the outcome is clear, and start the
    review-deadline workflow for a claim left pending."""
    received_at = now or _now()
    facts = _facts(caller.username, command.order_id, command.support_ticket_id, received_at)
    if facts is None:
        raise NotFound(f"order {command.order_id} not found", field="orderId")
    policy = current_policy()
    assessment = assess(facts, policy, received_at)
    timeline = review_timeline(received_at, policy, settings().review_window_seconds)
    pending = RequestRecord(
        request_id=new_request_id(received_at),
        order_id=command.order_id,
        username=caller.username,
        customer_email=caller.email,
        reason=command.reason,
        support_ticket_id=command.support_ticket_id,
        status=RequestStatus.PENDING,
        received_at=received_at,
        deadline=timeline.deadline,
        reminder_at=timeline.reminder_at,
        assessment=assessment,
        amount_paid=facts.order.amount_paid,
        payment_channel=facts.order.payment_channel,
    )
    history = [
        HistoryEntry(at=received_at, event="received", by=caller.username),
        HistoryEntry(at=received_at, event="assessed", by=RULES_ACTOR, detail=assessment.outcome),
    ]
    decision = _automatic_decision(assessment, pending, received_at)
    if decision is None:
        request = pending
    else:
        status = RequestStatus.APPROVED if decision.refund_type else RequestStatus.REFUSED
        request = pending.model_copy(update={"status": status, "decision": decision})
        history.append(HistoryEntry(at=received_at, event="decided", by=AUTOMATIC, detail=status))
    repository.record_new_request(request, history)
    count("RefundRequestsSubmitted")
    count_by("Assessments", assessment.outcome)
    if request.status is RequestStatus.PENDING:
        _start_review_deadline(request)
    else:
        count_by("Decisions", request.status)
    logger.info("refund request recorded", request_id=request.request_id, outcome=assessment.outcome)
    return RefundRequestResource.of(request.model_copy(update={"history": tuple(history)}))


def _start_review_deadline(request: RequestRecord) -> None:
    """The request is recorded by now: failing the call here would answer a 5xx, and the client's retry would
    meet a 409 for the request it already has. The notifier starts the workflow from the request's INSERT in
    the stream (retrying until it runs), so a failure here is logged and counted, and submit still answers."""
    try:
        workflow.start_review_deadline(request)
    except workflow.WorkflowNotStarted:
        logger.exception(
            "review deadline workflow not started; the notifier will start it", request_id=request.request_id
        )
        count("DeadlineWorkflowStartFailed")


def read_refund_request(caller: Caller, request_id: str) -> RefundRequestResource:
    request = repository.get_request(request_id)
    if request is None or not (caller.is_reviewer or request.username == caller.username):
        raise NotFound(f"refund request {request_id} not found")
    return RefundRequestResource.of(request)


def list_refund_requests(
    caller: Caller, status: RequestStatus | None, limit: int = 50, next_token: str | None = None
) -> Page[RefundRequestResource]:
    """A reviewer sees every customer's requests in one status (PENDING when none is named), oldest
    deadline first; a customer sees only their own."""
    page = repository.list_requests(
        status=status,
        username=None if caller.is_reviewer else caller.username,
        limit=limit,
        next_token=next_token,
    )
    items = sorted(page.items, key=lambda request: (request.deadline, request.request_id))
    return Page(items=tuple(RefundRequestResource.of(item) for item in items), next_token=page.next_token)


def _pending_request_for_review(caller: Caller, request_id: str) -> RequestRecord:
    if not caller.is_reviewer:
        raise NotAReviewer("only refund reviewers may evaluate refund requests")
    request = repository.get_request(request_id)
    if request is None:
        raise NotFound(f"refund request {request_id} not found")
    if request.status is not RequestStatus.PENDING:
        raise Conflict(f"refund request {request_id} is already {request.status.lower()}")
    return request


def evaluate_refund_request(
    caller: Caller,
    request_id: str,
    command: AssessCommand | ApproveCommand | RefuseCommand,
    now: datetime | None = None,
) -> RefundRequestResource:
    """A reviewer re-assesses a pending request on today's facts, or decides it."""
    at = now or _now()
    request = _pending_request_for_review(caller, request_id)
    if isinstance(command, AssessCommand):
        facts = _facts(request.username, request.order_id, request.support_ticket_id, request.received_at)
        if facts is None:
            raise Conflict(f"order {request.order_id} is no longer in the billing records")
        others = tuple(claim for claim in facts.earlier_claims if claim.request_id != request.request_id)
        assessment = assess(facts.model_copy(update={"earlier_claims": others}), current_policy(), at)
        history = [HistoryEntry(at=at, event="assessed", by=caller.username, detail=assessment.outcome)]
        repository.record_assessment(request, assessment, history)
        count_by("Assessments", assessment.outcome)
        return as_written(request, history, assessment=assessment)
    if isinstance(command, ApproveCommand):
        refund_type, amount = approved_refund(
            request.assessment,
            request.amount_paid,
            request.payment_channel,
            command.amount_decimal(),
            current_policy(),
        )
        reasons = tuple(
            rule.reason
            for rule in request.assessment.failed()
            if refund_type is RefundType.PARTIAL and rule.id in _PARTIAL_PATH_RULES
        )
        decision = Decision(
            refund_type=refund_type,
            amount=amount,
            reasons=reasons,
            decided_at=at,
            decided_by=caller.username,
            note=command.note,
        )
        status = RequestStatus.APPROVED
    else:
        decision = Decision(
            refund_type=None,
            amount=None,
            reasons=(*(rule.reason for rule in request.assessment.failed()), command.note),
            decided_at=at,
            decided_by=caller.username,
            note=command.note,
        )
        status = RequestStatus.REFUSED
    history = [HistoryEntry(at=at, event="decided", by=caller.username, detail=status)]
    repository.record_decision(request, status, decision, history)
    count_by("Decisions", status)
    return as_written(request, history, status=status, decision=decision)


def cancel_refund_request(caller: Caller, request_id: str, now: datetime | None = None) -> RefundRequestResource:
    """The customer withdraws a pending request. Cancelling a cancelled request again changes nothing."""
    at = now or _now()
    request = repository.get_request(request_id)
    if request is None or request.username != caller.username:
        raise NotFound(f"refund request {request_id} not found")
    if request.status is RequestStatus.CANCELLED:
        return RefundRequestResource.of(request)
    if request.status is not RequestStatus.PENDING:
        raise Conflict(f"refund request {request_id} is already {request.status.lower()} and cannot be cancelled")
    history = [HistoryEntry(at=at, event="cancelled", by=caller.username)]
    try:
        repository.record_cancellation(request, history)
    except Conflict:
        # Lost a race: a cancellation that lost to another cancellation is still a success.
        current = repository.get_request(request_id)
        if current is not None and current.status is RequestStatus.CANCELLED:
            return RefundRequestResource.of(current)
        raise
    count("RefundRequestsCancelled")
    return as_written(request, history, status=RequestStatus.CANCELLED)


def as_written(
    request: RequestRecord,
    history: list[HistoryEntry],
    *,
    status: RequestStatus | None = None,
    decision: Decision | None = None,
    assessment: Assessment | None = None,
) -> RefundRequestResource:
    """The request as just written: what was read plus the change, without reading it again."""
    update: dict[str, object] = {"version": request.version + 1, "history": (*request.history, *history)}
    if status is not None:
        update["status"] = status
    if decision is not None:
        update["decision"] = decision
    if assessment is not None:
        update["assessment"] = assessment
    return RefundRequestResource.of(request.model_copy(update=update))
