"""The supervisors' service levels as the stored requests grow (in-process moto, its DynamoDB patched as the
local runner's): 1,000 and then 100,000 requests received over the last year, OPEN of them pending (received in
the last two weeks: the review window bounds them, not the years kept), the others approved (most at once),
refused or cancelled. The requests are loaded into the table as a restore does (no stream records: the
notifier's work on 100,000 of them would take the bench half an hour), and the counts of those that ended
written as the notifier writes them (adapters/received_days.py), once for each day's together. Then the report
of the last 30 days (`GET /reports/sla`'s service call), median of RUNS, and once the decisions CSV of the same
period, which reads every request of it, for contrast."""

from __future__ import annotations

import gc
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import bench_policy
from bench_aws import counted_calls, hooked

SIZES = (1_000, 100_000)
RUNS = 5
DAYS = 365
OPEN = 50


@dataclass(frozen=True)
class ReportRun:
    stored: int
    sla_ms: float
    sla_calls: Counter[str]
    sla_items_read: int
    csv_ms: float
    csv_rows: int


def _requests(count: int, now: datetime) -> Iterator[Any]:
    """bench_policy's assessed requests, spread over the last DAYS days and taken to their ends."""
    from refund_core.app.resources import AUTOMATIC  # noqa: PLC0415
    from refund_core.policy.models import Decision, RefundType, RequestStatus  # noqa: PLC0415
    from refund_core.policy.money import Money  # noqa: PLC0415

    for index, request in enumerate(bench_policy._requests(count, now)):
        if index < OPEN:  # open requests are at most two weeks old
            received = now - timedelta(days=13) + timedelta(seconds=index * 13 * 86400 / OPEN)
            yield request.model_copy(update={"received_at": received, "deadline": received + timedelta(days=14)})
            continue
        received = now - timedelta(days=DAYS) + timedelta(seconds=index * (DAYS - 14) * 86400 / count)
        status = (RequestStatus.APPROVED, RequestStatus.APPROVED, RequestStatus.REFUSED, RequestStatus.CANCELLED)[
            index % 4
        ]
        decision = None
        if status is not RequestStatus.CANCELLED:
            approved = status is RequestStatus.APPROVED
            decision = Decision(
                refund_type=RefundType.FULL if approved else None,
                amount=Money.of(Decimal("100.00"), "USD") if approved else None,
                reasons=(),
                decided_at=received + timedelta(days=index % 12),
                decided_by=AUTOMATIC if index % 3 else "rita",
            )
        yield request.model_copy(
            update={
                "received_at": received,
                "deadline": received + timedelta(days=14),
                "status": status,
                "decision": decision,
            }
        )


def _store_and_count(count: int, now: datetime) -> None:
    from collections import defaultdict  # noqa: PLC0415
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    from refund_core.adapters import received_days  # noqa: PLC0415
    from refund_core.adapters.dynamo import serialize  # noqa: PLC0415
    from refund_core.adapters.repository import request_item  # noqa: PLC0415
    from refund_core.app import reports  # noqa: PLC0415
    from refund_core.policy.document import shipped_policy  # noqa: PLC0415
    from refund_core.policy.models import RequestStatus  # noqa: PLC0415
    from refund_local.state import put_unchanged  # noqa: PLC0415

    zone = ZoneInfo(shipped_policy().time_zone)
    days: defaultdict[Any, list[Any]] = defaultdict(list)

    def items() -> Iterator[dict[str, Any]]:
        for request in _requests(count, now):
            if request.status is not RequestStatus.PENDING:
                received_on, counts = reports.counted(request, zone)
                days[received_on].append(counts)
            yield serialize(request_item(request))

    for _ in put_unchanged("RequestsTable", items()):
        pass
    for received_on, counts in days.items():
        received_days.count_ended(f"bench-{received_on}", received_on, reports.added(counts))


def _median_ms(call: Callable[[], Any]) -> tuple[float, Any]:
    timings, result = [], None
    for _ in range(RUNS):
        started = time.perf_counter()
        result = call()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), result


def _run(count: int) -> ReportRun:
    from refund_core.app import service  # noqa: PLC0415
    from refund_core.http.identity import SUPERVISORS_GROUP, Caller  # noqa: PLC0415
    from refund_local.stack import LocalAws  # noqa: PLC0415

    stack = LocalAws(execute_state_machine=False).start()
    try:
        now = datetime.now(UTC)
        _store_and_count(count, now)
        # What is stored is DynamoDB's memory, not the function's: moto's millions of objects kept out of this
        # process's garbage collections, which would otherwise walk them all, at 100,000 requests, in the report.
        gc.collect()
        gc.freeze()
        supervisor = Caller(username="sue", email=None, groups=frozenset({SUPERVISORS_GROUP}))
        sla_ms, report = _median_ms(lambda: service.service_levels(supervisor, now=now))
        if report.received == 0 or report.open.total != OPEN:
            raise SystemExit(f"bench: the report of {count:,} stored requests is wrong: {report}")
        read = Counter[str]()

        def items_read(parsed: dict[str, Any], model: Any, **_: Any) -> None:
            read[model.name] += parsed.get("ScannedCount", 0)

        with counted_calls() as calls, hooked({"after-call.dynamodb": items_read}):
            service.service_levels(supervisor, now=now)
        started = time.perf_counter()
        text, _ = service.decisions_export(supervisor, now=now)
        csv_ms = (time.perf_counter() - started) * 1000
    finally:
        stack.stop()
        gc.unfreeze()
    return ReportRun(count, sla_ms, calls, read.total(), csv_ms, text.count("\n") - 1)


def runs() -> list[ReportRun]:
    return [_run(count) for count in SIZES]
