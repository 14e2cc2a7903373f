"""The supervisors' reports (API.md `GET /reports/sla`, `GET /reports/decisions.csv`): pure functions of what is
read for them, the period, the moment and the Hong Kong calendar.

The service levels read one `ReceivedDay` a day of the period, what the requests received that day and ended
since (decided or cancelled) add up to, each added on the requests table's stream as it ends (`counted`), and the
open requests: however many requests are stored, a report reads as much as its period has days and as many
requests as are open. The decisions CSV reads each request of its period."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import Field

from refund_core.adapters.records import ReceivedDay, ReportedRequest
from refund_core.app.resources import AUTOMATIC
from refund_core.policy.calendar import ReviewCalendar
from refund_core.policy.models import CamelModel, RefundRequest, RequestStatus
from refund_core.policy.money import Money

# How many working days an open request has left, in the report's buckets.
_BUCKETS = (("0", 0, 0), ("1", 1, 1), ("2", 2, 2), ("3-5", 3, 5), ("6-10", 6, 10))
_DECIDED = (RequestStatus.APPROVED, RequestStatus.REFUSED)
CSV_COLUMNS = (
    "requestId", "orderId", "username", "receivedAt", "decidedAt", "status", "refundType", "amount", "currency",
    "paymentChannel", "policyVersion", "decidedBy", "inTime",
)  # fmt: skip
# What a spreadsheet may read as the start of a formula (API.md's four, their full-width forms, a DDE pipe),
# also after leading spaces, and the tab and line ends that some spreadsheets skip before one.
_FORMULA_STARTS = ("=", "+", "-", "@", "＝", "＋", "－", "＠", "|")
_SKIPPED_BEFORE_A_FORMULA = (" ", "\t", "\r", "\n", "\u3000")


class OpenRequests(CamelModel):
    total: int
    overdue: int
    by_working_days_left: dict[str, int] = Field(description='"0", "1", "2", "3-5", "6-10" working days left')


class Spread(CamelModel):
    median: int | None
    p90: int | None
    max: int | None


class ServiceLevels(CamelModel):
    """The service levels of a period (Hong Kong dates, both included)."""

    from_: date = Field(alias="from")
    to: date
    open: OpenRequests
    received: int
    decided: dict[str, int]
    cancelled: int
    decided_automatically: int
    decided_in_time: int
    decided_late: int
    working_days_to_decision: Spread
    refunded: tuple[Money, ...]


def counted(request: RefundRequest | ReportedRequest, zone: ZoneInfo) -> tuple[date, ReceivedDay]:
    """The day a request that has ended (decided or cancelled) was received (in `zone`), and what it adds to that
    day's service levels. An open request is counted when a report is read, from the open requests."""
    if request.status is RequestStatus.PENDING:
        raise ValueError(f"{request.request_id} is still open: it is counted from the open requests")
    decision = request.decision if request.status in _DECIDED else None
    approved = decision is not None and request.status is RequestStatus.APPROVED
    amount = decision.amount if decision is not None and approved else None
    day = ReceivedDay(
        received=1,
        approved=int(approved),
        refused=int(decision is not None and request.status is RequestStatus.REFUSED),
        cancelled=int(request.status is RequestStatus.CANCELLED),
        decided_automatically=int(decision is not None and decision.decided_by == AUTOMATIC),
        decided_in_time=int(decision is not None and decision.decided_at <= request.deadline),
        decided_on={decision.decided_at.astimezone(zone).date(): 1} if decision else {},
        refunded={amount.currency: amount.amount} if amount else {},
    )
    return request.received_at.astimezone(zone).date(), day


def added(days: Iterable[ReceivedDay]) -> ReceivedDay:
    """What several requests', or days', counts add up to."""
    numbers: Counter[str] = Counter()
    decided_on: Counter[date] = Counter()
    refunded: dict[str, Decimal] = {}
    for day in days:
        numbers.update(day.model_dump(exclude={"decided_on", "refunded"}))
        decided_on.update(day.decided_on)
        for currency, amount in day.refunded.items():
            refunded[currency] = refunded.get(currency, Decimal(0)) + amount
    return ReceivedDay.model_validate({**numbers, "decided_on": dict(decided_on), "refunded": refunded})


def _bucket(days_left: int) -> str:
    return next((name for name, low, high in _BUCKETS if low <= days_left <= high), _BUCKETS[-1][0])


def _nth(counts: Counter[int], rank: int) -> int:
    """The value at 0-based `rank` of the values in order, each value as often as it is counted."""
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if rank < seen:
            return value
    raise IndexError(rank)


def _spread(days: Counter[int]) -> Spread:
    """Median (the lower of the middle two) and p90 (nearest rank: the smallest value at least 90% of the values
    are not above), over each value as often as it is counted."""
    total = days.total()
    if not total:
        return Spread(median=None, p90=None, max=None)
    return Spread(median=_nth(days, (total - 1) // 2), p90=_nth(days, math.ceil(0.9 * total) - 1), max=max(days))


def service_levels(
    start: date,
    end: date,
    *,
    received: list[tuple[date, ReceivedDay]],
    open_now: list[ReportedRequest],
    now: datetime,
    calendar: ReviewCalendar,
) -> ServiceLevels:
    """The report of the requests received from `start` to `end`: those that have ended, from each day of the
    period that had any (`received`), and those still open (`open_now`, every request open `now`)."""
    today = calendar.local_date(now)
    left = Counter(
        _bucket(calendar.working_days_between(today, calendar.local_date(request.deadline))) for request in open_now
    )
    days: Counter[int] = Counter()
    for received_on, counts in received:
        for decided_on, decided in counts.decided_on.items():
            days[calendar.working_days_between(received_on, decided_on)] += decided
    total = added(counts for _, counts in received)
    return ServiceLevels(
        from_=start,
        to=end,
        open=OpenRequests(
            total=len(open_now),
            overdue=sum(request.overdue for request in open_now),
            by_working_days_left={name: left[name] for name, _, _ in _BUCKETS},
        ),
        received=total.received + sum(start <= calendar.local_date(request.received_at) <= end for request in open_now),
        decided={str(RequestStatus.APPROVED): total.approved, str(RequestStatus.REFUSED): total.refused},
        cancelled=total.cancelled,
        decided_automatically=total.decided_automatically,
        decided_in_time=total.decided_in_time,
        decided_late=total.approved + total.refused - total.decided_in_time,
        working_days_to_decision=_spread(days),
        # To the currency's minor unit: DynamoDB keeps a sum as a number, without its trailing zeros (1234.5).
        refunded=tuple(
            Money.of(amount, currency).rounded_down() for currency, amount in sorted(total.refunded.items())
        ),
    )


def spreadsheet_safe(value: str) -> str:
    """A field a spreadsheet would read as a formula is kept as text."""
    leading = value.lstrip("".join(_SKIPPED_BEFORE_A_FORMULA))
    risky = value.startswith(_SKIPPED_BEFORE_A_FORMULA[1:]) or leading.startswith(_FORMULA_STARTS)
    return f"'{value}" if risky else value


def sheet_time(moment: datetime | None, zone: ZoneInfo) -> str:
    """A moment as a spreadsheet's reader wants it: the policy's local time to the second, with its offset."""
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else ""


def decision_rows(received: Iterable[ReportedRequest], zone: ZoneInfo) -> Iterator[list[str]]:
    """One row per decided request, oldest received first; times in `zone`."""
    for request in sorted(received, key=lambda request: (request.received_at, request.request_id)):
        decision = request.decision
        if request.status not in _DECIDED or decision is None:
            continue
        row = (
            request.request_id,
            request.order_id,
            request.username,
            sheet_time(request.received_at, zone),
            sheet_time(decision.decided_at, zone),
            str(request.status),
            str(decision.refund_type) if decision.refund_type else "",
            str(decision.amount.amount) if decision.amount else "",
            decision.amount.currency if decision.amount else "",
            request.payment_channel or "",
            request.policy_version or "",
            decision.decided_by,
            "true" if decision.decided_at <= request.deadline else "false",
        )
        yield [spreadsheet_safe(value) for value in row]


def csv_lines(rows: Iterable[Iterable[str]]) -> str:
    """Rows as CSV text, each line ended by CRLF (RFC 4180)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def decisions_csv(received: list[ReportedRequest], zone: ZoneInfo) -> str:
    """One header row, then one row per decided request, oldest received first; times in `zone`."""
    return csv_lines([CSV_COLUMNS, *decision_rows(received, zone)])
