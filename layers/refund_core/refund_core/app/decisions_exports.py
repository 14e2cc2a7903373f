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
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import Field

from refund_core.adapters import decisions_exports, outbound, report_files
from refund_core.adapters.records import DecisionsExportRecord, ExportPart, JobStatus
from refund_core.app import jobs, policies, reports
from refund_core.app.inputs import Period
from refund_core.app.service import moment_now
from refund_core.errors import NotASupervisor, NotFound
from refund_core.http.identity import Caller
from refund_core.policy.models import CamelModel
from refund_core.settings import settings

# A job's invocation stops after a part once it has less than this left (Lambda's timeout is 900 s).
TIME_FOR_A_PART_SECONDS = 120.0


class DecisionsExport(jobs.LongJob):
    """An export as the API shows it: its period, how far its job has come, and once done the file's link."""

    export_id: str
    rows: int = Field(description="The decisions written so far")
    file_name: str
    size: int | None = Field(default=None, description="The file's size in bytes, once done")
    download_url: str | None = Field(
        default=None, description="Once done: the file, for a few minutes (ask again for a new link)"
    )


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


def _shown(export: DecisionsExportRecord, now: datetime) -> DecisionsExport:
    done = export.status is JobStatus.DONE
    return DecisionsExport(
        **jobs.LongJob.shown(export, now),
        export_id=export.export_id,
        rows=export.rows_read,
        file_name=_file_name(export),
        size=export.size if done else None,
        download_url=report_files.download_link(_file_key(export), _file_name(export)) if done else None,
    )


def start_export(caller: Caller, period: Period, now: datetime | None = None) -> DecisionsExport:
    """A new export of the decisions on the requests received in the period, its job queued."""
    _supervisor(caller)
    now = now or moment_now()
    export = DecisionsExportRecord(
        export_id=jobs.new_job_id(now), **jobs.asked(period, "decisions export", caller.username, now)
    )
    return _shown(jobs.job_queued(export, decisions_exports.create, _enqueued, _moved_on, "decisions export"), now)


def _enqueued(export: DecisionsExportRecord) -> None:
    outbound.enqueue_decisions_export(export.export_id)


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
    return DecisionsExports(
        items=tuple(_shown(export, now) for export in decisions_exports.recent(now - jobs.LISTED_FOR))
    )


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


def _run(export: DecisionsExportRecord, now: datetime, seconds_left: jobs.SecondsLeft, clock: jobs.Clock) -> None:
    """One invocation of an export's job: from where it was kept, day by day, until the file is complete or the
    invocation has less than TIME_FOR_A_PART_SECONDS left after a part (then the rest is queued)."""
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
    for day, received in policies.received_day_by_day(export.next_day, export.last_day, zone):
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
                _enqueued(export)
                return
        elif (at := clock()) - shown_at >= jobs.PROGRESS_EVERY:
            days_read = (next_day - export.first_day).days
            shown = _moved_on(export, days_read=days_read, rows_read=export.rows + rows, updated_at=at)
            if shown is None:
                return
            export, shown_at = shown, at
    _file_completed(export, part.getvalue(), rows, clock())


# An export's job, by its id (done, failed or expired with its file: nothing is left to do), and its queue's messages.
run_export = jobs.job_runner(decisions_exports.export, _failed, _run)
handle_export_record = jobs.job_deliveries("exportId", decisions_exports.export, _failed, run_export)
