"""The policy owners' simulations run as jobs (docs/design.md "Policy simulations as jobs"). `simulate` answers
within the API's 29 s; a long period, or one of many requests, is asked for as a job instead, with the same
answer once done. The job keeps the draft as it was saved when it was asked for, runs its rules on the requests
received one at a time, oldest first, and keeps its tally after whole days: every KEPT_EVERY (the progress the
page shows), and when its invocation has little time left, before it queues the rest. On the last day it records
the result and the audit entry in one transaction. Every change is made on the condition that nobody moved the job on
since it was read: a job delivered twice, or that times out, counts each request once."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import Field

from refund_core.adapters import outbound, policy_store
from refund_core.adapters.policy_store import AuditRecord, SimulationJobRecord
from refund_core.adapters.records import JobStatus
from refund_core.app import jobs, policies
from refund_core.app.inputs import Period
from refund_core.app.policies import Simulation, SimulationPeriod
from refund_core.app.service import moment_now
from refund_core.errors import NotFound
from refund_core.http.identity import Caller
from refund_core.observability import count
from refund_core.policy.models import CamelModel

# A job's invocation stops after a day once it has less than this left (Lambda's timeout is 900 s): time to read
# and judge a busy day's requests.
TIME_FOR_A_DAY_SECONDS = 120.0
# How often the job keeps its tally (the progress shown): its item, up to about 220 KB with 1,000 changes listed,
# costs that many write units each time.
KEPT_EVERY = timedelta(seconds=10)


class SimulationJob(jobs.LongJob):
    """A simulation run as a job, as the API shows it: its period, how far it has come, and once done its result
    (`result` as `simulate` answers; only when the job is read by its id)."""

    simulation_id: str
    version: str
    requests_read: int = Field(description="The requests the job has run the draft's rules on so far")
    result: Simulation | None = None


class SimulationJobs(CamelModel):
    """The simulations asked for as jobs in the last 7 days, newest first, without their results."""

    items: tuple[SimulationJob, ...]


def _shown(job: SimulationJobRecord, now: datetime, with_result: bool = True) -> SimulationJob:
    period = Period(start=job.first_day, end=job.last_day)
    result = None
    if with_result and job.status is JobStatus.DONE and job.finished_at is not None:
        result = Simulation.of(
            job.simulation_id, job.version, period, by=job.requested_by, at=job.finished_at, tally=job.tally
        )
    return SimulationJob(
        **jobs.LongJob.shown(job, now),
        simulation_id=job.simulation_id,
        version=job.version,
        requests_read=job.tally.requests,
        result=result,
    )


def _moved_on(
    job: SimulationJobRecord, entry: AuditRecord | None = None, **changes: object
) -> SimulationJobRecord | None:
    """The job with `changes`, kept; None when another delivery of it moved it on first."""
    new = job.model_copy(update=changes)
    if not policy_store.job_moved_on(job, new, entry):
        return None
    return new.model_copy(update={"revision": job.revision + 1})


def start_simulation(
    caller: Caller, version: str, period: SimulationPeriod, now: datetime | None = None
) -> SimulationJob:
    """A new simulation of the draft `version` as saved now, on the requests received in the period, its job
    queued."""
    policies.policy_owner_only(caller)
    now = now or moment_now()
    draft = policies.saved_draft(version)
    asked = jobs.asked(period, "policy simulation", caller.username, now)
    job = SimulationJobRecord(simulation_id=jobs.new_job_id(now), version=version, document=draft.document, **asked)
    return _shown(
        jobs.job_queued(job, policy_store.create_simulation_job, _enqueued, _moved_on, "policy simulation"), now
    )


def _enqueued(job: SimulationJobRecord) -> None:
    outbound.enqueue_policy_simulation(job.simulation_id)


def simulation_status(caller: Caller, simulation_id: str, now: datetime | None = None) -> SimulationJob:
    policies.policy_owner_only(caller)
    job = policy_store.simulation_job(simulation_id)
    if job is None:
        raise NotFound(f"no simulation {simulation_id}", field="simulationId")
    return _shown(job, now or moment_now())


def recent_simulations(caller: Caller, now: datetime | None = None) -> SimulationJobs:
    policies.policy_owner_only(caller)
    now = now or moment_now()
    recent = policy_store.recent_simulation_jobs(now - jobs.LISTED_FOR)
    return SimulationJobs(items=tuple(_shown(job, now, with_result=False) for job in recent))


def _failed(job: SimulationJobRecord, failure: str, now: datetime) -> None:
    _moved_on(job, status=JobStatus.FAILED, failure=failure, updated_at=now, finished_at=now)


def _run(job: SimulationJobRecord, now: datetime, seconds_left: jobs.SecondsLeft, clock: jobs.Clock) -> None:
    """One invocation of a simulation's job: from the day it was kept at, until the period is read or the
    invocation has less than TIME_FOR_A_DAY_SECONDS left after a day (then the rest is queued)."""
    zone = ZoneInfo(policies.in_force(now).time_zone)
    tally = job.tally.model_copy(deep=True)
    kept_at, day = now, None
    # One request at a time (a busy day's requests are not held): a day is whole once the next one's first is read.
    for request in policies.to_replay_on_days(job.next_day, job.last_day):
        received_on = request.received_at.astimezone(zone).date()
        if day is not None and received_on != day:
            at, next_day = clock(), day + timedelta(days=1)
            out_of_time = seconds_left() < TIME_FOR_A_DAY_SECONDS
            if out_of_time or at - kept_at >= KEPT_EVERY:
                days_read = (next_day - job.first_day).days
                kept = _moved_on(job, tally=tally, next_day=next_day, days_read=days_read, updated_at=at)
                if kept is None:
                    return
                job, kept_at, tally = kept, at, kept.tally.model_copy(deep=True)
                if out_of_time:
                    _enqueued(job)
                    return
        day = received_on
        tally.add(request, request.facts, job.document)
    at = clock()
    detail = policies.simulated_detail(job.first_day, job.last_day, tally)
    entry = AuditRecord(at=at, by=job.requested_by, action="simulated", version=job.version, detail=detail)
    done = _moved_on(
        job,
        entry,
        tally=tally,
        next_day=job.last_day + timedelta(days=1),
        days_read=(job.last_day - job.first_day).days + 1,
        status=JobStatus.DONE,
        finished_at=at,
        updated_at=at,
    )
    if done is not None:
        count("PolicySimulations")


# A simulation's job, by its id, and its queue's messages.
run_simulation = jobs.job_runner(policy_store.simulation_job, _failed, _run)
handle_simulation_record = jobs.job_deliveries("simulationId", policy_store.simulation_job, _failed, run_simulation)
