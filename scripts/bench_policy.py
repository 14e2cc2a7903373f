"""The policy owners' simulation over 1,000 and 10,000 stored requests (in-process moto): its time, and its
peak memory (tracemalloc), which must stay flat as the period holds more requests; a year simulated as a job;
and what reading the policy costs an invocation (the published versions are one Query per process per
PolicyCacheSeconds)."""

from __future__ import annotations

import math
import os
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# Up to 2,500 requests (1,000 changes listed) the list of changes grows; past it, nothing does.
SIZES = (1_000, 10_000, 50_000)
PAGE = 1_000
MOTO_SIZE = 1_000
# A year's requests simulated as a job.
JOB_SIZES = (20_000, 100_000)


@dataclass(frozen=True)
class SimulationRun:
    requests: int
    changed: int
    seconds: float
    peak_mib: float
    aws_calls: Counter[str]


def _requests(count: int, now: datetime) -> Iterator[Any]:
    """`count` requests received over the last 28 days, orders 5 to 44 days old at receipt, assessed under
    the shipped policy on the facts recorded with them."""
    from refund_core.adapters.records import RequestRecord  # noqa: PLC0415
    from refund_core.policy.document import shipped_policy  # noqa: PLC0415
    from refund_core.policy.models import (  # noqa: PLC0415
        AssessedFacts,
        ClaimFacts,
        Customer,
        Order,
        RequestStatus,
        SupportTicket,
        Usage,
    )
    from refund_core.policy.money import Money  # noqa: PLC0415
    from refund_core.policy.rules import assess  # noqa: PLC0415

    policy = shipped_policy()
    for index in range(count):
        received = now - timedelta(days=28) + timedelta(seconds=index * 28 * 86400 / count)
        username, order_id = f"c{index:05d}", f"o{index:05d}"
        facts = ClaimFacts(
            received_at=received,
            order=Order(
                order_id=order_id,
                username=username,
                ordered_at=received - timedelta(days=5 + index % 40),
                amount_paid=Money.of("100.00", "USD"),
                payment_channel="card",
                kind="new",
                service_period_days=365,
                payment_state="settled",  # type: ignore[arg-type]
            ),
            usage=Usage(traffic_bytes=2_000_000_000, connections=3),
            customer=Customer(username=username),
            support_ticket_id=f"T-{order_id}",
            support_ticket=SupportTicket(
                ticket_id=f"T-{order_id}",
                username=username,
                opened_at=received - timedelta(hours=1),
                category="technical",
                official_response="cannot_fix",
            ),
        )
        assessment = assess(facts, policy, received)
        yield RequestRecord(
            request_id=f"rr_{index:08d}",
            order_id=order_id,
            username=username,
            reason="It drops.",
            support_ticket_id=f"T-{order_id}",
            status=RequestStatus.PENDING,
            received_at=received,
            deadline=received + timedelta(days=14),
            reminder_at=received + timedelta(days=10),
            assessment=assessment,
            facts=AssessedFacts.of(facts),
            amount_paid=facts.order.amount_paid,
            payment_channel="card",
        )


def _store(count: int, now: datetime) -> None:
    import boto3  # noqa: PLC0415

    from refund_core.adapters.repository import request_item  # noqa: PLC0415
    from refund_core.settings import settings  # noqa: PLC0415

    table = boto3.resource("dynamodb").Table(settings().requests_table_name)
    with table.batch_writer() as batch:
        for request in _requests(count, now):
            batch.put_item(Item=request_item(request))


def _owner_and_period(now: datetime) -> tuple[Any, Any]:
    from refund_core.app import policies  # noqa: PLC0415
    from refund_core.app.policies import SimulationPeriod  # noqa: PLC0415
    from refund_core.http.identity import POLICY_OWNERS_GROUP, Caller  # noqa: PLC0415
    from refund_core.policy.document import shipped_policy  # noqa: PLC0415

    owner = Caller(username="olive", email=None, groups=frozenset({POLICY_OWNERS_GROUP}))
    draft = shipped_policy().model_copy(update={"claim_window_days": 14, "version": "bench"})
    policies.save_draft(owner, "bench", draft)
    today = now.astimezone(ZoneInfo(policies.in_force().time_zone)).date()
    period = SimulationPeriod.model_validate({"from": str(today - timedelta(days=30)), "to": str(today)})
    return owner, period


def simulation_in_moto(size: int = MOTO_SIZE) -> SimulationRun:
    """The whole simulation through the repository, against moto: its AWS calls (moto's copying of every
    item it reads is most of the time)."""
    from bench_aws import counted_calls  # noqa: PLC0415

    from refund_core.app import policies  # noqa: PLC0415
    from refund_local.stack import LocalAws  # noqa: PLC0415

    stack = LocalAws(execute_state_machine=False).start()
    try:
        now = datetime.now(UTC)
        _store(size, now)
        owner, period = _owner_and_period(now)
        with counted_calls() as calls:
            started = time.perf_counter()
            result = policies.simulate(owner, "bench", period)
            seconds = time.perf_counter() - started
    finally:
        stack.stop()
    return SimulationRun(result.requests, result.changed_count, seconds, 0.0, calls)


def simulations() -> list[SimulationRun]:
    """The service's own work per size, DynamoDB's pages stubbed: the stored items of one page (1,000, as a
    Query page holds) validated into requests as the repository does, for as many requests as the period
    holds; time, then peak memory (tracemalloc) in a second run."""
    from refund_core.adapters import request_reads  # noqa: PLC0415
    from refund_core.adapters.records import RequestRecord  # noqa: PLC0415
    from refund_core.adapters.repository import request_item  # noqa: PLC0415
    from refund_core.app import policies  # noqa: PLC0415
    from refund_local.stack import LocalAws  # noqa: PLC0415

    runs = []
    stack = LocalAws(execute_state_machine=False).start()
    real = request_reads.requests_to_replay
    try:
        now = datetime.now(UTC)
        page = [request_item(request) for request in _requests(PAGE, now)]
        owner, period = _owner_and_period(now)
        for size in SIZES:

            def stored(start: datetime, before: datetime, size: int = size) -> Iterator[Any]:
                for index in range(size):
                    yield RequestRecord.model_validate(page[index % PAGE] | {"requestId": f"rr_{index:08d}"})

            request_reads.requests_to_replay = stored
            started = time.perf_counter()
            result = policies.simulate(owner, "bench", period)
            seconds = time.perf_counter() - started
            tracemalloc.start()
            policies.simulate(owner, "bench", period)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            runs.append(SimulationRun(result.requests, result.changed_count, seconds, peak / 2**20, Counter()))
    finally:
        request_reads.requests_to_replay = real
        stack.stop()
    return runs


@dataclass(frozen=True)
class SimulationJobRun:
    requests: int
    changed: int
    seconds: float
    peak_mib: float
    kept: int  # the times the job kept its tally (its item's writes)
    item_kib: float  # the job's item once done, as DynamoDB counts it


def _stubbed_year(size: int, now: datetime, first: datetime) -> None:
    """DynamoDB's pages of requests stubbed as in `simulations`, `size` requests received evenly over the year from
    `first` (so that a job reads it day by day)."""
    from refund_core.adapters import request_reads  # noqa: PLC0415
    from refund_core.adapters.records import RequestRecord  # noqa: PLC0415
    from refund_core.adapters.repository import request_item  # noqa: PLC0415
    from refund_core.policy.models import utc_iso  # noqa: PLC0415

    page = [request_item(request) for request in _requests(PAGE, now)]
    spacing = timedelta(days=365) / size

    def stored(start: datetime, before: datetime) -> Iterator[Any]:
        index = max(0, math.ceil((start - first) / spacing))
        while index < size and (at := first + index * spacing) < before:
            yield RequestRecord.model_validate(
                page[index % PAGE] | {"requestId": f"rr_{index:08d}", "receivedAt": utc_iso(at)}
            )
            index += 1

    request_reads.requests_to_replay = stored


def _simulation_job(
    environment: dict[str, str], simulation_id: str, size: int, moments: tuple[str, str], answers: Any
) -> None:
    """The simulations function's work in a process of its own (so that none of moto's memory is counted): the
    job's one invocation, timed, then its allocations traced."""
    os.environ.update(environment)
    from refund_core.adapters import policy_store  # noqa: PLC0415
    from refund_core.app.policy_simulations import run_simulation  # noqa: PLC0415

    _stubbed_year(size, datetime.fromisoformat(moments[0]), datetime.fromisoformat(moments[1]))
    writes = 0
    moved_on = policy_store.job_moved_on

    def counted(*arguments: Any) -> bool:
        nonlocal writes
        writes += 1
        return moved_on(*arguments)

    policy_store.job_moved_on = counted
    tracemalloc.start()
    started = time.perf_counter()
    run_simulation(simulation_id, seconds_left=lambda: 900.0, clock=lambda: datetime.now(UTC))
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    answers.put((seconds, peak, writes))


def simulation_jobs() -> list[SimulationJobRun]:
    """A year simulated as a job, against moto's server: the job in a process of its own, over HTTP, DynamoDB's
    pages of requests stubbed there, its own item kept in moto."""
    import boto3  # noqa: PLC0415
    from bench_exports import in_a_process_of_its_own, served_stack  # noqa: PLC0415

    from refund_core.adapters import policy_store  # noqa: PLC0415
    from refund_core.app import policies, policy_simulations  # noqa: PLC0415
    from refund_core.app.policies import SimulationPeriod  # noqa: PLC0415
    from refund_core.settings import settings  # noqa: PLC0415

    runs = []
    with served_stack() as environment:
        now = datetime.now(UTC)
        owner, _ = _owner_and_period(now)
        today = now.astimezone(ZoneInfo(policies.in_force().time_zone)).date()
        period = SimulationPeriod.model_validate({"from": str(today - timedelta(days=364)), "to": str(today)})
        moments = (now.isoformat(), policies.hong_kong_day_start(period.start).isoformat())
        for size in JOB_SIZES:
            simulation_id = policy_simulations.start_simulation(owner, "bench", period).simulation_id
            seconds, peak, writes = in_a_process_of_its_own(_simulation_job, environment, simulation_id, size, moments)
            done = policy_simulations.simulation_status(owner, simulation_id).result
            if done is None or done.requests != size:
                raise SystemExit(f"bench: the simulation of {size:,} requests did not finish")
            key = {"pk": {"S": policy_store.SIMULATION_JOBS}, "sk": {"S": simulation_id}}
            item = boto3.client("dynamodb").get_item(TableName=settings().policy_table_name, Key=key)["Item"]
            item_size = sum(len(name) + len(str(next(iter(value.values()))).encode()) for name, value in item.items())
            runs.append(SimulationJobRun(size, done.changed_count, seconds, peak / 2**20, writes, item_size / 1024))
    return runs


def policy_reads_per_invocation(invocations: int = 50) -> tuple[int, int]:
    """(AWS calls of the first invocation's policy read, of the next `invocations` together): the versions
    are read once and then served from the cache."""
    from bench_aws import counted_calls  # noqa: PLC0415

    from refund_core.app import policies  # noqa: PLC0415
    from refund_local.stack import LocalAws  # noqa: PLC0415

    stack = LocalAws(execute_state_machine=False).start()
    try:
        with counted_calls() as first:
            policies.in_force()
        with counted_calls() as later:
            for _ in range(invocations):
                policies.in_force()
                policies.assessed_under("2026-11-26.1", datetime.now(UTC))
    finally:
        stack.stop()
    return sum(first.values()), sum(later.values())
