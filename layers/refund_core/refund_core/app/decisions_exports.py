"""The decisions of a long period as a file (docs/design.md "Decisions exports"): a supervisor asks for the
export, a job writes it to the reports bucket day by day, and the page shows its progress, then a short-lived
download link. `GET /reports/decisions.csv` answers the same rows at once, for a period short enough to.

The job reads the period a Query page at a time and uploads the file in parts of whole Hong Kong days, each at
least `decisions_export_part_bytes`: however long the period, it holds one part, one day and one page. Every
change to the export is made on the condition that nobody moved it on since it was read (its version). A part
is uploaded under a number taken first, so two deliveries never write the same part; after it the job keeps
where it is (the day after the part's last, the part), and when its invocation has little time left it queues
the rest. The parts are made final (`completing`) before the file is completed. So a job that fails, is
delivered twice or runs out of time goes on from the last part kept, and writes each row once; on its last try
a job that fails marks its export failed."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from itertools import chain, groupby
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydantic import Field

from refund_core.adapters import decisions_exports, outbound, report_files
from refund_core.adapters.records import DecisionsExportRecord, ExportPart, JobStatus, ReportedRequest
from refund_core.app import policies, reports
from refund_core.app.inputs import Period, check_period
from refund_core.app.jobs import (
    LISTED_FOR,
    PROGRESS_EVERY,
    STALLED_AFTER,
    failed_on_last_try,
    new_job_id,
)
from refund_core.app.service import moment_now
from refund_core.errors import NotASupervisor, NotFound, ServiceBusy
from refund_core.http.identity import Caller
from refund_core.observability import count
from refund_core.policy.models import CamelModel, UtcDatetime
from refund_core.settings import settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

# A job's invocation stops after a part once it has less than this left (Lambda's timeout is 900 s).
TIME_FOR_A_PART_SECONDS = 120.0


class DecisionsExport(CamelModel):
    """An export as the API shows it: its period, how far its job has come, and once done the file's link."""

    export_id: str
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    status: JobStatus
    requested_by: str
    requested_at: UtcDatetime
    days: int = Field(description="The days of the period")
    days_read: int = Field(description="The days the job has read")
    rows: int = Field(description="The decisions written so far")
    file_name: str
    size: int | None = Field(default=None, description="The file's size in bytes, once done")
    finished_at: UtcDatetime | None = None
    download_url: str | None = Field(
        default=None, description="Once done: the file, for a few minutes (ask again for a new link)"
    )
    failure: str | None = None


class DecisionsExports(CamelModel):
    """The exports asked for in the last 7 days, newest first."""

    items: tuple[DecisionsExport, ...]


def _supervisor(caller: Caller) -> None:
    if not caller.is_supervisor:
        raise NotASupervisor("only refund supervisors may export the decisions")


def _file_name(export: DecisionsExportRecord) -> str:
    return f"decisions-{export.first_day}-{export.last_day}.csv"


def _file_key(export: DecisionsExportRecord) -> str:
    return f"exports/{export.export_id}/{_file_name(export)}"


def _stalled(export: DecisionsExportRecord, now: datetime) -> bool:
    return export.status is JobStatus.RUNNING and now - export.updated_at > STALLED_AFTER


def _shown(export: DecisionsExportRecord, now: datetime) -> DecisionsExport:
    stalled = _stalled(export, now)
    done = export.status is JobStatus.DONE
    return DecisionsExport(
        export_id=export.export_id,
        start=export.first_day,
        end=export.last_day,
        status=JobStatus.FAILED if stalled else export.status,
        requested_by=export.requested_by,
        requested_at=export.requested_at,
        days=(export.last_day - export.first_day).days + 1,
        days_read=export.days_read,
        rows=export.rows_read,
        file_name=_file_name(export),
        size=export.size if done else None,
        finished_at=export.finished_at,
        download_url=report_files.download_link(_file_key(export), _file_name(export)) if done else None,
        failure="stopped" if stalled else export.failure,
    )


def start_export(caller: Caller, period: Period, now: datetime | None = None) -> DecisionsExport:
    """A new export of the decisions on the requests received in the period, its job queued."""
    _supervisor(caller)
    now = now or moment_now()
    check_period(period.start, period.end, "decisions export")
    export = DecisionsExportRecord(
        export_id=new_job_id(now),
        first_day=period.start,
        last_day=period.end,
        requested_by=caller.username,
        requested_at=now,
        updated_at=now,
        next_day=period.start,
    )
    decisions_exports.create(export)
    try:
        outbound.enqueue_decisions_export(export.export_id)
    except outbound.JobNotQueued as not_queued:
        # Said at once, and listed as failed: nothing will run it.
        _moved_on(export, status=JobStatus.FAILED, failure="not started", finished_at=now)
        raise ServiceBusy("the export could not be started; try again in a few seconds") from not_queued
    count("DecisionsExportsAsked")
    return _shown(export, now)


def export_status(caller: Caller, export_id: str, now: datetime | None = None) -> DecisionsExport:
    _supervisor(caller)
    now = now or moment_now()
    export = decisions_exports.export(export_id)
    if export is None:
        raise NotFound(f"no decisions export {export_id}", field="exportId")
    return _shown(export, now)


def recent_exports(caller: Caller, now: datetime | None = None) -> DecisionsExports:
    _supervisor(caller)
    now = now or moment_now()
    return DecisionsExports(items=tuple(_shown(export, now) for export in decisions_exports.recent(now - LISTED_FOR)))


def _moved_on(export: DecisionsExportRecord, **changes: object) -> DecisionsExportRecord | None:
    """The export with `changes`, kept; None when another delivery of its job moved it on first."""
    new = export.model_copy(update=changes)
    if not decisions_exports.replaced(export, new):
        return None
    return new.model_copy(update={"version": export.version + 1})


def _failed(export: DecisionsExportRecord, failure: str, now: datetime) -> None:
    """The export failed, and its upload dropped, unless another delivery moved it on (its upload is its own)."""
    failed = _moved_on(export, status=JobStatus.FAILED, failure=failure, updated_at=now, finished_at=now)
    if failed is not None and export.upload_id:
        report_files.abandoned(_file_key(export), export.upload_id)


def _uploaded(
    export: DecisionsExportRecord, data: bytes, now: datetime
) -> tuple[DecisionsExportRecord, ExportPart] | None:
    """`data` uploaded as a part under a number taken first; None when the job is to stop here (another delivery
    moved the export on, or the upload is gone: never completed, since the parts are made final first, so the
    bucket dropped it, a day after it began)."""
    taken = _moved_on(export, parts_taken=export.parts_taken + 1, updated_at=now)
    if taken is None:
        return None
    etag = report_files.uploaded_part(_file_key(export), export.upload_id or "", taken.parts_taken, data)
    if etag is None:
        _failed(taken, "upload expired", now)
        return None
    return taken, ExportPart(number=taken.parts_taken, etag=etag)


def _part_kept(
    export: DecisionsExportRecord, data: bytes, rows: int, next_day: date, now: datetime
) -> DecisionsExportRecord | None:
    """The part uploaded and kept, with where the job is; None when the job is to stop here."""
    uploaded = _uploaded(export, data, now)
    if uploaded is None:
        return None
    taken, part = uploaded
    return _moved_on(
        taken, **_read_through(export, next_day, rows, len(data)), parts=(*export.parts, part), updated_at=now
    )


def _read_through(export: DecisionsExportRecord, next_day: date, rows: int, size: int) -> dict[str, object]:
    """Where the job is once `rows` more rows, `size` more bytes, are in parts: read up to `next_day`."""
    return {
        "next_day": next_day,
        "days_read": (next_day - export.first_day).days,
        "rows": export.rows + rows,
        "rows_read": export.rows + rows,
        "size": export.size + size,
    }


def _file_completed(export: DecisionsExportRecord, data: bytes, rows: int, now: datetime) -> None:
    """The last part (if anything is left) uploaded, the parts made final, and the file completed."""
    parts = export.parts
    if data:
        uploaded = _uploaded(export, data, now)
        if uploaded is None:
            return
        export, part = uploaded
        parts = (*parts, part)
    after_the_period = export.last_day + timedelta(days=1)
    read = _read_through(export, after_the_period, rows, len(data))
    final = _moved_on(export, **read, completing=True, parts=parts, updated_at=now)
    if final is not None:
        _completed(final, now)


def _completed(export: DecisionsExportRecord, now: datetime) -> None:
    """The file of final parts completed (by this delivery, or one before that stopped before saying so)."""
    key = _file_key(export)
    pairs = tuple((part.number, part.etag) for part in export.parts)
    if not report_files.completed(key, export.upload_id or "", pairs) and report_files.size(key) is None:
        _failed(export, "upload expired", now)
        return
    _moved_on(export, status=JobStatus.DONE, finished_at=now, updated_at=now)


def _part_bytes() -> int:
    return settings().decisions_export_part_bytes


def _received_days(first: date, last: date, zone: ZoneInfo) -> Iterator[tuple[date, list[ReportedRequest]]]:
    """Each day from `first` to `last` that received requests, with them, read a page at a time (oldest first,
    so that a day's requests come together)."""
    requests = chain.from_iterable(policies.received_on_days_in_pages(first, last))
    for day, received in groupby(requests, key=lambda request: request.received_at.astimezone(zone).date()):
        yield day, list(received)


class ExportJob(CamelModel):
    """A message of the exports' queue."""

    export_id: str = Field(min_length=1)


def handle_export_record(
    record: SQSRecord, seconds_left: Callable[[], float], clock: Callable[[], datetime] = moment_now
) -> None:
    """One delivery of a job; on its last try, a job that fails marks its export failed before it fails."""
    job = ExportJob.model_validate_json(record.body)

    def mark_failed() -> None:
        export = decisions_exports.export(job.export_id)
        if export is not None and export.status is JobStatus.RUNNING:
            _failed(export, "failed", clock())

    with failed_on_last_try(record, mark_failed):
        run_export(job.export_id, seconds_left, clock)


def run_export(export_id: str, seconds_left: Callable[[], float], clock: Callable[[], datetime]) -> None:
    """One invocation of an export's job: from where it was kept, day by day, until the file is complete or the
    invocation has less than TIME_FOR_A_PART_SECONDS left after a part (then the rest is queued)."""
    export = decisions_exports.export(export_id)
    if export is None or export.status is not JobStatus.RUNNING:
        return  # done, failed, or expired with its file: nothing is left to do
    now = clock()
    if _stalled(export, now):
        _failed(export, "stopped", now)
        return
    if export.completing:
        _completed(export, now)
        return
    if export.upload_id is None:
        upload_id = report_files.started(_file_key(export))
        started = _moved_on(export, upload_id=upload_id, updated_at=now)
        if started is None:
            report_files.abandoned(_file_key(export), upload_id)
            return
        export = started
    zone = ZoneInfo(policies.in_force(now).time_zone)
    # Bytes, as they are uploaded: text kept in a StringIO takes four bytes a character once it is measured.
    part = io.BytesIO()
    if not export.parts:
        part.write(reports.csv_lines([reports.CSV_COLUMNS]).encode())
    rows = 0
    shown_at = now
    for day, received in _received_days(export.next_day, export.last_day, zone):
        decided = list(reports.decision_rows(received, zone))
        part.write(reports.csv_lines(decided).encode())
        rows += len(decided)
        next_day = day + timedelta(days=1)
        if part.tell() >= _part_bytes():
            kept = _part_kept(export, part.getvalue(), rows, next_day, clock())
            if kept is None:
                return
            export, rows = kept, 0
            part.seek(0)
            part.truncate()
            if seconds_left() < TIME_FOR_A_PART_SECONDS:
                outbound.enqueue_decisions_export(export_id)
                return
        elif (at := clock()) - shown_at >= PROGRESS_EVERY:
            days_read = (next_day - export.first_day).days
            shown = _moved_on(export, days_read=days_read, rows_read=export.rows + rows, updated_at=at)
            if shown is None:
                return
            export, shown_at = shown, at
    _file_completed(export, part.getvalue(), rows, clock())
