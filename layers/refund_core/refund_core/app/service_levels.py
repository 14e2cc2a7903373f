"""The service levels' days made whole (docs/design.md "Service levels"). The notifier counts a request on the day
it was received once it ends; a request whose stream record it gave up on, or that ended while the stream was off
after a restore, it never counts. So once a day (the reconciler's first run of each Hong Kong day) the requests
received in the last RECOUNT_DAYS days are read: a day whose ended requests are as many as its item counts is
left alone; in another, each ended request is counted on the condition the notifier counts on, so none twice."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from refund_core.adapters import received_days
from refund_core.adapters.records import ReportedRequest
from refund_core.app import policies, reports
from refund_core.policy.models import RequestStatus

# A request ends within its review window (10 working days), or soon after once overdue: 45 days cover both,
# holidays included, with weeks to spare.
RECOUNT_DAYS = 45


def recount(now: datetime) -> int:
    """How many ended requests the days were missing, now counted (0 when today's recount was done)."""
    zone = ZoneInfo(policies.in_force(now).time_zone)
    today = now.astimezone(zone).date()
    if not received_days.take_recount(today):
        return 0
    first = today - timedelta(days=RECOUNT_DAYS)
    counted = {day: counts.received for day, counts in received_days.received_between(first, today)}
    ended: defaultdict[date, list[ReportedRequest]] = defaultdict(list)
    for request in policies.received_on_days(first, today):
        if request.status is not RequestStatus.PENDING:
            ended[request.received_at.astimezone(zone).date()].append(request)
    recounted = 0
    for day, requests in ended.items():
        if counted.get(day, 0) == len(requests):
            continue
        for request in requests:
            received_on, counts = reports.counted(request, zone)
            recounted += received_days.count_ended(request.request_id, received_on, counts)
    return recounted
