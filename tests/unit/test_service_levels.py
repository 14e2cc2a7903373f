"""The service levels (API.md `GET /reports/sla`) from what a report reads: the days, what each request that has
ended (decided or cancelled) adds to the day it was received on, and the open requests; the same report as
counting the requests themselves one by one."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refund_core.adapters.records import ReceivedDay, ReportedRequest
from refund_core.app.reports import added, counted, service_levels
from refund_core.policy.calendar import ReviewCalendar
from refund_core.policy.document import shipped_policy
from refund_core.policy.models import Decision, RequestStatus
from refund_core.policy.money import Money

HK = ZoneInfo("Asia/Hong_Kong")
CALENDAR = ReviewCalendar(shipped_policy())
RECEIVED = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)  # 23:30 in Hong Kong, a Monday
DEADLINE = datetime(2026, 11, 16, 15, 59, 59, tzinfo=UTC)


def request(
    status: RequestStatus,
    decided_at: datetime | None = None,
    by: str = "rita",
    amount: Money | None = None,
    received_at: datetime = RECEIVED,
    deadline: datetime = DEADLINE,
) -> ReportedRequest:
    decision = (
        Decision(refund_type=None, amount=amount, reasons=(), decided_at=decided_at, decided_by=by)
        if decided_at
        else None
    )
    return ReportedRequest(
        request_id="rr_1", order_id="ord-1", username="kim", status=status, received_at=received_at,
        deadline=deadline, decision=decision,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (request(RequestStatus.CANCELLED), ReceivedDay(received=1, cancelled=1)),
        (
            request(RequestStatus.APPROVED, RECEIVED, "auto", Money.of("99.00", "USD")),
            ReceivedDay(
                received=1, approved=1, decided_automatically=1, decided_in_time=1,
                decided_on={date(2026, 11, 2): 1}, refunded={"USD": Decimal("99.00")},
            ),
        ),
        # Decided a second after the deadline: late. Days are Hong Kong's: 16:00 UTC is the next day there.
        (
            request(RequestStatus.REFUSED, DEADLINE + timedelta(seconds=1)),
            ReceivedDay(received=1, refused=1, decided_on={date(2026, 11, 17): 1}),
        ),
        (
            request(RequestStatus.APPROVED, DEADLINE, amount=Money.of("500", "HKD")),
            ReceivedDay(
                received=1, approved=1, decided_in_time=1, decided_on={date(2026, 11, 16): 1},
                refunded={"HKD": Decimal("500")},
            ),
        ),
    ],
    ids=["cancelled", "approved at once", "refused late", "approved at the deadline"],
)  # fmt: skip
def test_a_request_counts_on_the_hong_kong_day_it_was_received(case: ReportedRequest, expected: ReceivedDay) -> None:
    assert counted(case, HK) == (date(2026, 11, 2), expected)


def test_an_open_request_is_counted_from_the_open_requests_not_on_its_day() -> None:
    with pytest.raises(ValueError, match="still open"):
        counted(request(RequestStatus.PENDING), HK)


def ended(requests: list[ReportedRequest]) -> list[ReportedRequest]:
    return [each for each in requests if each.status is not RequestStatus.PENDING]


def by_day(requests: list[ReportedRequest]) -> list[tuple[date, ReceivedDay]]:
    """Each day's ended requests added up, as the stream adds them, one as it ends."""
    days: defaultdict[date, list[ReceivedDay]] = defaultdict(list)
    for each in ended(requests):
        day, counts = counted(each, HK)
        days[day].append(counts)
    return [(day, added(days[day])) for day in sorted(days)]


def as_counted_one_by_one(requests: list[ReportedRequest]) -> dict[str, object]:
    """The report's numbers from the requests themselves (how the first release counted them)."""
    decided = [
        each
        for each in requests
        if each.status in (RequestStatus.APPROVED, RequestStatus.REFUSED) and each.decision is not None
    ]
    days = sorted(
        CALENDAR.working_days_between(
            CALENDAR.local_date(each.received_at), CALENDAR.local_date(each.decision.decided_at)
        )
        for each in decided
        if each.decision
    )
    refunded: Counter[str] = Counter()
    for each in decided:
        if each.status is RequestStatus.APPROVED and each.decision and each.decision.amount:
            refunded[each.decision.amount.currency] += each.decision.amount.amount  # type: ignore[assignment]
    in_time = sum(bool(each.decision and each.decision.decided_at <= each.deadline) for each in decided)
    return {
        "received": len(requests),
        "decided": {
            str(status): sum(each.status is status for each in decided)
            for status in (RequestStatus.APPROVED, RequestStatus.REFUSED)
        },
        "cancelled": sum(each.status is RequestStatus.CANCELLED for each in requests),
        "decidedAutomatically": sum(bool(each.decision and each.decision.decided_by == "auto") for each in decided),
        "decidedInTime": in_time,
        "decidedLate": len(decided) - in_time,
        "workingDaysToDecision": {
            "median": statistics.median_low(days) if days else None,
            "p90": days[math.ceil(0.9 * len(days)) - 1] if days else None,
            "max": max(days) if days else None,
        },
        "refunded": [{"amount": str(total), "currency": currency} for currency, total in sorted(refunded.items())],
    }


@st.composite
def requests_of_a_month(draw: st.DrawFn) -> ReportedRequest:
    received_at = RECEIVED + timedelta(minutes=draw(st.integers(0, 30 * 24 * 60)))
    deadline = received_at + timedelta(days=14)
    status = draw(st.sampled_from(RequestStatus))
    # Decided requests without a decision (recorded so by a first release) count as received only.
    if status in (RequestStatus.PENDING, RequestStatus.CANCELLED) or draw(st.integers(0, 9)) == 0:
        return request(status, received_at=received_at, deadline=deadline)
    decided_at = received_at + timedelta(minutes=draw(st.integers(0, 25 * 24 * 60)))
    cents = draw(st.integers(0, 1_000_000))  # 0.00 too: a refund of nothing is still one in its currency
    amount = Money.of(Decimal(cents).scaleb(-2), draw(st.sampled_from(["USD", "HKD"])))
    approved = status is RequestStatus.APPROVED and draw(st.booleans() | st.just(True))
    by = draw(st.sampled_from(["auto", "rita"]))
    return request(status, decided_at, by, amount if approved else None, received_at, deadline)


@settings(max_examples=60, deadline=None)
@given(st.lists(requests_of_a_month(), max_size=40), st.integers(0, 40), st.integers(0, 30))
def test_the_days_and_the_open_requests_give_the_report_the_requests_give(
    requests: list[ReportedRequest], first: int, days: int
) -> None:
    start = date(2026, 11, 2) + timedelta(days=first)  # periods cutting the month anywhere
    end = start + timedelta(days=days)
    report = service_levels(
        start,
        end,
        received=[(day, counts) for day, counts in by_day(requests) if start <= day <= end],
        open_now=[each for each in requests if each.status is RequestStatus.PENDING],
        now=RECEIVED,
        calendar=CALENDAR,
    )
    numbers = report.model_dump(mode="json", by_alias=True, exclude={"from_", "to", "open"})
    in_period = [each for each in requests if start <= CALENDAR.local_date(each.received_at) <= end]
    assert numbers == as_counted_one_by_one(in_period)
