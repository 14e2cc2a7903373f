"""Finance's side of payouts (PAYOUTS.md "Finance"): the list of payouts, marking one paid, sending it again or
handing it to finance, and the finance report (CSV); the payouts themselves move in refund_core.app.payouts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field

from refund_core.adapters import outbound, payouts
from refund_core.adapters.records import Effect
from refund_core.app import policies
from refund_core.app.inputs import FreeText, IsoDate, check_period
from refund_core.app.payouts import CHANGE_TRIES, current_reference, emails_of, history_of, refund_already_made
from refund_core.app.policies import hong_kong_day_start
from refund_core.app.reports import csv_lines, sheet_time, spreadsheet_safe
from refund_core.errors import Conflict, Forbidden, NotFound
from refund_core.http.identity import Caller
from refund_core.observability import count_by
from refund_core.policy.calendar import ReviewCalendar
from refund_core.policy.models import CamelModel, RequestStatus, Text, UtcDatetime, utc_iso
from refund_core.policy.money import Money
from refund_core.policy.payouts import (
    Payout,
    PayoutChange,
    PayoutNotAllowed,
    PayoutRoute,
    PayoutState,
    change,
    route_for,
)

# The finance report covers the last 30 days unless a period is named, as the supervisors' reports do.
REPORT_DAYS = 30


class PayoutResource(CamelModel):
    """A payout as finance (and supervisors) see it, with its request's customer and order."""

    request_id: str
    order_id: str
    username: str
    amount: Money
    state: PayoutState
    route: PayoutRoute
    payment_channel: str | None
    payment_reference: str | None
    reference: str | None
    sending: int
    created_at: UtcDatetime
    state_since: UtcDatetime
    sent_at: UtcDatetime | None
    paid_at: UtcDatetime | None
    failed_at: UtcDatetime | None
    failure_reason: str | None
    note: str | None
    working_days_in_state: int = Field(description="Hong Kong working days since it reached its state")

    @classmethod
    def of(cls, payout: Payout, now: datetime) -> PayoutResource:
        calendar = ReviewCalendar(policies.in_force(now))
        days = calendar.working_days_between(calendar.local_date(payout.state_since), calendar.local_date(now))
        return cls.model_validate(payout.model_dump() | {"working_days_in_state": days})


class PayoutList(CamelModel):
    items: tuple[PayoutResource, ...]
    next_token: str | None


class MarkPaid(CamelModel):
    action: Literal["markPaid"]
    reference: Text = Field(description="The bank's or processor's reference of the payment made by hand")
    paid_on: IsoDate = Field(description="The Hong Kong date it was paid")


class Retry(CamelModel):
    action: Literal["retry"]


class ToFinance(CamelModel):
    action: Literal["toFinance"]
    note: FreeText = Field(description="Why finance takes it over (1 to 2,000 characters)")


PayoutCommand = Annotated[MarkPaid | Retry | ToFinance, Field(discriminator="action")]


def _finance(caller: Caller, *, or_supervisor: bool = False) -> None:
    if not (caller.is_finance or (or_supervisor and caller.is_supervisor)):
        what = "read" if or_supervisor else "act on"
        raise Forbidden(f"only the finance team may {what} payouts" + (" (supervisors may read them)" * or_supervisor))


def list_payouts(
    caller: Caller,
    state: PayoutState,
    *,
    older_than_days: int | None = None,
    limit: int = 50,
    next_token: str | None = None,
    now: datetime | None = None,
) -> PayoutList:
    """The payouts in a state, longest there first; `olderThanDays`: there for more than that many days."""
    _finance(caller, or_supervisor=True)
    at = now or datetime.now(UTC)
    before = at - timedelta(days=older_than_days) if older_than_days is not None else None
    page = payouts.payouts_in(state, before, limit, next_token)
    return PayoutList(items=tuple(PayoutResource.of(item, at) for item in page.items), next_token=page.next_token)


def act_on_payout(
    caller: Caller, request_id: str, command: MarkPaid | Retry | ToFinance, now: datetime | None = None
) -> PayoutResource:
    """Finance marks a payout paid by hand, sends a failed or manual one again through its route, or takes one
    over; each in the request's history with who did it."""
    _finance(caller)
    at = now or datetime.now(UTC)
    for _ in range(CHANGE_TRIES):
        payout = payouts.get_payout(request_id)
        if payout is None:
            raise NotFound(f"refund request {request_id} has no payout")
        try:
            written = _act(caller, payout, command, at)
        except PayoutNotAllowed as refused:
            raise Conflict(str(refused), field="action", code=refused.code) from refused
        if written is not None:
            return PayoutResource.of(written, at)
    raise Conflict(f"the payout of {request_id} kept changing; try again", code="try_again")


def _act(caller: Caller, payout: Payout, command: MarkPaid | Retry | ToFinance, at: datetime) -> Payout | None:
    match command:
        case MarkPaid():
            paid_at = min(at, hong_kong_day_start(command.paid_on) + timedelta(hours=12))
            changed = change(payout, PayoutChange.MARK_PAID, paid_at, reference=command.reference)
            if changed is None:
                raise PayoutNotAllowed("this payout is paid already")
            changed = changed.model_copy(update={"state_since": at})
            detail = f"{command.reference} on {command.paid_on.isoformat()}"
            owed_again: tuple[Effect, ...] = ()
        case Retry():
            # The order as billing last said it was: a correction of its payment reference is what a retry needs.
            reference = current_reference(payout) or payout.payment_reference
            policy = policies.in_force(at)
            route = route_for(payout.payment_channel, reference, policy)
            if route is PayoutRoute.FINANCE:
                raise PayoutNotAllowed("this payout has no route to send it again through (no payment reference, or "
                                       "no route for its channel): finance pays it")  # fmt: skip
            changed = change(payout, PayoutChange.RETRY, at, route=route)
            if changed is None:
                raise PayoutNotAllowed(f"this payout is {payout.state.lower()} already")
            changed = changed.model_copy(update={"payment_reference": reference})
            detail = f"sending {changed.sending}"
            owed_again = (Effect.PAYOUT,)
        case ToFinance():
            changed = change(payout, PayoutChange.TO_FINANCE, at, note=command.note)
            if changed is None:
                raise PayoutNotAllowed("this payout is with finance already")
            if payout.route is PayoutRoute.PROCESSOR and payout.state is PayoutState.SCHEDULED:
                made = refund_already_made(payout, at)
                if made is not None:
                    raise PayoutNotAllowed(
                        f"the card processor has taken this refund ({made.refund_id}): it has been sent, and is not "
                        "for finance to pay", code="sent_meanwhile"
                    )  # fmt: skip
            detail = command.note
            owed_again = ()
    history = [history_of(changed, caller.username, detail)]
    # Taken over while still to be sent: never while a delivery is sending it (a refund made that moment).
    taken_over = isinstance(command, ToFinance) and payout.state is PayoutState.SCHEDULED
    owed = emails_of(payout, changed)
    if not payouts.record_change(
        payout, changed, history, owed=owed, owed_again=owed_again, while_not_sending=taken_over
    ):
        return None
    if owed_again:  # the fast path: the reconciler queues it too, should this message be lost
        delivery = {"requestId": payout.request_id, "effect": str(Effect.PAYOUT), "owedAt": utc_iso(at)}
        outbound.enqueue_deliveries([delivery])
    count_by("PayoutActions", command.action)
    return changed


PAYOUTS_CSV_COLUMNS = (
    "requestId", "orderId", "username", "receivedAt", "decidedAt", "approvedAmount", "paidAmount", "currency",
    "state", "route", "paymentChannel", "paymentReference", "reference", "sentAt", "paidAt", "failureReason",
)  # fmt: skip


def payouts_csv(
    caller: Caller, start: date | None = None, end: date | None = None, now: datetime | None = None
) -> tuple[str, str]:
    """Per approved request received in the period (the last 30 days unless named): approved and paid amounts,
    state, references and dates, what finance reconciles against the processor's and the bank's statements;
    and the file's name. Its totals per currency are the service levels' `refunded` of the same period."""
    _finance(caller, or_supervisor=True)
    at = now or datetime.now(UTC)
    end = end or ReviewCalendar(policies.in_force(at)).local_date(at)
    start = start or end - timedelta(days=REPORT_DAYS - 1)
    check_period(start, end, "report")
    received = policies.received_on_days(start, end)
    approved = [request for request in received if request.status is RequestStatus.APPROVED and request.decision]
    found = payouts.payouts_of(request.request_id for request in approved)
    lines: list[list[str]] = [list(PAYOUTS_CSV_COLUMNS)]
    zone = ZoneInfo(policies.in_force(at).time_zone)
    for request in approved:
        decision = request.decision
        assert decision is not None and decision.amount is not None
        payout = found.get(request.request_id)
        paid = payout.amount if payout and payout.state is PayoutState.PAID else None
        row: list[Any] = [
            request.request_id, request.order_id, request.username, sheet_time(request.received_at, zone),
            sheet_time(decision.decided_at, zone), format(decision.amount.amount, "f"),
            format(paid.amount, "f") if paid else "", decision.amount.currency,
            payout.state if payout else "", payout.route if payout else "", request.payment_channel or "",
            payout.payment_reference if payout else "", payout.reference if payout else "",
            sheet_time(payout.sent_at if payout else None, zone),
            sheet_time(payout.paid_at if payout else None, zone),
            payout.failure_reason if payout else "",
        ]  # fmt: skip
        lines.append([spreadsheet_safe(str(value or "")) for value in row])
    return csv_lines(lines), f"payouts-{start}-{end}.csv"
