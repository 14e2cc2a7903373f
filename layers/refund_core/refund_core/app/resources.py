"""What callers are shown: the resources of API.md, made from the stored records, never the records
themselves (no optimistic-lock version, no stored address), and each as its caller may see it (API.md
"What each caller sees of a request"): staff see the whole request and the facts it was assessed on; the
customer who filed it sees no staff identity and no internal note."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import Field

from refund_core.adapters.records import RequestRecord
from refund_core.http.identity import Caller
from refund_core.policy.models import (
    AccountBlock,
    AssessedFacts,
    Assessment,
    CamelModel,
    CannedReply,
    Customer,
    EvidenceState,
    HistoryEntry,
    ProposedApproval,
    QuestionToCustomer,
    RefundGrantedElsewhere,
    RefundRequest,
    RequestStatus,
    UtcDatetime,
    Violation,
)
from refund_core.policy.money import Money
from refund_core.policy.payouts import Payout, PayoutRoute, PayoutState

# Who history entries and decisions name: the rules, automatic decisions, the service's own workers.
AUTOMATIC = "auto"
RULES_ACTOR = "rules"
SYSTEM_ACTORS = frozenset(
    {"review-deadline", "outbox", "notifier", "system", "payouts", "processor", "billing", "retention"}
)
# A request filed by letter is received by "letter" (LETTERS.md), with the letter's Message-ID.
LETTER_ACTOR = "letter"
# A reviewer's internal note is a history entry of its own, for staff only; so are who took, took over and
# released the request (a taking-over names the reviewer it was taken from).
INTERNAL_NOTE = "internal note"
STAFF_ONLY_EVENTS = frozenset(
    {INTERNAL_NOTE, "taken", "taken over", "released", "approval proposed", "approval confirmed"}
)


def _as_the_customer_sees(entry: HistoryEntry, customer: str) -> HistoryEntry:
    if entry.by in (customer, LETTER_ACTOR):  # the customer wrote the letter
        by = "you"
    elif entry.by in (AUTOMATIC, RULES_ACTOR):
        by = entry.by
    elif entry.by in SYSTEM_ACTORS:
        by = "system"
    else:
        by = "reviewer"
    return entry.model_copy(update={"by": by})


def _staff_only(value: object) -> bool:
    return value is None


class PayoutView(CamelModel):
    """The payout of an approval (PAYOUTS.md "The customer"): where the money is; staff also see its route, the
    order's payment reference and which sending it is (absent for the customer)."""

    state: PayoutState
    amount: Money
    sent_at: UtcDatetime | None
    paid_at: UtcDatetime | None
    reference: str | None
    failure_reason: str | None
    route: PayoutRoute | None = Field(default=None, exclude_if=_staff_only)
    payment_reference: str | None = Field(default=None, exclude_if=_staff_only)
    sending: int | None = Field(default=None, exclude_if=_staff_only)
    note: str | None = Field(default=None, exclude_if=_staff_only)

    @classmethod
    def of(cls, payout: Payout, staff: bool) -> PayoutView:
        seen = {"state", "amount", "sent_at", "paid_at", "reference", "failure_reason"}
        if staff:
            seen |= {"route", "payment_reference", "sending", "note"}
        return cls.model_validate({name: getattr(payout, name) for name in seen})


class RefundRequestResource(RefundRequest):
    """A refund request as API.md shows it; `facts` for staff only (absent for the customer)."""

    facts: AssessedFacts | None = Field(default=None, exclude_if=lambda facts: facts is None)
    payout: PayoutView | None = None
    # Of a pending request: the Hong Kong working days from today to its deadline (0: due today, or past).
    working_days_left: int | None = None
    # Of a pending request past its deadline: the new date the delay email promised the customer.
    decision_promised_by: UtcDatetime | None = None
    # Staff only: the reviewer who took the request to review it, and since when (absent when nobody holds it).
    held_by: str | None = Field(default=None, exclude_if=_staff_only)
    held_since: UtcDatetime | None = Field(default=None, exclude_if=_staff_only)
    # Staff only: an approval waiting for a second reviewer's confirmation (four eyes).
    awaiting_second_approval: ProposedApproval | None = Field(default=None, exclude_if=_staff_only)
    # A reviewer's question waiting for the customer's answer (the customer sees "reviewer" ask it), and when the
    # customer last answered one (absent until then).
    question: QuestionToCustomer | None = Field(default=None, exclude_if=lambda question: question is None)
    customer_answered_at: UtcDatetime | None = Field(default=None, exclude_if=lambda answered: answered is None)
    # When its retention ended and its personal data was erased (absent until then).
    personal_data_erased_at: UtcDatetime | None = Field(default=None, exclude_if=lambda erased: erased is None)

    @classmethod
    def of(
        cls,
        request: RequestRecord,
        caller: Caller,
        working_days_left: int | None = None,
        decision_promised_by: datetime | None = None,
    ) -> Self:
        staff = caller.reads_every_request and caller.username != request.username
        pending = request.status is RequestStatus.PENDING
        whole = cls.model_validate(request, from_attributes=True).model_copy(
            update={
                # Only the files checked to be what they say are shown (and only they can be downloaded).
                "evidence": tuple(item for item in request.evidence if item.state is EvidenceState.ACCEPTED),
                "working_days_left": working_days_left if pending else None,
                "decision_promised_by": decision_promised_by if pending and request.overdue else None,
                "payout": PayoutView.of(request.payout, staff) if request.payout else None,
            }
        )
        if staff:
            return whole
        decision = whole.decision
        return whole.model_copy(
            update={
                "facts": None,
                "held_by": None,
                "held_since": None,
                "awaiting_second_approval": None,
                "question": whole.question.model_copy(update={"asked_by": "reviewer"}) if whole.question else None,
                "evidence": tuple(
                    item.model_copy(update={"added_by": "you" if item.added_by == request.username else "reviewer"})
                    for item in whole.evidence
                ),
                "decision": decision.model_copy(
                    update={
                        "decided_by": AUTOMATIC if decision.decided_by == AUTOMATIC else "reviewer",
                        "confirmed_by": None,
                    }
                )
                if decision
                else None,
                "history": tuple(
                    _as_the_customer_sees(entry, request.username)
                    for entry in whole.history
                    if entry.event not in STAFF_ONLY_EVENTS
                ),
            }
        )


class RequestList(CamelModel):
    items: tuple[RefundRequestResource, ...]
    next_token: str | None


class OrderRefundRequest(CamelModel):
    request_id: str
    status: RequestStatus


class OrderResource(CamelModel):
    """One of the caller's orders (`GET /orders`), with its latest request that was not cancelled."""

    order_id: str
    ordered_at: UtcDatetime
    amount: Money
    payment_channel: str | None
    kind: str | None
    service_period_days: int | None
    refund_request: OrderRefundRequest | None
    # None when the company refunds the order; else, in the policy's words, who does instead (NOT_APP_STORE:
    # the App Store's orders are refunded by Apple), and the Control Panel offers no request for it.
    refunded_elsewhere: str | None = None


class ClaimCheck(CamelModel):
    """`GET /orders/{orderId}/assessment`: what the Refund Policy would say of a claim on the order sent now, on the
    customer's own facts. Nothing is recorded."""

    order_id: str
    assessment: Assessment
    # Sent now, it would be decided at once (the policy's automatic decisions): no review, no cancelling.
    decided_at_once: bool
    # Once decided, approved or refused, it would be the customer's one claim under the policy (NO_EARLIER_CLAIM).
    uses_the_one_claim: bool
    # Cancelled before its decision, it would not count as a claim (a policy setting).
    cancelling_frees_the_claim: bool


class OrderList(CamelModel):
    items: tuple[OrderResource, ...]
    next_token: str | None


class PersonalProfile(CamelModel):
    """The customer's account record as the service keeps it: what the emails use, and the facts on record that
    a claim is weighed against."""

    name: str | None
    email: str | None
    language: str
    blocks: tuple[AccountBlock, ...]
    violations: tuple[Violation, ...]
    refunds_elsewhere: tuple[RefundGrantedElsewhere, ...]

    @classmethod
    def of(cls, customer: Customer) -> Self:
        return cls.model_validate(customer, from_attributes=True)


class PersonalData(CamelModel):
    """Everything the service keeps about one customer, as that customer sees it (`GET /personal-data`): their
    account record, their orders, and each refund request whole, its history (the emails sent, the letters
    received) in their own words. Staff's internal notes and who reviewed are not personal data of theirs."""

    username: str
    generated_at: UtcDatetime
    profile: PersonalProfile | None
    orders: tuple[OrderResource, ...]
    refund_requests: tuple[RefundRequestResource, ...]


class QueueCounts(CamelModel):
    """The reviewers' queue at a glance (`GET /queue/counts`): the open requests, those past their deadline,
    those nobody has taken, the caller's own, and those whose customer answered a question since it was asked."""

    pending: int
    overdue: int
    unheld: int
    held_by_you: int
    customer_answered: int


class CannedReplyList(CamelModel):
    """`GET /canned-replies`: the library, in use first, by title."""

    items: tuple[CannedReply, ...]


class EvidenceUpload(CamelModel):
    """Where the file's bytes go (`POST /refund-requests/{id}/evidence`): a form POST to `url` with `fields` and
    the file last (S3 refuses another key, another type, or more than the size allowed), then the check."""

    evidence_id: str
    url: str
    fields: dict[str, str]
    expires_at: UtcDatetime


class DownloadLink(CamelModel):
    """A file's download, for a minute (`GET /refund-requests/{id}/evidence/{evidenceId}`)."""

    url: str
    expires_at: UtcDatetime
