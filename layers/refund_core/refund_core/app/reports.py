"""The supervisors' reports (API.md `GET /reports/sla`, `GET /reports/decisions.csv`), computed from the
requests read for them: pure functions of those requests, the period, the moment and the Hong Kong calendar."""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from pydantic import Field

from refund_core.adapters.records import ReportedRequest
from refund_core.app.resources import AUTOMATIC
from refund_core.policy.calendar import ReviewCalendar
from refund_core.policy.models import CamelModel, RequestStatus
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


def _bucket(days_left: int) -> str:
    return next((name for name, low, high in _BUCKETS if low <= days_left <= high), _BUCKETS[-1][0])


def _p90(values: list[int]) -> int:
    """Nearest rank: the smallest value at least 90% of the values are not above."""
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]


def service_levels(
    start: date,
    end: date,
    *,
    received: list[ReportedRequest],
    open_now: list[ReportedRequest],
    now: datetime,
    calendar: ReviewCalendar,
) -> ServiceLevels:
    today = calendar.local_date(now)
    left = Counter(
        _bucket(calendar.working_days_between(today, calendar.local_date(request.deadline))) for request in open_now
    )
    decided = [request for request in received if request.status in _DECIDED and request.decision is not None]
    in_time = [request for request in decided if request.decision and request.decision.decided_at <= request.deadline]
    days = [
        calendar.working_days_between(
            calendar.local_date(request.received_at), calendar.local_date(request.decision.decided_at)
        )
        for request in decided
        if request.decision
    ]
    refunded: dict[str, Decimal] = {}
    for request in decided:
        if request.status is RequestStatus.APPROVED and request.decision and request.decision.amount:
            amount = request.decision.amount
            refunded[amount.currency] = refunded.get(amount.currency, Decimal(0)) + amount.amount
    return ServiceLevels(
        from_=start,
        to=end,
        open=OpenRequests(
            total=len(open_now),
            overdue=sum(request.overdue for request in open_now),
            by_working_days_left={name: left[name] for name, _, _ in _BUCKETS},
        ),
        received=len(received),
        decided={str(status): sum(request.status is status for request in decided) for status in _DECIDED},
        cancelled=sum(request.status is RequestStatus.CANCELLED for request in received),
        decided_automatically=sum(
            bool(request.decision and request.decision.decided_by == AUTOMATIC) for request in decided
        ),
        decided_in_time=len(in_time),
        decided_late=len(decided) - len(in_time),
        working_days_to_decision=Spread(
            median=statistics.median_low(days) if days else None,
            p90=_p90(days) if days else None,
            max=max(days) if days else None,
        ),
        refunded=tuple(Money.of(total, currency) for currency, total in sorted(refunded.items())),
    )


def spreadsheet_safe(value: str) -> str:
    """A field a spreadsheet would read as a formula is kept as text."""
    leading = value.lstrip("".join(_SKIPPED_BEFORE_A_FORMULA))
    risky = value.startswith(_SKIPPED_BEFORE_A_FORMULA[1:]) or leading.startswith(_FORMULA_STARTS)
    return f"'{value}" if risky else value


def sheet_time(moment: datetime | None, zone: ZoneInfo) -> str:
    """A moment as a spreadsheet's reader wants it: the policy's local time to the second, with its offset."""
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else ""


def decisions_csv(received: list[ReportedRequest], zone: ZoneInfo) -> str:
    """One header row, then one row per decided request, oldest received first; times in `zone`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
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
        writer.writerow([spreadsheet_safe(value) for value in row])
    return out.getvalue()
