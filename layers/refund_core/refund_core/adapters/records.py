"""What the requests table holds besides the policy's own models: a refund request as stored (the request
plus its optimistic-lock `version` and the address its token vouched for), the customer's claims, the
order's claim, the effects a request owes, and the table's stream records."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamChangedRecordModel, DynamoDBStreamRecordModel
from pydantic import Discriminator, Field, Tag

from refund_core.policy.models import (
    AssessedFacts,
    CamelModel,
    Decision,
    EarlierClaim,
    ProposedApproval,
    RefundRequest,
    RequestStatus,
    UtcDatetime,
)
from refund_core.policy.payouts import Payout

# The sort keys of a request item and of an owed effect; the table's other items are the repository's.
REQUEST_SK = "REQUEST"
OWED_SK_PREFIX = "OWED#"
EVIDENCE_SK_PREFIX = "EVIDENCE#"


class RequestRecord(RefundRequest):
    """The request item of the requests table (its keys are the repository's business), and, read with it, the
    payout of its approval (an item of its own)."""

    # The token's address, kept only when the token said it was verified: used when the records hold none.
    customer_email: str | None = None
    # Every API write is conditional on the version it read, and bumps it.
    version: int = 1
    # What the last assessment read (staff see it); None for a request the first release recorded.
    facts: AssessedFacts | None = None
    payout: Payout | None = None
    # The reviewer who took the pending request to review it, and since when (casework: one holder at a time).
    held_by: str | None = None
    held_since: UtcDatetime | None = None
    # When its personal data was erased, its retention over (only the financial record stays).
    personal_data_erased_at: UtcDatetime | None = None
    # An approval that needs another reviewer's confirmation before it is the decision (four eyes).
    awaiting_second_approval: ProposedApproval | None = None
    # The files attached whose slots are taken (uploading or accepted): at most policy/evidence.py's MAX_FILES.
    evidence_files: int = 0
    # When the customer last answered a question: the queue's "customer answered" marker, until one is asked again.
    customer_answered_at: UtcDatetime | None = None


class ReportedRequest(CamelModel):
    """What the supervisors' reports read of a request (the ByReceived index's attributes)."""

    request_id: str
    order_id: str
    username: str
    status: RequestStatus
    received_at: UtcDatetime
    deadline: UtcDatetime
    overdue: bool = False
    decision: Decision | None = None
    payment_channel: str | None = None
    policy_version: str | None = None
    # Of an open request, read from the ByStatus index (ByReceived does not project them).
    held_by: str | None = None
    customer_answered_at: UtcDatetime | None = None


class ReceivedDay(CamelModel):
    """What the requests received on one day (the policy's time zone) and ended since (decided or cancelled) add to
    the service levels (app/reports.py counts them; adapters/received_days.py keeps them)."""

    received: int = 0
    approved: int = 0
    refused: int = 0
    cancelled: int = 0
    decided_automatically: int = 0
    decided_in_time: int = 0
    # How many were decided on each day: the working days to a decision are counted when a report is read, with
    # its calendar, as they were from the requests themselves.
    decided_on: dict[date, int] = Field(default_factory=dict)
    refunded: dict[str, Decimal] = Field(default_factory=dict)


class JobStatus(StrEnum):
    """Where a long job (a decisions export, a policy simulation) is."""

    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"


class ExportPart(CamelModel):
    number: int
    etag: str


class JobRecord(CamelModel):
    """What a long job's item holds whatever the job (app/jobs.py): its period, who asked and when, where it is,
    and `next_day`, the first day of the period it has not kept yet."""

    first_day: date
    last_day: date
    requested_by: str
    requested_at: UtcDatetime
    status: JobStatus = JobStatus.RUNNING
    updated_at: UtcDatetime
    next_day: date
    days_read: int = 0
    finished_at: UtcDatetime | None = None
    failure: str | None = None


class DecisionsExportRecord(JobRecord):
    """A supervisor's export of a period's decisions, as its job (app/decisions_exports.py) moves it on: the file is
    uploaded in parts of whole days, and `next_day` is the first day no uploaded part holds."""

    export_id: str
    # Every change is made on the condition that the version is the one read (adapters/decisions_exports.py).
    version: int = 0
    # The rows and bytes of the parts uploaded; the rows read so far (the progress shown).
    rows: int = 0
    size: int = 0
    rows_read: int = 0
    upload_id: str | None = None
    # The parts kept, in order, and the highest part number taken (a number taken and not kept is left out).
    parts: tuple[ExportPart, ...] = ()
    parts_taken: int = 0
    # The parts are final: what is left is to complete the file.
    completing: bool = False


class ClaimsRecord(CamelModel):
    """The customer's claims as one item (`CUSTOMER#<username>` / `CLAIMS`), read with strong consistency and
    written under a condition on the version read, by every submission, decision and cancellation: so two
    claims of one customer can never both be judged without the other counted."""

    username: str
    open_request_id: str | None = None
    decided: int = 0
    first_decided: EarlierClaim | None = None
    # Requests refused only for their excluded payment channel: decided, and no claim under the Policy.
    excluded: int = 0
    cancelled: int = 0
    first_cancelled: EarlierClaim | None = None
    # When the latest requests were received, at most as many as the per-customer limit counts.
    recent_filings: tuple[UtcDatetime, ...] = ()
    version: int = 0

    def earlier_claims(self) -> tuple[EarlierClaim, ...]:
        """What NO_EARLIER_CLAIM reads: the first claim that reached a decision, and the first cancelled one."""
        return tuple(claim for claim in (self.first_decided, self.first_cancelled) if claim is not None)

    def filings_since(self, moment: datetime) -> int:
        return sum(1 for filed_at in self.recent_filings if filed_at >= moment)

    def after_filing(self, request: RefundRequest, keep: int, *, a_claim: bool = True) -> ClaimsRecord:
        """The claims once `request` is recorded: open while pending, counted once decided at once (as a claim
        under the Policy, or `a_claim` False, as one that never was); the latest `keep` filings remembered."""
        update: dict[str, Any] = {
            "recent_filings": tuple(sorted((*self.recent_filings, request.received_at)))[-keep:],
            "version": self.version + 1,
        }
        if request.status is RequestStatus.PENDING:
            update["open_request_id"] = request.request_id
        elif request.status in {RequestStatus.APPROVED, RequestStatus.REFUSED} and not a_claim:
            update["excluded"] = self.excluded + 1
        elif request.status in {RequestStatus.APPROVED, RequestStatus.REFUSED}:
            claim = EarlierClaim(
                request_id=request.request_id,
                order_id=request.order_id,
                status=request.status,
                received_at=request.received_at,
            )
            first = self.first_decided
            update["decided"] = self.decided + 1
            update["first_decided"] = claim if first is None or claim.received_at < first.received_at else first
        return self.model_copy(update=update)


class OrderClaim(CamelModel):
    """The order's claim (`ORDER#<orderId>` / `CLAIM`): the request that holds it (none once cancelled), whose
    request that is (none: written before it was kept), and how many requests the order has had."""

    order_id: str
    request_id: str | None = None
    username: str | None = None
    filings: int = 0
    version: int = 0

    def held_by_another_owner(self, username: str) -> bool:
        """Held by a request of the customer the order belonged to before billing corrected its owner."""
        return self.request_id is not None and self.username is not None and self.username != username

    def for_owner(self, username: str) -> OrderClaim:
        """The claim as its present owner has it: since the order became theirs, nothing filed (the request of
        the owner before keeps its own course)."""
        if not self.held_by_another_owner(username):
            return self
        return self.model_copy(update={"request_id": None, "username": None, "filings": 0})

    def after_filing(self, request_id: str, username: str) -> OrderClaim:
        return self.model_copy(
            update={
                "request_id": request_id,
                "username": username,
                "filings": self.filings + 1,
                "version": self.version + 1,
            }
        )


class Effect(StrEnum):
    """What a change of a request owes the world, each done once: an email of a kind, or the decision event."""

    ACKNOWLEDGEMENT = "email#acknowledgement"
    DECISION = "email#decision"
    CANCELLATION = "email#cancellation"
    REMINDER = "email#reminder"
    ESCALATION = "email#escalation"
    DELAY = "email#delay"
    PAYOUT_SENT = "email#payout_sent"
    PAYOUT_FAILED = "email#payout_failed"
    # A reviewer's question to the customer: owed again with each question asked.
    QUESTION = "email#question"
    REFUND_DECIDED = "event#RefundDecided"
    # The approval's payout, sent through its route (PAYOUTS.md): owed again when finance sends it again.
    PAYOUT = "payout#send"

    @property
    def is_email(self) -> bool:
        return self.value.startswith("email#")

    @property
    def email_kind(self) -> str:
        return self.value.removeprefix("email#")


class EffectState(StrEnum):
    OWED = "OWED"  # to do, or to try again from nextAttemptAt
    SENDING = "SENDING"  # a delivery holds it until leaseUntil
    DONE = "DONE"
    UNCERTAIN = "UNCERTAIN"  # SES may have accepted it and nothing says so: never repeated without a person


class OwedEffect(CamelModel):
    """One effect a request owes (`REQUEST#<id>` / `OWED#<effect>`), written in the same transaction as the
    change that owes it: durable until done, whatever fails after."""

    request_id: str
    effect: Effect
    state: EffectState = EffectState.OWED
    owed_at: UtcDatetime
    attempts: int = 0
    next_attempt_at: UtcDatetime | None = None
    lease_until: UtcDatetime | None = None
    done_at: UtcDatetime | None = None
    # SES's message id or the event's id once done; why it waits while owed (no address of record yet...).
    outcome: str | None = None

    @property
    def history_key(self) -> str:
        """The key of its "done" history entry: one per effect, but one per question for the questions' emails
        (owed again with each)."""
        return f"{self.effect}#{self.owed_at.isoformat()}" if self.effect is Effect.QUESTION else str(self.effect)


def _item_kind(image: Any) -> str:
    if isinstance(image, RequestRecord):
        return "request"
    if isinstance(image, OwedEffect):
        return "owed"
    sort_key = str(image.get("sk", "")) if isinstance(image, dict) else ""
    if sort_key == REQUEST_SK:
        return "request"
    return "owed" if sort_key.startswith(OWED_SK_PREFIX) else "other"


# A request's image, and an owed effect's, are validated whole; the table's other items (history, claims)
# stay as they are, and call for nothing.
Image = Annotated[
    Annotated[RequestRecord, Tag("request")]
    | Annotated[OwedEffect, Tag("owed")]
    | Annotated[dict[str, Any], Tag("other")],
    Discriminator(_item_kind),
]


class RequestImages(DynamoDBStreamChangedRecordModel):
    """A change of an item of the requests table: Powertools deserialises the images, this model validates
    those of a request and of an owed effect."""

    NewImage: Image | None = None  # narrowed from Powertools' dict
    OldImage: Image | None = None


class RequestStreamRecord(DynamoDBStreamRecordModel):
    """One record of the requests table's stream (the event source's filter passes what the notifier acts on)."""

    dynamodb: RequestImages
