"""The refund service's reads and the customer's own actions: a request as its caller may see it, the queue,
the orders, cancelling and answering; the supervisors' reports. Submitting is `claims`, the reviewers'
actions `review`. Handlers call exactly one function of these; they know nothing of tables or policy."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from refund_core.adapters import customer_records, received_days, repository, request_reads
from refund_core.adapters.dynamo import Page
from refund_core.adapters.records import Effect, RequestRecord
from refund_core.adapters.request_reads import RequestFilter
from refund_core.app import policies, questions, reports
from refund_core.app.inputs import (
    AnswerQuestion,
    RequestListing,
    check_period,
)
from refund_core.app.policies import hong_kong_day_start
from refund_core.app.resources import (
    OrderList,
    OrderRefundRequest,
    OrderResource,
    QueueCounts,
    RefundRequestResource,
)
from refund_core.errors import (
    Conflict,
    NotAReviewer,
    NotASupervisor,
    NotFound,
)
from refund_core.http.identity import Caller
from refund_core.observability import count
from refund_core.policy.calendar import ReviewCalendar
from refund_core.policy.emails import emails_owed
from refund_core.policy.models import (
    AssessedFacts,
    Assessment,
    Decision,
    HistoryEntry,
    RefundRequest,
    RequestStatus,
)
from refund_core.policy.payouts import Payout

# The supervisors' reports: the last 30 days unless a period is named.
REPORT_DAYS = 30


def moment_now() -> datetime:
    return datetime.now(UTC)


def effects_owed(old: RefundRequest | None, new: RefundRequest) -> tuple[Effect, ...]:
    """The emails the change calls for (policy.emails), and the decision event when it decides."""
    effects = [Effect(f"email#{kind}") for kind in emails_owed(old, new)]
    decided = {RequestStatus.APPROVED, RequestStatus.REFUSED}
    if new.status in decided and (old is None or old.status not in decided):
        effects.append(Effect.REFUND_DECIDED)
    return tuple(effects)


def resource_of(request: RequestRecord, caller: Caller, now: datetime | None = None) -> RefundRequestResource:
    """The request as `caller` sees it, with its working days left and, once late, the date promised instead;
    each from the calendar (time zone, holidays) of the version that set the request's deadline."""
    calendar = ReviewCalendar(policies.assessed_under(request.assessment.policy_version, request.received_at))
    left = calendar.working_days_between(
        calendar.local_date(now or moment_now()), calendar.local_date(request.deadline)
    )
    promised = calendar.decision_promised_after_delay(request.deadline) if request.overdue else None
    return RefundRequestResource.of(request, caller, left, promised)


def read_refund_request(caller: Caller, request_id: str) -> RefundRequestResource:
    request = repository.get_request(request_id)
    if request is None or not (caller.reads_every_request or request.username == caller.username):
        raise NotFound(f"refund request {request_id} not found")
    return resource_of(request, caller)


def list_refund_requests(
    caller: Caller, listing: RequestListing, limit: int = 50, next_token: str | None = None
) -> Page[RefundRequestResource]:
    """Staff see every customer's requests in one status (PENDING when none is named), oldest deadline first,
    narrowed by the filters; a customer sees only their own, by status alone."""
    staff_only = {
        "username": listing.username,
        "overdue": listing.overdue,
        "orderId": listing.order_id,
        "receivedFrom": listing.received_from,
        "receivedTo": listing.received_to,
        "heldBy": listing.held_by,
    }
    if not caller.is_reviewer:
        if used := next((name for name, value in staff_only.items() if value is not None), None):
            raise NotAReviewer(f"only refund reviewers and supervisors may filter by {used}", field=used)
        narrowed = RequestFilter(status=listing.status, username=caller.username)
    else:
        narrowed = RequestFilter(
            status=listing.status,
            username=listing.username,
            overdue=listing.overdue,
            order_id=listing.order_id,
            received_from=hong_kong_day_start(listing.received_from) if listing.received_from else None,
            received_before=hong_kong_day_start(listing.received_to + timedelta(days=1))
            if listing.received_to
            else None,
            held_by=listing.held_by,
        )
    page = request_reads.list_requests(narrowed=narrowed, limit=limit, next_token=next_token)
    items = sorted(page.items, key=lambda request: (request.deadline, request.request_id))
    return Page(
        items=tuple(resource_of(item, caller) for item in items),
        next_token=page.next_token,
    )


def answer_question(
    caller: Caller, request_id: str, command: AnswerQuestion, now: datetime | None = None
) -> RefundRequestResource:
    """The customer answers the reviewer's open question on their pending request."""
    return resource_of(questions.answer_question(caller, request_id, command.answer, now or moment_now()), caller)


def cancel_refund_request(caller: Caller, request_id: str, now: datetime | None = None) -> RefundRequestResource:
    """The customer withdraws a pending request. Cancelling a cancelled request again changes nothing."""
    at = now or moment_now()
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
    return resource_of(written, caller)


def list_orders(caller: Caller, limit: int = 50, next_token: str | None = None) -> OrderList:
    """The caller's own orders, newest first, each with its latest request that was not cancelled."""
    page = customer_records.orders_of(caller.username, limit, next_token)
    requests = request_reads.requests_of_orders(caller.username, (order.order_id for order in page.orders))
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
    at = now or moment_now()
    first, last = _period(caller, start, end, at)
    calendar = ReviewCalendar(policies.in_force(at))
    return reports.service_levels(
        first,
        last,
        received=received_days.received_between(first, last),
        open_now=request_reads.open_requests(),
        now=at,
        calendar=calendar,
    )


def decisions_export(
    caller: Caller, start: date | None = None, end: date | None = None, now: datetime | None = None
) -> tuple[str, str]:
    """The CSV of the decisions on requests received in the period, and its file name."""
    at = now or moment_now()
    first, last = _period(caller, start, end, at)
    zone = ZoneInfo(policies.in_force(at).time_zone)
    return reports.decisions_csv(policies.received_on_days(first, last), zone), f"decisions-{first}-{last}.csv"
