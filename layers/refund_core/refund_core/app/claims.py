"""Submitting a claim: the customer's facts read, judged by the policy in force, recorded once (one claim at a
time, within the filing limits), decided at once when the outcome is clear, else given its review deadline;
and the check a customer makes before sending one."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime, timedelta

from refund_core.adapters import customer_claims, repository, workflow
from refund_core.adapters.customer_claims import ClaimContext, ClaimsChanged
from refund_core.adapters.records import RequestRecord
from refund_core.app import payouts, policies
from refund_core.app.inputs import (
    SubmitRefundRequest,
)
from refund_core.app.resources import (
    AUTOMATIC,
    LETTER_ACTOR,
    RULES_ACTOR,
    ClaimCheck,
    RefundRequestResource,
)
from refund_core.app.service import effects_owed, moment_now, resource_of
from refund_core.errors import (
    ClaimsKeptChanging,
    Conflict,
    LimitReached,
    OrderNotFound,
)
from refund_core.http.identity import Caller
from refund_core.observability import count, count_by, logger
from refund_core.policy.calendar import review_timeline
from refund_core.policy.document import Policy
from refund_core.policy.models import (
    AssessedFacts,
    Assessment,
    ClaimFacts,
    Decision,
    HistoryEntry,
    LetterReference,
    Outcome,
    RefundType,
    RequestStatus,
)
from refund_core.policy.rules import (
    assess,
    decided_when_received,
    is_a_claim_under_the_policy,
    would_be_a_claim_under_the_policy,
)
from refund_core.settings import settings

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# A claim judged while another claim of the customer was recorded is judged again with it counted; a race
# lost this many times in a row is answered with a 409.
JUDGING_TRIES = 4


def new_request_id(now: datetime) -> str:
    """`rr_` + a ULID: 48 bits of milliseconds, then 80 random bits, in Crockford base 32."""
    value = (int(now.timestamp() * 1000) << 80) | secrets.randbits(80)
    return "rr_" + "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def claim_facts_of(context: ClaimContext, ticket_id: str, received_at: datetime) -> ClaimFacts:
    records = context.records
    assert records.order is not None  # checked by every caller
    return ClaimFacts(
        received_at=received_at,
        order=records.order,
        usage=records.usage,
        customer=records.customer,
        support_ticket_id=ticket_id,
        support_ticket=records.support_ticket,
        earlier_claims=context.claims.earlier_claims(),
    )


def _automatic_decision(
    assessment: Assessment, request_paid: RequestRecord, policy: Policy, now: datetime
) -> Decision | None:
    if not decided_when_received(assessment.outcome, policy):
        return None
    if assessment.outcome is Outcome.FULL_REFUND:
        return Decision(
            refund_type=RefundType.FULL,
            amount=request_paid.amount_paid.rounded_down(),
            reasons=(),
            decided_at=now,
            decided_by=AUTOMATIC,
        )
    return Decision(
        refund_type=None,
        amount=None,
        reasons=tuple(rule.reason for rule in assessment.failed()),
        grounds=assessment.failed(),
        decided_at=now,
        decided_by=AUTOMATIC,
    )


def _check_claimable(context: ClaimContext, order_id: str, policy: Policy, received_at: datetime) -> None:
    """One claim at a time (POLICY-RULES.md), and no more claims than the filing limits allow."""
    if context.claims.open_request_id is not None:
        raise Conflict(
            "you already have an open refund request; wait for its decision or cancel it", code="open_request_exists"
        )
    if context.order_claim.request_id is not None:
        raise Conflict(
            f"order {order_id} already has a refund request",
            field="orderId",
            code="order_has_request",
            params={"order": order_id},
        )
    limits = policy.filing_limits
    if context.order_claim.filings >= limits.per_order:
        raise LimitReached(
            f"order {order_id} has had {context.order_claim.filings} refund requests, the most the Refund Policy "
            f"allows for one order ({limits.per_order}); please contact our customer support",
            field="orderId",
            code="order_limit_reached",
            params={"order": order_id, "limit": limits.per_order},
        )
    since = received_at - timedelta(days=limits.per_customer_days)
    if context.claims.filings_since(since) >= limits.per_customer:
        raise LimitReached(
            f"you have filed {limits.per_customer} refund requests in the last {limits.per_customer_days} days, the "
            "most the Refund Policy allows; please contact our customer support",
            field="orderId",
            code="customer_limit_reached",
            params={"limit": limits.per_customer, "days": limits.per_customer_days},
        )


def _claim_context(caller: Caller, order_id: str, ticket_id: str) -> ClaimContext:
    """What a claim on the order is judged on; a 404 when the order is not the caller's."""
    context = customer_claims.load_claim_context(caller.username, order_id, ticket_id)
    order = context.records.order
    if order is None or order.username != caller.username:
        raise OrderNotFound(order_id)
    # An order billing moved to this customer: what its owner before filed is not theirs to answer for.
    return replace(context, order_claim=context.order_claim.for_owner(caller.username))


def check_claim(caller: Caller, order_id: str, ticket_id: str, now: datetime | None = None) -> ClaimCheck:
    """What the policy in force would say of a claim on the order sent now, on the customer's own facts, refused as
    submit would refuse it (404, 409, 429). Nothing is recorded: the customer checks before using up a claim."""
    context = _claim_context(caller, order_id, ticket_id)
    checked_at = now or moment_now()
    policy = policies.in_force(checked_at)
    _check_claimable(context, order_id, policy, checked_at)
    assessment = assess(claim_facts_of(context, ticket_id, checked_at), policy, checked_at)
    return ClaimCheck(
        order_id=order_id,
        assessment=assessment,
        decided_at_once=decided_when_received(assessment.outcome, policy),
        uses_the_one_claim=would_be_a_claim_under_the_policy(assessment),
        cancelling_frees_the_claim=not policy.cancelled_claims_count,
    )


def submit_refund_request(
    caller: Caller, command: SubmitRefundRequest, now: datetime | None = None, letter: LetterReference | None = None
) -> RefundRequestResource:
    """Record a customer's claim, assess it, decide it at once when the outcome is clear, and start the
    review-deadline workflow for a claim left pending. The claim is judged on the customer's claims as read
    with strong consistency, and recorded only if they are still as read: a claim that loses that race to
    another of the customer's is judged again with the winner counted. `letter`: the claim came by letter
    (LETTERS.md), which its history names and its emails answer."""
    for _ in range(JUDGING_TRIES):
        context = _claim_context(caller, command.order_id, command.support_ticket_id)
        # Received once its claims are read: a claim of the customer recorded before that read was received
        # before it, so it counts as the earlier claim (one recorded after the read fails our condition). Taken
        # before the read, a slow read (a cold start) could see a claim received later that, judged without
        # this one, was approved too.
        received_at = now or moment_now()
        policy = policies.in_force(received_at)
        order = context.records.order
        assert order is not None  # checked by _claim_context
        _check_claimable(context, command.order_id, policy, received_at)
        facts = claim_facts_of(context, command.support_ticket_id, received_at)
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
            facts=AssessedFacts.of(facts),
            amount_paid=order.amount_paid,
            payment_channel=order.payment_channel,
            letter=letter,
        )
        received = (
            HistoryEntry(at=received_at, event="received", by=LETTER_ACTOR, detail=letter.identity)
            if letter
            else HistoryEntry(at=received_at, event="received", by=caller.username)
        )
        history = [
            received,
            HistoryEntry(at=received_at, event="assessed", by=RULES_ACTOR, detail=assessment.outcome),
        ]
        decision = _automatic_decision(assessment, pending, policy, received_at)
        payout = None
        if decision is None:
            request = pending
        else:
            status = RequestStatus.APPROVED if decision.refund_type else RequestStatus.REFUSED
            request = pending.model_copy(update={"status": status, "decision": decision})
            history.append(HistoryEntry(at=received_at, event="decided", by=AUTOMATIC, detail=status))
            if decision.amount is not None:
                payout = payouts.payout_of_approval(request, decision.amount, policy, received_at)
                request = request.model_copy(update={"payout": payout})
        try:
            repository.record_new_request(
                request,
                history,
                (*effects_owed(None, request), *(payouts.owed_by(payout) if payout else ())),
                context=context,
                claims=context.claims.after_filing(
                    request,
                    policy.filing_limits.per_customer,
                    a_claim=is_a_claim_under_the_policy(request.status, assessment),
                ),
                order_claim=context.order_claim.after_filing(request.request_id, caller.username),
                payout=payout,
            )
        except ClaimsChanged:
            count("ClaimsJudgedAgain")
            continue
        break
    else:
        raise ClaimsKeptChanging("your claims changed while this one was being judged; send it again")
    count("RefundRequestsSubmitted")
    count_by("Assessments", assessment.outcome)
    if request.status is RequestStatus.PENDING:
        _start_review_deadline(request)
    else:
        count_by("Decisions", request.status)
    logger.info("refund request recorded", request_id=request.request_id, outcome=assessment.outcome)
    recorded = request.model_copy(update={"history": tuple(history)})
    return resource_of(recorded, caller, received_at)


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
