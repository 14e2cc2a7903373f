"""The decisions of a long period exported as a job (app/decisions_exports.py), for `make bench`: STORED decided
requests received over the last year are loaded into moto's server (the local runner's emulator, in this process,
loaded as a restore does); then the export from PERIODS days ago until today is run by a job in a process of its
own, as Lambda runs it, reaching the emulator over HTTP: its time, its rows, and the peak of the memory it allocated
(tracemalloc, in that process alone, so that none of moto's is counted). However many rows, the job holds one
part of the file (DECISIONS_EXPORT_PART_BYTES, 8 MiB), one day and one Query page."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import bench_policy

STORED = 100_000
DAYS = 365
PERIODS = (36, 182, DAYS)  # about a tenth of the rows, a half (one part), then all of them (two parts)


@dataclass(frozen=True)
class ExportRun:
    rows: int
    seconds: float
    peak_bytes: int
    file_bytes: int
    invocations: int


def _decided(count: int, now: datetime) -> Iterator[Any]:
    """bench_policy's assessed requests, spread over the last DAYS days, each approved at once."""
    from refund_core.app.resources import AUTOMATIC  # noqa: PLC0415
    from refund_core.policy.models import Decision, RefundType, RequestStatus  # noqa: PLC0415
    from refund_core.policy.money import Money  # noqa: PLC0415

    for index, request in enumerate(bench_policy._requests(count, now)):
        received = now - timedelta(days=DAYS) + timedelta(seconds=index * (DAYS - 1) * 86400 / count)
        decision = Decision(
            refund_type=RefundType.FULL,
            amount=Money.of(Decimal("100.00"), "USD"),
            reasons=(),
            decided_at=received + timedelta(minutes=1),
            decided_by=AUTOMATIC,
        )
        yield request.model_copy(
            update={
                "received_at": received,
                "deadline": received + timedelta(days=14),
                "status": RequestStatus.APPROVED,
                "decision": decision,
            }
        )


def _job(environment: dict[str, str], export_id: str, answers: Any) -> None:
    """The exports function's work in a process of its own: every invocation of the export's job (as its queue
    would give them) until it is done, timed, its allocations traced."""
    os.environ.update(environment)
    from refund_core.adapters import decisions_exports  # noqa: PLC0415
    from refund_core.app.decisions_exports import run_export  # noqa: PLC0415

    tracemalloc.start()
    started = time.perf_counter()
    invocations = 0
    while (export := decisions_exports.export(export_id)) is not None and export.status == "RUNNING":
        run_export(export_id, seconds_left=lambda: 900.0, clock=lambda: datetime.now(UTC))
        invocations += 1
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    done = decisions_exports.export(export_id)
    answers.put((seconds, peak, done.rows if done else 0, done.size if done else 0, invocations))


@contextlib.contextmanager
def served_stack() -> Iterator[dict[str, str]]:
    """moto's server provisioned from template.yaml, this process's settings and clients pointed at it: the
    environment a job's own process takes."""
    from refund_core.adapters import clients  # noqa: PLC0415
    from refund_core.settings import settings  # noqa: PLC0415
    from refund_local.emulator import Emulator  # noqa: PLC0415
    from refund_local.provision import load_template, provision  # noqa: PLC0415

    emulator = Emulator(execute_state_machine=False)
    emulator.start()
    saved = dict(os.environ)
    try:
        stack = provision(load_template(), emulator.client)
        environment = {**emulator.environment(), **stack.environment, "POWERTOOLS_TRACE_DISABLED": "true"}
        os.environ.update(environment)
        settings.cache_clear()
        clients.reset()
        yield environment
    finally:
        os.environ.clear()
        os.environ.update(saved)
        settings.cache_clear()
        clients.reset()
        emulator.reset()
        emulator.stop()


def in_a_process_of_its_own(target: Callable[..., None], *arguments: Any) -> Any:
    """What `target(*arguments, answers)` puts on its queue, run in a process of its own (spawned: nothing of this
    one's memory in it)."""
    spawned = multiprocessing.get_context("spawn")
    answers: Any = spawned.Queue()
    job = spawned.Process(target=target, args=(*arguments, answers))
    job.start()
    answer = answers.get(timeout=1800)
    job.join()
    return answer


def runs() -> list[ExportRun]:
    from refund_core.adapters import decisions_exports  # noqa: PLC0415
    from refund_core.adapters.dynamo import serialize  # noqa: PLC0415
    from refund_core.adapters.records import DecisionsExportRecord  # noqa: PLC0415
    from refund_core.adapters.repository import request_item  # noqa: PLC0415
    from refund_local.state import put_unchanged  # noqa: PLC0415

    exported: list[ExportRun] = []
    with served_stack() as environment:
        now = datetime.now(UTC)
        for _ in put_unchanged("RequestsTable", (serialize(request_item(r)) for r in _decided(STORED, now))):
            pass
        for days in PERIODS:
            # From the day the oldest stored request was received (the stored ones span DAYS days until now).
            first = (now - timedelta(days=days)).date()
            export = DecisionsExportRecord(
                export_id=f"bench-{days}",
                first_day=first,
                last_day=now.date(),
                requested_by="bench",
                requested_at=now,
                updated_at=datetime.now(UTC),
                next_day=first,
            )
            decisions_exports.create(export)
            seconds, peak, rows, size, invocations = in_a_process_of_its_own(_job, environment, export.export_id)
            exported.append(ExportRun(rows, seconds, peak, size, invocations))
            print(f"  bench_exports: {exported[-1]}", flush=True)
    if exported[-1].rows != STORED:
        raise SystemExit(f"bench: the export of {STORED:,} decisions has {exported[-1].rows:,} rows")
    return exported


if __name__ == "__main__":
    for run in runs():
        print(run)
