"""Personal data kept no longer than the policy says (`personalDataYears`, the Personal Data (Privacy)
Ordinance's purpose limit): once a day, each request decided or cancelled that many years ago is reduced to what
the financial record needs (adapters/retention.py says what goes), and its history says when and why.

Requests are found by the day they were received, a day at a time from where the last run stopped (the mark) to
`LOOK_BACK_DAYS` days before the retention's end: a request is decided within its review's weeks, so by then
those received that day are long decided. One still open, or decided late, is kept, logged and counted
(PersonalDataKeptLonger): an operator erases it by hand. A shorter retention published later is caught up
from the mark, `MOST_DAYS_PER_RUN` days a run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from refund_core.adapters import evidence_files, repository, retention
from refund_core.adapters.records import RequestRecord
from refund_core.app import policies
from refund_core.observability import count, logger
from refund_core.policy.models import HistoryEntry, RequestStatus

RETENTION_ACTOR = "retention"
ERASED_EVENT = "personal data erased"
LOOK_BACK_DAYS = 90
MOST_DAYS_PER_RUN = 366


@dataclass(frozen=True)
class RetentionRun:
    looked_from: date | None  # the first and last day of receipt looked at (None: none was due)
    looked_through: date | None
    erased: int
    kept_longer: int


def closed_at(request: RequestRecord) -> datetime | None:
    """When the request stopped being a claim under review: its decision, or its cancellation."""
    if request.decision is not None:
        return request.decision.decided_at
    if request.status is RequestStatus.CANCELLED:
        return max((entry.at for entry in request.history if entry.event == "cancelled"), default=request.received_at)
    return None


def _years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February, in a year without one
        return moment.replace(year=moment.year - years, day=28)


def erase_expired_personal_data(now: datetime | None = None) -> RetentionRun:
    at = now or datetime.now(UTC)
    policy = policies.in_force(at)
    expired_before = _years_before(at, policy.personal_data_years)
    due_through = (expired_before - timedelta(days=LOOK_BACK_DAYS)).astimezone(ZoneInfo(policy.time_zone)).date()
    mark = retention.erased_through()
    if mark is None:
        # The first run: nothing the service has kept is that old yet (the mark starts the clock).
        retention.mark_erased_through(due_through, None)
        return RetentionRun(None, None, 0, 0)
    first = mark + timedelta(days=1)
    last = min(due_through, mark + timedelta(days=MOST_DAYS_PER_RUN))
    if first > last:
        return RetentionRun(None, None, 0, 0)
    erased = kept = 0
    for found in policies.received_on_days(first, last):
        request = repository.get_request(found.request_id)
        if request is None or request.personal_data_erased_at is not None:
            continue
        ended = closed_at(request)
        if ended is None or ended >= expired_before:
            kept += 1
            count("PersonalDataKeptLonger")
            logger.warning("personal data kept past its day of receipt's turn", request_id=request.request_id)
            continue
        entry = HistoryEntry(
            at=at,
            event=ERASED_EVENT,
            by=RETENTION_ACTOR,
            detail=f"kept {policy.personal_data_years} years after {ended:%Y-%m-%d} (policy {policy.version})",
        )
        decision = request.decision
        reasons = tuple(reason for reason in decision.reasons if reason != decision.note) if decision else ()
        for item in request.evidence:  # the files first: the items that name them go with the erasure
            evidence_files.delete(evidence_files.evidence_key(request.request_id, item.evidence_id))
        if retention.erase_personal_data(request, entry, reasons):
            erased += 1
            count("PersonalDataErased")
            logger.info("personal data erased", request_id=request.request_id, closed_at=ended.isoformat())
    retention.mark_erased_through(last, mark)
    return RetentionRun(first, last, erased, kept)
