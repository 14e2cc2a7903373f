"""The reviewers' actions on a pending request: taking and releasing it, re-assessing it, asking the customer,
approving (with a second reviewer above the policy's amount), confirming, refusing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from refund_core.adapters import customer_claims, customer_records, repository
from refund_core.adapters.records import RequestRecord
from refund_core.app import payouts, policies, questions
from refund_core.app.claims import claim_facts_of
from refund_core.app.inputs import (
    ApproveCommand,
    AskCustomerCommand,
    AssessCommand,
    ConfirmApprovalCommand,
    EvaluateAction,
    ReleaseCommand,
    TakeCommand,
)
from refund_core.app.resources import (
    INTERNAL_NOTE,
    RefundRequestResource,
)
from refund_core.app.service import as_written, effects_owed, moment_now, resource_of
from refund_core.errors import (
    Conflict,
    NotAReviewer,
    NotFound,
    OrderMoved,
    OwnApproval,
    OwnClaim,
)
from refund_core.http.identity import Caller
from refund_core.observability import count, count_by
from refund_core.policy.approval import approved_refund
from refund_core.policy.document import Policy
from refund_core.policy.models import (
    AssessedFacts,
    Decision,
    HistoryEntry,
    ProposedApproval,
    RefundType,
    RequestStatus,
    RuleId,
)
from refund_core.policy.payouts import Payout
from refund_core.policy.rules import (
    assess,
    is_a_claim_under_the_policy,
)

_PARTIAL_PATH_RULES = {RuleId.WITHIN_30_DAYS, RuleId.TRAFFIC_UNDER_LIMIT, RuleId.NEW_ORDER}
# The history entry that says which version a reviewer's re-assessment applied.
POLICY_APPLIED = {"receipt": "policy at receipt", "current": "current policy"}


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


def _still_the_customers_order(request: RequestRecord) -> None:
    """An approval pays the order's payment back: never once billing has given the order to another customer,
    whose own claim on it may be approved too (a re-assessment is refused the same way). A refusal would count
    as the customer's claim, so the request is left for them to cancel."""
    order = customer_records.order(request.order_id)
    if order is not None and order.username != request.username:
        raise OrderMoved(request.order_id, request.username)


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
    return resource_of(written, caller)


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
    at = now or moment_now()
    request = _pending_request_for_review(caller, request_id)
    if isinstance(command, TakeCommand | ReleaseCommand):
        return resource_of(_hold(caller, request, command, at), caller)
    if isinstance(command, AskCustomerCommand):
        return resource_of(questions.ask_customer(caller, request, command.question, at), caller)
    if isinstance(command, AssessCommand):
        context = customer_claims.load_claim_context(request.username, request.order_id, request.support_ticket_id)
        if context.records.order is None:
            raise Conflict(f"order {request.order_id} is no longer in the billing records")
        if context.records.order.username != request.username:
            raise OrderMoved(request.order_id, request.username)
        facts = claim_facts_of(context, request.support_ticket_id, request.received_at)
        policy = policies.in_force(at if command.policy == "current" else request.received_at)
        assessment = assess(facts, policy, at)
        assessed = [
            HistoryEntry(at=at, event="assessed", by=caller.username, detail=assessment.outcome),
            HistoryEntry(at=at, event=POLICY_APPLIED[command.policy], by=caller.username, detail=policy.version),
        ]
        repository.record_assessment(request, assessment, AssessedFacts.of(facts), assessed)
        count_by("Assessments", assessment.outcome)
        # What an approval is held to from now on: the order as billing now has it; nothing proposed before waits.
        reassessed = request.model_copy(
            update={
                "amount_paid": facts.order.amount_paid,
                "payment_channel": facts.order.payment_channel,
                "awaiting_second_approval": None,
            }
        )
        return as_written(reassessed, assessed, caller, assessment=assessment, facts=AssessedFacts.of(facts))
    history: list[HistoryEntry] = []
    if isinstance(command, ApproveCommand | ConfirmApprovalCommand):
        _still_the_customers_order(request)
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
