"""The refund service: each API operation as one function over the repository, the rules and the
review calendar. Handlers call exactly one of these; they know nothing of tables or policy."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from refund_core.adapters import customer_records, repository, request_reads, workflow
from refund_core.adapters.dynamo import Page
from refund_core.adapters.records import Effect, ReportedRequest, RequestRecord
from refund_core.adapters.repository import ClaimContext, ClaimsChanged, RequestFilter
from refund_core.adapters.settings import settings
from refund_core.app import payouts, policies, questions, reports
from refund_core.app.inputs import (
    AnswerQuestion,
    ApproveCommand,
    AskCustomerCommand,
    AssessCommand,
    ConfirmApprovalCommand,
    EvaluateAction,
    ReleaseCommand,
    SubmitRefundRequest,
    TakeCommand,
    check_period,
)
from refund_core.app.policies import hong_kong_day_start
from refund_core.app.resources import (
    AUTOMATIC,
    INTERNAL_NOTE,
    LETTER_ACTOR,
    RULES_ACTOR,
    ClaimCheck,
    OrderList,
    OrderRefundRequest,
    OrderResource,
    QueueCounts,
    RefundRequestResource,
)
from refund_core.errors import (
    ClaimsKeptChanging,
    Conflict,
    LimitReached,
    NotAReviewer,
    NotASupervisor,
    NotFound,
    OwnApproval,
    OwnClaim,
)
from refund_core.http.identity import Caller
from refund_core.observability import count, count_by, logger
from refund_core.policy.approval import approved_refund
from refund_core.policy.calendar import ReviewCalendar, review_timeline
from refund_core.policy.document import Policy
from refund_core.policy.emails import emails_owed
from refund_core.policy.models import (
    AssessedFacts,
    Assessment,
    ClaimFacts,
    Decision,
    HistoryEntry,
    LetterReference,
    Outcome,
    ProposedApproval,
    RefundRequest,
    RefundType,
    RequestStatus,
    RuleId,
)
from refund_core.policy.payouts import Payout
from refund_core.policy.rules import (
    assess,
    decided_when_received,
    is_a_claim_under_the_policy,
    would_be_a_claim_under_the_policy,
)

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PARTIAL_PATH_RULES = {RuleId.WITHIN_30_DAYS, RuleId.TRAFFIC_UNDER_LIMIT, RuleId.NEW_ORDER}
# A claim judged while another claim of the customer was recorded is judged again with it counted; a race
# lost this many times in a row is answered with a 409.
JUDGING_TRIES = 4
# The history entry that says which version a reviewer's re-assessment applied.
POLICY_APPLIED = {"receipt": "policy at receipt", "current": "current policy"}
# The supervisors' reports: the last 30 days unless a period is named.
REPORT_DAYS = 30


def _now() -> datetime:
    return datetime.now(UTC)


def new_request_id(now: datetime) -> str:
    """`rr_` + a ULID: 48 bits of milliseconds, then 80 random bits, in Crockford base 32."""
    value = (int(now.timestamp() * 1000) << 80) | secrets.randbits(80)
    return "rr_" + "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _facts(context: ClaimContext, ticket_id: str, received_at: datetime) -> ClaimFacts:
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


def effects_owed(old: RefundRequest | None, new: RefundRequest) -> tuple[Effect, ...]:
    """The emails the change calls for (policy.emails), and the decision event when it decides."""
    effects = [Effect(f"email#{kind}") for kind in emails_owed(old, new)]
    decided = {RequestStatus.APPROVED, RequestStatus.REFUSED}
    if new.status in decided and (old is None or old.status not in decided):
        effects.append(Effect.REFUND_DECIDED)
    return tuple(effects)


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
    context = repository.load_claim_context(caller.username, order_id, ticket_id)
    order = context.records.order
    if order is None or order.username != caller.username:
        raise NotFound(
            f"order {order_id} not found", field="orderId", code="order_not_found", params={"order": order_id}
        )
    # An order billing moved to this customer: what its owner before filed is not theirs to answer for.
    return replace(context, order_claim=context.order_claim.for_owner(caller.username))


def check_claim(caller: Caller, order_id: str, ticket_id: str, now: datetime | None = None) -> ClaimCheck:
    """What the policy in force would say of a claim on the order sent now, on the customer's own facts, refused as
    submit would refuse it (404, 409, 429). Nothing is recorded: the customer checks before using up a claim."""
    context = _claim_context(caller, order_id, ticket_id)
    checked_at = now or _now()
    policy = policies.in_force(checked_at)
    _check_claimable(context, order_id, policy, checked_at)
    assessment = assess(_facts(context, ticket_id, checked_at), policy, checked_at)
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
        received_at = now or _now()
        policy = policies.in_force(received_at)
        order = context.records.order
        assert order is not None  # checked by _claim_context
        _check_claimable(context, command.order_id, policy, received_at)
        facts = _facts(context, command.support_ticket_id, received_at)
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
    return _resource(recorded, caller, received_at)


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


def _resource(request: RequestRecord, caller: Caller, now: datetime | None = None) -> RefundRequestResource:
    """The request as `caller` sees it, with its working days left and, once late, the date promised instead;
    each from the calendar (time zone, holidays) of the version that set the request's deadline."""
    calendar = ReviewCalendar(policies.assessed_under(request.assessment.policy_version, request.received_at))
    left = calendar.working_days_between(calendar.local_date(now or _now()), calendar.local_date(request.deadline))
    promised = calendar.decision_promised_after_delay(request.deadline) if request.overdue else None
    return RefundRequestResource.of(request, caller, left, promised)


def read_refund_request(caller: Caller, request_id: str) -> RefundRequestResource:
    request = repository.get_request(request_id)
    if request is None or not (caller.reads_every_request or request.username == caller.username):
        raise NotFound(f"refund request {request_id} not found")
    return _resource(request, caller)


def list_refund_requests(
    caller: Caller, narrowed: RequestFilter, limit: int = 50, next_token: str | None = None
) -> Page[RefundRequestResource]:
    """Staff see every customer's requests in one status (PENDING when none is named), oldest deadline first,
    narrowed by the filters; a customer sees only their own, by status alone."""
    staff_only = {
        "username": narrowed.username,
        "overdue": narrowed.overdue,
        "orderId": narrowed.order_id,
        "receivedFrom": narrowed.received_from,
        "receivedTo": narrowed.received_before,
        "heldBy": narrowed.held_by,
    }
    if not caller.is_reviewer:
        if used := next((name for name, value in staff_only.items() if value is not None), None):
            raise NotAReviewer(f"only refund reviewers and supervisors may filter by {used}", field=used)
        narrowed = RequestFilter(status=narrowed.status, username=caller.username)
    page = repository.list_requests(narrowed=narrowed, limit=limit, next_token=next_token)
    items = sorted(page.items, key=lambda request: (request.deadline, request.request_id))
    return Page(
        items=tuple(_resource(item, caller) for item in items),
        next_token=page.next_token,
    )


def _pending_request_for_review(caller: Caller, request_id: str) -> RequestRecord:
    if not caller.is_reviewer:
        raise NotAReviewer("only refund reviewers may evaluate refund requests")
    request = repository.get_request(request_id)
    if request is None:
        raise NotFound(f"refund request {request_id} not found")
    if request.username == caller.username:
        raise OwnClaim("a reviewer may not assess or decide a refund request they filed themselves")
    if request.status is not RequestStatus.PENDING:
        raise Conflict(
            f"refund request {request_id} is already {request.status.lower()}",
            code="already_decided",
            params={"status": request.status.value},
        )
    return request


def _hold(caller: Caller, request: RequestRecord, command: TakeCommand | ReleaseCommand, at: datetime) -> RequestRecord:
    """Take a pending request to review it, take it over from its holder (only when asked), or release it: one
    holder at a time, by a conditional write; each change in the history. Taking one's own again, or releasing
    one nobody holds, changes nothing."""
    holder = caller.username if isinstance(command, TakeCommand) else None
    if request.held_by == holder:
        return request
    if isinstance(command, ReleaseCommand) and request.held_by != caller.username:
        raise Conflict(
            f"refund request {request.request_id} is being reviewed by {request.held_by}, not you",
            code="not_the_holder",
            params={"holder": str(request.held_by)},
        )
    if isinstance(command, TakeCommand) and request.held_by is not None and not command.take_over:
        raise Conflict(
            f"refund request {request.request_id} is being reviewed by {request.held_by}; "
            'send "takeOver": true to take it over',
            code="held_by_another",
            params={"holder": request.held_by},
        )
    if holder is None:
        event, detail = "released", None
    elif request.held_by is None:
        event, detail = "taken", None
    else:
        event, detail = "taken over", request.held_by
    history = [HistoryEntry(at=at, event=event, by=caller.username, detail=detail)]
    repository.record_holder(request, holder, held_by=request.held_by, at=at, history=history)
    count_by("Holds", event)
    return request.model_copy(
        update={"held_by": holder, "held_since": at if holder else None, "history": (*request.history, *history)}
    )


def _approval(
    request: RequestRecord, policy: Policy, requested: Decimal | None, *, note: str | None, by: str, at: datetime
) -> tuple[Decision, Payout | None]:
    """The approval of `request` for `requested` (None: what the assessment suggests), as `policy` (the version
    it was assessed under) allows it, and the payout it owes."""
    refund_type, amount = approved_refund(
        request.assessment, request.amount_paid, request.payment_channel, requested, policy
    )
    grounds = tuple(
        rule
        for rule in request.assessment.failed()
        if refund_type is RefundType.PARTIAL and rule.id in _PARTIAL_PATH_RULES
    )
    decision = Decision(
        refund_type=refund_type,
        amount=amount,
        reasons=tuple(rule.reason for rule in grounds),
        grounds=grounds,
        decided_at=at,
        decided_by=by,
        note=note,
    )
    return decision, payouts.payout_of_approval(request, amount, policy, at)


def _needs_a_second_approval(policy: Policy, decision: Decision) -> bool:
    threshold = policy.second_approval_threshold(decision.amount.currency) if decision.amount else None
    return threshold is not None and decision.amount is not None and decision.amount.amount > threshold.amount


def _propose(
    caller: Caller, request: RequestRecord, decision: Decision, internal_note: str | None, at: datetime
) -> RefundRequestResource:
    """An approval above the policy's secondApprovalAbove, kept for another reviewer to confirm (four eyes)."""
    proposal = ProposedApproval.model_validate(
        {
            "refund_type": decision.refund_type,
            "amount": decision.amount,
            "note": decision.note,
            "proposed_by": caller.username,
            "proposed_at": at,
        }
    )
    history = [HistoryEntry(at=at, event="approval proposed", by=caller.username, detail=proposal.amount.written())]
    if internal_note:
        history.append(HistoryEntry(at=at, event=INTERNAL_NOTE, by=caller.username, detail=internal_note))
    repository.record_proposed_approval(request, proposal, history)
    count("ApprovalsProposed")
    written = request.model_copy(update={"awaiting_second_approval": proposal, "history": (*request.history, *history)})
    return _resource(written, caller)


def _confirmed(caller: Caller, request: RequestRecord, at: datetime) -> tuple[Decision, Payout | None]:
    proposal = request.awaiting_second_approval
    if proposal is None:
        raise Conflict(
            f"refund request {request.request_id} has no approval waiting for a second reviewer",
            code="nothing_to_confirm",
        )
    if proposal.proposed_by == caller.username:
        raise OwnApproval("the reviewer who approved a refund may not also confirm it: another reviewer must")
    policy = policies.assessed_under(request.assessment.policy_version, request.received_at)
    decision, payout = _approval(
        request, policy, proposal.amount.amount, note=proposal.note, by=proposal.proposed_by, at=at
    )
    return decision.model_copy(update={"confirmed_by": caller.username}), payout


def evaluate_refund_request(
    caller: Caller,
    request_id: str,
    command: EvaluateAction,
    now: datetime | None = None,
) -> RefundRequestResource:
    """A reviewer takes a pending request or releases it, re-assesses it on today's facts (under the policy in
    force at its receipt, or the current one if asked), or decides it (under the version it was assessed under):
    an approval above the policy's secondApprovalAbove waits for another reviewer to confirm it; or asks the
    customer a question."""
    at = now or _now()
    request = _pending_request_for_review(caller, request_id)
    if isinstance(command, TakeCommand | ReleaseCommand):
        return _resource(_hold(caller, request, command, at), caller)
    if isinstance(command, AskCustomerCommand):
        return _resource(questions.ask_customer(caller, request, command.question, at), caller)
    if isinstance(command, AssessCommand):
        context = repository.load_claim_context(request.username, request.order_id, request.support_ticket_id)
        if context.records.order is None or context.records.order.username != request.username:
            raise Conflict(f"order {request.order_id} is no longer in the billing records")
        facts = _facts(context, request.support_ticket_id, request.received_at)
        policy = policies.in_force(at if command.policy == "current" else request.received_at)
        assessment = assess(facts, policy, at)
        assessed = [
            HistoryEntry(at=at, event="assessed", by=caller.username, detail=assessment.outcome),
            HistoryEntry(at=at, event=POLICY_APPLIED[command.policy], by=caller.username, detail=policy.version),
        ]
        repository.record_assessment(request, assessment, AssessedFacts.of(facts), assessed)
        count_by("Assessments", assessment.outcome)
        return as_written(request, assessed, caller, assessment=assessment, facts=AssessedFacts.of(facts))
    history: list[HistoryEntry] = []
    if isinstance(command, ApproveCommand):
        policy = policies.assessed_under(request.assessment.policy_version, request.received_at)
        decision, payout = _approval(
            request, policy, command.amount_decimal(), note=command.note, by=caller.username, at=at
        )
        if _needs_a_second_approval(policy, decision):
            return _propose(caller, request, decision, command.internal_note, at)
        status = RequestStatus.APPROVED
    elif isinstance(command, ConfirmApprovalCommand):
        decision, payout = _confirmed(caller, request, at)
        history.append(HistoryEntry(at=at, event="approval confirmed", by=caller.username, detail=decision.decided_by))
        status = RequestStatus.APPROVED
    else:
        decision = Decision(
            refund_type=None,
            amount=None,
            reasons=(*(rule.reason for rule in request.assessment.failed()), command.note),
            grounds=request.assessment.failed(),
            decided_at=at,
            decided_by=caller.username,
            note=command.note,
        )
        status = RequestStatus.REFUSED
        payout = None
    history.insert(0, HistoryEntry(at=at, event="decided", by=decision.decided_by, detail=status))
    if command.internal_note:
        history.append(HistoryEntry(at=at, event=INTERNAL_NOTE, by=caller.username, detail=command.internal_note))
    decided = request.model_copy(update={"status": status, "decision": decision})
    owed = (*effects_owed(request, decided), *(payouts.owed_by(payout) if payout else ()))
    repository.record_decision(
        request,
        status,
        decision,
        history,
        owed=owed,
        at=at,
        payout=payout,
        a_claim=is_a_claim_under_the_policy(status, request.assessment),
    )
    count_by("Decisions", status)
    return as_written(request, history, caller, status=status, decision=decision, payout=payout)


def answer_question(
    caller: Caller, request_id: str, command: AnswerQuestion, now: datetime | None = None
) -> RefundRequestResource:
    """The customer answers the reviewer's open question on their pending request."""
    return _resource(questions.answer_question(caller, request_id, command.answer, now or _now()), caller)


def cancel_refund_request(caller: Caller, request_id: str, now: datetime | None = None) -> RefundRequestResource:
    """The customer withdraws a pending request. Cancelling a cancelled request again changes nothing."""
    at = now or _now()
    request = repository.get_request(request_id)
    if request is None or request.username != caller.username:
        raise NotFound(f"refund request {request_id} not found")
    if request.status is RequestStatus.CANCELLED:
        return RefundRequestResource.of(request, caller)
    if request.status is not RequestStatus.PENDING:
        raise Conflict(
            f"refund request {request_id} is already {request.status.lower()} and cannot be cancelled",
            code="not_cancellable",
            params={"status": request.status.value},
        )
    history = [HistoryEntry(at=at, event="cancelled", by=caller.username)]
    cancelled = request.model_copy(update={"status": RequestStatus.CANCELLED})
    try:
        repository.record_cancellation(request, history, owed=effects_owed(request, cancelled), at=at)
    except Conflict:
        # Lost a race: a cancellation that lost to another cancellation is still a success.
        current = repository.get_request(request_id)
        if current is not None and current.status is RequestStatus.CANCELLED:
            return RefundRequestResource.of(current, caller)
        raise
    count("RefundRequestsCancelled")
    return as_written(request, history, caller, status=RequestStatus.CANCELLED)


def as_written(
    request: RequestRecord,
    history: list[HistoryEntry],
    caller: Caller,
    *,
    status: RequestStatus | None = None,
    decision: Decision | None = None,
    assessment: Assessment | None = None,
    facts: AssessedFacts | None = None,
    payout: Payout | None = None,
) -> RefundRequestResource:
    """The request as just written: what was read plus the change, without reading it again."""
    update: dict[str, object] = {"version": request.version + 1, "history": (*request.history, *history)}
    if payout is not None:
        update["payout"] = payout
    if facts is not None:
        update["facts"] = facts
    if status is not None:
        update["status"] = status
    if decision is not None:
        update["decision"] = decision
    if assessment is not None:
        update["assessment"] = assessment
    written = request.model_copy(update=update)
    return _resource(written, caller)


def list_orders(caller: Caller, limit: int = 50, next_token: str | None = None) -> OrderList:
    """The caller's own orders, newest first, each with its latest request that was not cancelled."""
    page = customer_records.orders_of(caller.username, limit, next_token)
    requests = repository.requests_of_orders(caller.username, (order.order_id for order in page.orders))
    policy = policies.in_force()
    items = tuple(
        OrderResource(
            order_id=order.order_id,
            ordered_at=order.ordered_at,
            amount=order.amount_paid,
            payment_channel=order.payment_channel,
            kind=order.kind,
            service_period_days=order.service_period_days,
            refund_request=OrderRefundRequest(request_id=held.request_id, status=held.status)
            if (held := requests.get(order.order_id))
            else None,
            refunded_elsewhere=policy.excluded_channel_reasons.get(order.payment_channel or "")
            if order.payment_channel in policy.excluded_payment_channels
            else None,
        )
        for order in page.orders
    )
    return OrderList(items=items, next_token=page.next_token)


def _period(caller: Caller, start: date | None, end: date | None, now: datetime) -> tuple[date, date]:
    """The report's Hong Kong dates, both included: the last 30 days when none are named."""
    if not caller.is_supervisor:
        raise NotASupervisor("only refund supervisors may read the reports")
    today = ReviewCalendar(policies.in_force(now)).local_date(now)
    last = end or today
    first = start or last - timedelta(days=REPORT_DAYS - 1)
    check_period(first, last, "report")
    return first, last


def _received_in(first: date, last: date) -> list[ReportedRequest]:
    return request_reads.requests_received(hong_kong_day_start(first), hong_kong_day_start(last + timedelta(days=1)))


def queue_counts(caller: Caller) -> QueueCounts:
    if not caller.is_reviewer:
        raise NotAReviewer("only refund reviewers and supervisors see the queue")
    open_now = request_reads.open_requests()
    return QueueCounts(
        pending=len(open_now),
        overdue=sum(request.overdue for request in open_now),
        unheld=sum(request.held_by is None for request in open_now),
        held_by_you=sum(request.held_by == caller.username for request in open_now),
        customer_answered=sum(request.customer_answered_at is not None for request in open_now),
    )


def service_levels(
    caller: Caller, start: date | None = None, end: date | None = None, now: datetime | None = None
) -> reports.ServiceLevels:
    at = now or _now()
    first, last = _period(caller, start, end, at)
    calendar = ReviewCalendar(policies.in_force(at))
    return reports.service_levels(
        first,
        last,
        received=_received_in(first, last),
        open_now=request_reads.open_requests(),
        now=at,
        calendar=calendar,
    )


def decisions_export(
    caller: Caller, start: date | None = None, end: date | None = None, now: datetime | None = None
) -> tuple[str, str]:
    """The CSV of the decisions on requests received in the period, and its file name."""
    at = now or _now()
    first, last = _period(caller, start, end, at)
    zone = ZoneInfo(policies.in_force(at).time_zone)
    return reports.decisions_csv(_received_in(first, last), zone), f"decisions-{first}-{last}.csv"
