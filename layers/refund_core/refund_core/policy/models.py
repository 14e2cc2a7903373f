"""The facts the rules read, what the rules make of them, and the refund request itself, as pydantic models.

Field names are snake_case in Python and camelCase on the wire (API.md). How a request is stored
(refund_core.adapters.records) and what each caller is shown of it (refund_core.app.resources) are other models."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.alias_generators import to_camel

from refund_core.policy.money import Money


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a `+00:00` offset and milliseconds: the form stored and returned."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


UtcDatetime = Annotated[AwareDatetime, PlainSerializer(utc_iso, return_type=str, when_used="json")]
# An id (an order's, a ticket's...): 1 to 128 printable characters, Unicode, no control characters (API.md).
ID_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"
Text = Annotated[str, Field(min_length=1, max_length=128, pattern=ID_PATTERN)]


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


# The payment channels the policy knows (RECORDS.md, third release): compared exactly as written, so that no
# other spelling of the App Store ("Apple_iTunes") can pass for a channel the company refunds.
PaymentChannel = Literal["card", "paypal", "crypto", "apple_itunes"]
PAYMENT_CHANNELS: tuple[PaymentChannel, ...] = ("card", "paypal", "crypto", "apple_itunes")


class PaymentState(StrEnum):
    SETTLED = "settled"
    REFUNDED = "refunded"
    CHARGED_BACK = "charged_back"
    DISPUTED = "disputed"


class Order(CamelModel):
    """An order as billing records it. A field the records do not hold is None: an unknown fact."""

    order_id: Text
    username: Text
    ordered_at: UtcDatetime
    amount_paid: Money
    payment_channel: str | None = None
    kind: str | None = None
    service_period_days: int | None = Field(default=None, gt=0)
    payment_state: PaymentState | None = None
    # The processor's id of the payment (`pi_...`/`ch_...` for cards, a PayPal capture, a transaction hash): what
    # a refund is made against (PAYOUTS.md).
    payment_reference: str | None = None


class Usage(CamelModel):
    """The order's service usage; None means the usage records do not say. `as_of`: when the metering system
    counted it (the rules do not read it; reviewers see it)."""

    traffic_bytes: int | None = Field(default=None, ge=0)
    connections: int | None = Field(default=None, ge=0)
    as_of: UtcDatetime | None = None


class AccountBlock(CamelModel):
    reason: str
    starts_at: UtcDatetime = Field(alias="from")
    ends_at: UtcDatetime | None = Field(default=None, alias="until")


class Violation(CamelModel):
    kind: str
    at: UtcDatetime


class RefundGrantedElsewhere(CamelModel):
    """A refund the company granted outside this service (before it went live, or by hand): a claim decided."""

    order_id: Text
    refunded_at: UtcDatetime
    amount: Money | None = None
    reference: Text


Language = Literal["en", "zh-HK"]


class Customer(CamelModel):
    """The account records the rules and the emails read: blocks, violations and refunds granted elsewhere on
    record; the customer's name and language for the emails."""

    username: Text
    email: str | None = None
    name: str | None = None
    language: Language = "en"
    blocks: tuple[AccountBlock, ...] = ()
    violations: tuple[Violation, ...] = ()
    refunds_elsewhere: tuple[RefundGrantedElsewhere, ...] = ()


class SupportTicket(CamelModel):
    ticket_id: Text
    username: Text
    opened_at: UtcDatetime
    category: str
    official_response: Literal["cannot_fix", "fixed"] | None = None


class RequestStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REFUSED = "REFUSED"
    CANCELLED = "CANCELLED"


class EarlierClaim(CamelModel):
    """Another refund request of the same customer, and how it ended so far."""

    request_id: str
    order_id: str
    status: RequestStatus
    received_at: UtcDatetime


class ClaimFacts(CamelModel):
    """Everything the rules read about one claim. None for a record means the data does not hold it."""

    received_at: UtcDatetime
    order: Order
    usage: Usage | None
    customer: Customer | None
    support_ticket_id: str
    support_ticket: SupportTicket | None
    earlier_claims: tuple[EarlierClaim, ...] = ()


class AccountFacts(CamelModel):
    """What of the customer's account the rules read."""

    blocks: tuple[AccountBlock, ...] = ()
    violations: tuple[Violation, ...] = ()
    refunds_elsewhere: tuple[RefundGrantedElsewhere, ...] = ()


class AssessedFacts(CamelModel):
    """The facts a claim was last assessed on, as the customer records held them then; None where the records
    lacked the fact (a reviewer checks it)."""

    order: Order | None
    usage: Usage | None
    customer: AccountFacts | None
    support_ticket: SupportTicket | None
    # What NO_EARLIER_CLAIM read of the customer's other claims, so that a draft policy can be replayed on
    # it; None for an assessment recorded before it was kept (which cannot be replayed exactly).
    earlier_claims: tuple[EarlierClaim, ...] | None = None

    @classmethod
    def of(cls, facts: ClaimFacts) -> AssessedFacts:
        customer = facts.customer
        return cls(
            order=facts.order,
            usage=facts.usage,
            customer=AccountFacts(
                blocks=customer.blocks, violations=customer.violations, refunds_elsewhere=customer.refunds_elsewhere
            )
            if customer
            else None,
            support_ticket=facts.support_ticket,
            earlier_claims=facts.earlier_claims,
        )


class RuleId(StrEnum):
    WITHIN_30_DAYS = "WITHIN_30_DAYS"
    TRAFFIC_UNDER_LIMIT = "TRAFFIC_UNDER_LIMIT"
    NEW_ORDER = "NEW_ORDER"
    CONNECTIONS_WITHIN_LIMIT = "CONNECTIONS_WITHIN_LIMIT"
    NOT_BLOCKED = "NOT_BLOCKED"
    SUPPORT_CONFIRMED_UNFIXABLE = "SUPPORT_CONFIRMED_UNFIXABLE"
    NO_EARLIER_CLAIM = "NO_EARLIER_CLAIM"
    NOT_APP_STORE = "NOT_APP_STORE"
    LAWFUL_USE = "LAWFUL_USE"
    PAYMENT_RETURNABLE = "PAYMENT_RETURNABLE"


class RuleResult(CamelModel):
    id: RuleId
    result: Literal["pass", "fail", "unknown"]
    # In English, for API clients; a translation renders `code` and `params` (policy/reasons.py).
    reason: str
    # None on results recorded before reasons had codes: their `reason` is all there is.
    code: str | None = None
    params: dict[str, str | int | list[str]] = Field(default_factory=dict)


class Outcome(StrEnum):
    FULL_REFUND = "FULL_REFUND"
    PARTIAL_REFUND = "PARTIAL_REFUND"
    REFUSED = "REFUSED"
    NEEDS_REVIEW = "NEEDS_REVIEW"


class Assessment(CamelModel):
    outcome: Outcome
    policy_version: str
    rules: tuple[RuleResult, ...]
    suggested_amount: Money | None
    assessed_at: UtcDatetime

    def failed(self) -> tuple[RuleResult, ...]:
        return tuple(rule for rule in self.rules if rule.result == "fail")


class RefundType(StrEnum):
    FULL = "FULL"
    PARTIAL = "PARTIAL"


class Decision(CamelModel):
    refund_type: RefundType | None
    amount: Money | None
    # In English, for API clients: the grounds' reasons, then (a refusal's) the reviewer's note.
    reasons: tuple[str, ...]
    decided_at: UtcDatetime
    decided_by: str
    note: str | None = None
    # The failed rules the decision gives as its reasons, each with its code to translate; none on decisions
    # recorded before grounds were (their `reasons` are all there is).
    grounds: tuple[RuleResult, ...] = ()
    # An approval above the policy's secondApprovalAbove: the second reviewer, who confirmed it.
    confirmed_by: str | None = None


class ProposedApproval(CamelModel):
    """An approval above the policy's `secondApprovalAbove` for its currency, waiting for another reviewer to
    confirm it (four eyes): what it would refund, its note to the customer, and who approved it when."""

    refund_type: RefundType
    amount: Money
    note: str | None = None
    proposed_by: str
    proposed_at: UtcDatetime


class EvidenceState(StrEnum):
    UPLOADING = "UPLOADING"  # a link to upload it was given; its bytes are not checked yet
    ACCEPTED = "ACCEPTED"  # its bytes are of its type: shown and downloadable
    REFUSED = "REFUSED"  # they were not (or it was too large): deleted, never shown


class Evidence(CamelModel):
    """A file attached to a request (a PDF, an image, a text), kept in the private evidence bucket."""

    evidence_id: str
    file_name: str
    content_type: str
    size: int | None = None
    added_by: str
    added_at: UtcDatetime
    state: EvidenceState = EvidenceState.UPLOADING
    checked_at: UtcDatetime | None = None
    # The version of the object that was checked: the one downloads give (a link reused after the check cannot
    # put other bytes in its place).
    version_id: str | None = Field(default=None, exclude=True)


class QuestionToCustomer(CamelModel):
    """The latest question a reviewer asked the customer: open until they answer it (on the request's page, or
    by replying to any of the request's emails) while the request is pending. The review deadline keeps
    running: the policy's working days do not pause."""

    question: str
    asked_by: str
    asked_at: UtcDatetime
    answered_at: UtcDatetime | None = None


class CannedReply(CamelModel):
    """A note to customers the supervisors keep for reviewers to start from, in both languages (retired ones are
    kept, and offered no more)."""

    reply_id: str
    title: str
    english: str
    chinese: str
    retired: bool = False
    updated_by: str
    updated_at: UtcDatetime
    version: int = 1


class HistoryEntry(CamelModel):
    at: UtcDatetime
    event: str
    by: str
    detail: str | None = None


class LetterReference(CamelModel):
    """The letter a request came by (LETTERS.md): its emails answer it, threaded under its Message-ID when it
    had one; SES's id of its delivery tells a second try of the same delivery when it had none."""

    message_id: str | None
    subject: str
    delivery_id: str | None = None

    @property
    def identity(self) -> str:
        return self.message_id or f"SES {self.delivery_id}"


class RefundRequest(CamelModel):
    """One customer's claim under the policy: what they asked, how the rules assessed it, what was decided."""

    request_id: str
    order_id: str
    username: str
    reason: str
    support_ticket_id: str
    status: RequestStatus
    received_at: UtcDatetime
    deadline: UtcDatetime
    reminder_at: UtcDatetime
    reminded: bool = False
    overdue: bool = False
    assessment: Assessment
    decision: Decision | None = None
    history: tuple[HistoryEntry, ...] = ()
    amount_paid: Money
    payment_channel: str | None = None
    letter: LetterReference | None = None
    question: QuestionToCustomer | None = None
    evidence: tuple[Evidence, ...] = ()

    @property
    def waits_for_the_customer(self) -> bool:
        """A question is open: asked of a pending request, not answered yet."""
        return self.status is RequestStatus.PENDING and self.question is not None and self.question.answered_at is None
