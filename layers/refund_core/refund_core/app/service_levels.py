"""The service levels' days made whole (docs/design.md "Service levels"). The notifier counts a request on the day
it was received once it ends; a request whose stream record it gave up on, or that ended while the stream was off
after a restore, it never counts. So once a day (the reconciler's first run of each Hong Kong day) the requests
received in the last RECOUNT_DAYS days are read: a day whose ended requests are as many as its item counts is
left alone; in another, each ended request is counted on the condition the notifier counts on, so none twice.
An operator makes the days of any period whole the same way (`backfill`, the reconciler invoked with
`{"recountServiceLevels": {"from", "to"}}`)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aws_lambda_powertools.metrics import MetricUnit

from refund_core.adapters import received_days
from refund_core.app import policies, reports
from refund_core.app.inputs import Period, check_period
from refund_core.observability import logger, metrics
from refund_core.policy.models import CamelModel, RequestStatus

# A request ends within its review window (10 working days), or soon after once overdue: 45 days cover both,
# holidays included, with weeks to spare.
RECOUNT_DAYS = 45
# A backfill stops after a day once its invocation has less than this left (the reconciler's timeout is 120 s).
TIME_FOR_A_DAY_SECONDS = 20.0


class Backfilled(CamelModel):
    """What a backfill of the service levels did: the ended requests it counted, the last day it made whole, and
    what is left of the period (None when nothing is: else the next invocation's `recountServiceLevels`)."""

    recounted: int
    through: date
    rest: Period | None


def _made_whole(first: date, last: date, zone: ZoneInfo, seconds_left: Callable[[], float]) -> tuple[int, date, bool]:
    """(ended requests counted, the last day made whole, whether every day was) for the days from `first` to `last`,
    read a page at a time and made whole day by day, until `seconds_left` is short."""
    counted = {day: counts.received for day, counts in received_days.received_between(first, last)}
    recounted = 0
    for day, received in policies.received_day_by_day(first, last, zone):
        ended = [request for request in received if request.status is not RequestStatus.PENDING]
        if ended and counted.get(day, 0) != len(ended):
            for request in ended:
                received_on, counts = reports.counted(request, zone)
                recounted += received_days.count_ended(request.request_id, received_on, counts)
        if seconds_left() < TIME_FOR_A_DAY_SECONDS:
            return recounted, day, day == last
    return recounted, last, True


def recount(now: datetime) -> int:
    """How many ended requests the days were missing, now counted (0 when today's recount was done)."""
    zone = ZoneInfo(policies.in_force(now).time_zone)
    today = now.astimezone(zone).date()
    if not received_days.take_recount(today):
        return 0
    recounted, _, _ = _made_whole(today - timedelta(days=RECOUNT_DAYS), today, zone, seconds_left=lambda: math.inf)
    return recounted


def backfill(period: Period, seconds_left: Callable[[], float]) -> Backfilled:
    """The days of a period made whole, whenever their requests ended (an operator's, for the days before the
    service levels were counted, or past the daily recount's RECOUNT_DAYS: docs/operations.md); each ended request
    counted on the condition the notifier counts on, so none twice, however often it is run."""
    check_period(period.start, period.end, "backfill")
    zone = ZoneInfo(policies.in_force().time_zone)
    recounted, through, whole = _made_whole(period.start, period.end, zone, seconds_left)
    metrics.add_metric(name="ServiceLevelsBackfilled", unit=MetricUnit.Count, value=recounted)
    rest = None if whole else Period(start=through + timedelta(days=1), end=period.end)
    logger.info("service levels backfilled", recounted=recounted, through=str(through), whole=whole)
    return Backfilled(recounted=recounted, through=through, rest=rest)
