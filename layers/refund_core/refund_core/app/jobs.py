"""What the long jobs share: the supervisors' decisions exports (app/decisions_exports.py) and the policy owners'
simulations (app/policy_simulations.py). Each is asked for through the API, kept as one item moved on under a
condition on its version, and run by a queue's function from where it was kept; its page shows its progress."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from pydantic import Field, TypeAdapter

from refund_core.adapters import outbound
from refund_core.adapters.records import JobRecord, JobStatus
from refund_core.app.inputs import Period, check_period
from refund_core.app.service import moment_now
from refund_core.errors import ServiceBusy
from refund_core.observability import count, observed
from refund_core.policy.models import CamelModel, UtcDatetime

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

# How often an export's progress shown is brought up to date while its job reads.
PROGRESS_EVERY = timedelta(seconds=2)
# Past this without news, a job was never run: its queue keeps a message a day (a job that fails says so itself).
STALLED_AFTER = timedelta(days=1)
# The jobs' queues' maxReceiveCount (template.yaml): the last try of a job that fails marks it failed.
JOB_TRIES = 3
# The jobs a page lists.
LISTED_FOR = timedelta(days=7)

type Failed[Job: JobRecord] = Callable[[Job, str, datetime], object]


class LongJob(CamelModel):
    """A long job as the API shows it, whatever the job: its period, who asked and when, how far it has come."""

    start: date = Field(alias="from")
    end: date = Field(alias="to")
    status: JobStatus
    requested_by: str
    requested_at: UtcDatetime
    days: int = Field(description="The days of the period")
    days_read: int = Field(description="The days the job has read")
    finished_at: UtcDatetime | None = None
    failure: str | None = None

    @staticmethod
    def shown(job: JobRecord, now: datetime) -> dict[str, Any]:
        """The fields of the job as shown at `now`: one that never ran is shown failed (`stopped`)."""
        never_ran = stalled(job, now)
        return {
            "start": job.first_day,
            "end": job.last_day,
            "status": JobStatus.FAILED if never_ran else job.status,
            "requested_by": job.requested_by,
            "requested_at": job.requested_at,
            "days": (job.last_day - job.first_day).days + 1,
            "days_read": job.days_read,
            "finished_at": job.finished_at,
            "failure": "stopped" if never_ran else job.failure,
        }


def asked(period: Period, what: str, by: str, now: datetime) -> dict[str, Any]:
    """The fields of a job's item as it is asked for, to read the period from its first day (a period too long or
    reversed is the caller's 400)."""
    check_period(period.start, period.end, what)
    return {
        "first_day": period.start,
        "last_day": period.end,
        "requested_by": by,
        "requested_at": now,
        "updated_at": now,
        "next_day": period.start,
    }


def job_queued[Job: JobRecord](
    job: Job, create: Callable[[Job], None], enqueue: Callable[[Job], None], moved_on: Callable[..., object], what: str
) -> Job:
    """The job's item written, then its first message queued (and counted, `<what>JobsAsked`). A queue that refuses
    it is said at once (503), and the job listed as failed (`not started`): nothing will run it."""
    create(job)
    try:
        enqueue(job)
    except outbound.JobNotQueued as not_queued:
        moved_on(job, status=JobStatus.FAILED, failure="not started", finished_at=job.requested_at)
        raise ServiceBusy(f"the {what} could not be started; try again in a few seconds") from not_queued
    count(f"{what.title().replace(' ', '')}JobsAsked")
    return job


def new_job_id(now: datetime) -> str:
    """In the order they are asked for, and not to be guessed."""
    return f"{now.strftime('%Y%m%dT%H%M%S%f')}-{secrets.token_hex(6)}"


def stalled(job: JobRecord, now: datetime) -> bool:
    return job.status is JobStatus.RUNNING and now - job.updated_at > STALLED_AFTER


def job_to_run[Job: JobRecord](job: Job | None, now: datetime, failed: Failed[Job]) -> Job | None:
    """The job, if it is still to run: None when it is gone, done or failed, or stalled (then marked failed)."""
    if job is None or job.status is not JobStatus.RUNNING:
        return None
    if stalled(job, now):
        failed(job, "stopped", now)
        return None
    return job


@contextmanager
def failed_on_last_try[Job: JobRecord](
    record: SQSRecord, read: Callable[[], Job | None], failed: Failed[Job], clock: Clock
) -> Iterator[None]:
    """One delivery of a job: on its last try, a job that fails is marked failed before the delivery fails."""
    try:
        yield
    except Exception:
        if int(record.attributes.approximate_receive_count) >= JOB_TRIES:
            job = read()
            if job is not None and job.status is JobStatus.RUNNING:
                failed(job, "failed", clock())
        raise


type SecondsLeft = Callable[[], float]
type Clock = Callable[[], datetime]
type RunJob = Callable[[str, SecondsLeft, Clock], None]
type Delivery = Callable[[SQSRecord, SecondsLeft], None]


def job_runner[Job: JobRecord](
    read: Callable[[str], Job | None], failed: Failed[Job], run: Callable[[Job, datetime, SecondsLeft, Clock], None]
) -> RunJob:
    """One invocation of a job, by its id: nothing when it is gone, done or failed, a stalled one marked failed,
    else `run` from where it was kept."""

    def run_job(job_id: str, seconds_left: SecondsLeft, clock: Clock) -> None:
        now = clock()
        job = job_to_run(read(job_id), now, failed)
        if job is not None:
            run(job, now, seconds_left, clock)

    return run_job


# A job queue's message: `{"<the kind's id>": "<the job's id>"}`.
_MESSAGE = TypeAdapter(dict[str, Annotated[str, Field(min_length=1)]])


def job_deliveries[Job: JobRecord](
    id_name: str, read: Callable[[str], Job | None], failed: Failed[Job], run_job: RunJob
) -> Delivery:
    """A job queue's messages (the job's id under `id_name`), each one delivery of its job; on its last try, a
    job that fails is marked failed before the delivery fails."""

    def deliver(record: SQSRecord, seconds_left: SecondsLeft) -> None:
        job_id = _MESSAGE.validate_json(record.body).get(id_name)
        if job_id is None:
            raise ValueError(f"a job's message without its {id_name}: {record.body[:200]}")
        with failed_on_last_try(record, lambda: read(job_id), failed, moment_now):
            run_job(job_id, seconds_left, moment_now)

    return deliver


def queue_handler(deliver: Delivery) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """A job queue's function (one message a batch): each message a delivery of its job, given the time its
    invocation has left; a delivery that fails comes back after the queue's visibility timeout, and the
    dead-letter queue keeps one that outlives the queue's tries."""
    processor = BatchProcessor(event_type=EventType.SQS)

    @observed()
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        def run(record: SQSRecord) -> None:
            deliver(record, lambda: context.get_remaining_time_in_millis() / 1000)

        return dict(process_partial_response(event=event, record_handler=run, processor=processor, context=context))

    return lambda_handler
