"""Benchmarks, run by `make bench`: each section is a function returning rows, printed as one table at the end.

To add a section (AWS calls per operation, cold init, cost...), write a function returning a list of `Row`
and append it to SECTIONS with its title. A row's goal is free text ("≥ 1,000 /s", "≤ 3") or ""."""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import bench_aws
import bench_cold
import bench_exports
import bench_lifecycle
import bench_load
import bench_payouts
import bench_policy
import bench_records
import bench_reports
import bench_stored
import bench_web

from refund_core.adapters.records import ClaimsRecord
from refund_core.policy.calendar import review_timeline
from refund_core.policy.document import shipped_policy
from refund_core.policy.models import (
    AccountBlock,
    ClaimFacts,
    Customer,
    EarlierClaim,
    Order,
    Outcome,
    PaymentState,
    RequestStatus,
    SupportTicket,
    Usage,
)
from refund_core.policy.money import Money
from refund_core.policy.rules import assess

HK = ZoneInfo("Asia/Hong_Kong")
MIN_SECONDS = 1.0  # each measurement runs at least this long


class Row(NamedTuple):
    label: str
    value: float | int | str
    unit: str
    goal: str = ""


Section = Callable[[], list[Row]]


def per_second(operation: Callable[[], object], min_seconds: float = MIN_SECONDS) -> float:
    """Calls of `operation` per second on this one thread, timed with perf_counter over ≥ min_seconds."""
    operation()  # warm caches (policy document, holiday calendar) outside the measurement
    calls, batch = 0, 16
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < min_seconds:
        for _ in range(batch):
            operation()
        calls += batch
        batch = min(batch * 2, 4096)
    return calls / elapsed


def realistic_claim(**changes: object) -> ClaimFacts:
    """A claim as the service builds it: an order, its usage, an account with history, a ticket, a past claim."""
    order = Order(
        order_id="ORD-2026-118842",
        username="customer-7f3a",
        ordered_at=datetime(2026, 11, 2, 23, 30, tzinfo=HK),
        amount_paid=Money.of("99.95", "USD"),
        payment_channel="card",
        kind="new",
        service_period_days=365,
        payment_state=PaymentState.SETTLED,
    )
    facts = ClaimFacts(
        received_at=datetime(2026, 11, 20, 9, 15, tzinfo=HK),
        order=order,
        usage=Usage(traffic_bytes=3_141_592_653, connections=42),
        customer=Customer(
            username="customer-7f3a",
            email="customer@example.com",
            blocks=(
                AccountBlock(
                    reason="terms_violation",
                    starts_at=datetime(2025, 3, 1, tzinfo=HK),
                    ends_at=datetime(2025, 3, 8, tzinfo=HK),
                ),
                AccountBlock(reason="security_check", starts_at=datetime(2026, 11, 5, tzinfo=HK), ends_at=None),
            ),
        ),
        support_ticket_id="TKT-55120",
        support_ticket=SupportTicket(
            ticket_id="TKT-55120",
            username="customer-7f3a",
            opened_at=datetime(2026, 11, 12, 14, 0, tzinfo=HK),
            category="technical",
            official_response="cannot_fix",
        ),
        earlier_claims=(
            EarlierClaim(
                request_id="REQ-0001",
                order_id="ORD-2025-000417",
                status=RequestStatus.CANCELLED,
                received_at=datetime(2025, 6, 1, tzinfo=HK),
            ),
        ),
    )
    return facts.model_copy(update=changes)


def rules_section() -> list[Row]:
    policy = shipped_policy()
    now = datetime(2026, 11, 20, 9, 15, 1, tzinfo=HK)
    full = realistic_claim()
    partial = realistic_claim(
        received_at=datetime(2026, 12, 20, 9, 15, tzinfo=HK), usage=Usage(traffic_bytes=12_500_000_000, connections=42)
    )
    if assess(full, policy, now).outcome is not Outcome.FULL_REFUND:
        raise SystemExit("bench: the full-refund claim is not assessed as FULL_REFUND")
    if assess(partial, policy, now).outcome is not Outcome.PARTIAL_REFUND:
        raise SystemExit("bench: the partial claim is not assessed as PARTIAL_REFUND")
    received = full.received_at
    # A customer's claims as submit and assess read them: one item, whatever their number (its counts, the
    # first decided and first cancelled claim, and the latest filings the per-customer limit counts), so the
    # rules see at most those claims; the row times that item's validation and the rules, not its read.
    first = full.earlier_claims[0]
    thousand = ClaimsRecord(
        username="customer-7f3a",
        decided=1000,
        first_decided=first.model_copy(update={"status": RequestStatus.REFUSED}),
        cancelled=1,
        first_cancelled=first,
        recent_filings=tuple(first.received_at + timedelta(days=n) for n in range(policy.filing_limits.per_customer)),
    ).model_dump(mode="json", by_alias=True)
    none = ClaimsRecord(username="customer-7f3a").model_dump(mode="json", by_alias=True)

    def judged(stored: dict[str, object]) -> object:
        claims = ClaimsRecord.model_validate(stored)
        return assess(full.model_copy(update={"earlier_claims": claims.earlier_claims()}), policy, now)

    with_thousand, with_none = per_second(lambda: judged(thousand)), per_second(lambda: judged(none))
    return [
        Row("judge a customer with 1,000 earlier claims (item validated + rules)", with_thousand, "/s"),
        Row("judge a customer with none (item validated + rules)", with_none, "/s"),
        Row("1,000 earlier claims vs none: time", f"{with_none / with_thousand:.2f}", "x", "≤ 2x"),
        Row(
            "assess, full refund (10 rules + outcome)",
            per_second(lambda: assess(full, policy, now)),
            "/s",
            "≥ 1,000 /s",
        ),
        Row(
            "assess, partial (+ suggested amount)", per_second(lambda: assess(partial, policy, now)), "/s", "≥ 1,000 /s"
        ),
        Row(
            "review_timeline (deadline + reminder)",
            per_second(lambda: review_timeline(received, policy)),
            "/s",
            "≥ 1,000 /s",
        ),
    ]


def aws_calls_section() -> list[Row]:
    return [Row(label, calls, "calls", goal) for label, calls, goal in bench_aws.aws_calls_per_operation()]


def lifecycle_section() -> list[Row]:
    rows = []
    for cost in bench_lifecycle.lifecycle_costs():
        rows.append(Row(f"{cost.name}: state transitions", cost.transitions, "", "≤ 5"))
        rows.append(Row(f"{cost.name}: AWS API calls / emails", f"{cost.aws_calls} / {cost.emails}", "calls / emails"))
        rows.append(
            Row(f"{cost.name}: cost per 1,000 requests, emails apart", f"${cost.cost_per_1000:.3f}", "", "≤ $0.20")
        )
        rows.append(Row(f"{cost.name}: its emails (SES), per 1,000 requests", f"${cost.emails_per_1000:.3f}", ""))
        services = ", ".join(f"{service} {usd:.4f}" for service, usd in cost.by_service.items() if usd)
        rows.append(Row(f"{cost.name}: by service", services, "$"))
        rows.append(
            Row(f"{cost.name}: every invocation cold (a few requests a day)", f"${cost.all_cold_per_1000:.3f}", "")
        )
        rows.append(Row(f"{cost.name}: log written per request", f"{cost.log_kb_per_request:.1f}", "KiB"))
        rows.append(Row(f"{cost.name}: of which the durable outbox", f"${cost.outbox_per_1000:.4f}", ""))
    for what, usd in bench_lifecycle.fixed_monthly_costs().items():
        rows.append(Row(f"fixed, a month: {what}", f"${usd:,.2f}", ""))
    return rows


def cold_start_section() -> list[Row]:
    colds = bench_cold.run()
    floor = next(cold for cold in colds if cold.function == bench_cold.FLOOR_NAME)
    floor_ms = floor.init_ms + floor.first_call_ms
    rows = []
    for cold in colds:
        rows.append(
            Row(f"{cold.function}: init / first call", f"{cold.init_ms:,.0f} / {cold.first_call_ms:,.0f}", "ms")
        )
        baseline = f"{cold.baseline_init_ms:,.0f} / {cold.baseline_first_call_ms:,.0f}"
        # The floor has no goal of its own: it shows how much of any function's ratio is the stack's.
        is_floor = cold.function == bench_cold.FLOOR_NAME
        rows.append(
            Row(
                f"{cold.function}: both vs the baseline's {baseline} ms",
                f"{cold.ratio:.2f}",
                "x",
                "" if is_floor else "≤ 2.0x",
            )
        )
        if not is_floor:
            both = cold.init_ms + cold.first_call_ms
            rows.append(
                Row(f"{cold.function}: both vs the floor's {floor_ms:,.0f} ms", f"{both / floor_ms:.2f}", "x", "≤ 1.3x")
            )
        if cold.restored_first_call_ms is not None:
            baseline_ms = cold.baseline_init_ms + cold.baseline_first_call_ms
            rows.append(
                Row(
                    f"{cold.function}: SnapStart, first call after a restore ({cold.restored_first_call_ms:,.0f} ms) vs the baseline",
                    f"{cold.restored_first_call_ms / baseline_ms:.2f}",
                    "x",
                    "≤ 0.2x",
                )
            )
    return rows


def _ms_pair(p50: float, p95: float) -> str:
    return f"{p50:,.0f} / {p95:,.0f}"


def http_section() -> list[Row]:
    report = bench_load.run()
    rows = [Row(route, _ms_pair(p50, p95), "ms p50 / p95") for route, p50, p95 in report.latencies]
    load = report.load
    answered = sum(load.operations.values())
    if load.errors:
        print(f"    load errors: {', '.join(f'{what} x{count}' for what, count in load.errors.most_common())}")
    mix = ("read", "list", "submit", "cancel")
    rows += [
        Row(f"load: {' / '.join(mix)}", " / ".join(f"{load.operations[name]:,}" for name in mix), "calls"),
        Row("load: throughput", answered / report.load_seconds, "/s", "≥ 50 /s"),
        Row("load: latency, all calls", _ms_pair(*bench_load.percentiles(load.latencies)), "ms p50 / p95"),
        Row("load: errors (unexpected status, 5xx, no answer)", sum(load.errors.values()), "", "0"),
        Row("load: of which 5xx", load.server_errors, "", "0"),
    ]
    cpu = report.load_cpu
    per_answer = {name: 1000 * seconds / max(answered, 1) for name, seconds in vars(cpu).items()}
    rows.append(
        Row(
            "load: CPU per answer, serve / workers / clients",
            " / ".join(f"{per_answer[name]:.1f}" for name in ("serve", "workers", "clients")),
            "ms",
        )
    )
    # Roughly: the serve process runs its Python on one core at a time (the GIL), and all sides, the bench's
    # clients among them, share the cores this process may use.
    cores = len(os.sched_getaffinity(0))
    if answered and per_answer["serve"]:
        ceiling = min(1000 / per_answer["serve"], cores * 1000 / sum(per_answer.values()))
        rows.append(Row(f"load: answers/s that CPU use allows, about (serve 1 core, all {cores})", ceiling, "/s"))
    return rows


def stored_section() -> list[Row]:
    results = bench_stored.run()
    rows = []
    for result in results:
        rows.append(Row(f"{result.stored:,} stored: submit, PENDING", _ms_pair(*result.submit), "ms p50 / p95"))
        rows.append(
            Row(f"{result.stored:,} stored: reviewers' queue, 20 a page", _ms_pair(*result.queue), "ms p50 / p95")
        )
    fewest, most = results[0], results[-1]
    for route, ratio in (
        ("submit", most.submit[0] / fewest.submit[0]),
        ("reviewers' queue", most.queue[0] / fewest.queue[0]),
    ):
        rows.append(Row(f"{route} p50, {most.stored:,} stored vs {fewest.stored:,}", f"{ratio:.2f}", "x", "≤ 2x"))
    return rows


def records_section() -> list[Row]:
    measured = bench_records.one_function()
    calls = ", ".join(f"{name} {count:.2f}" for name, count in sorted(measured.calls_per_event.items()))
    cost = bench_records.cost_per_1000(measured)
    rows = [
        Row("one records function, batches of 10 (moto)", measured.per_second, "events/s"),
        Row("AWS calls per event in the function", calls, ""),
        Row("the local stack, bus → rule → queue → function", bench_records.local_stack(), "events/s"),
        Row("cost per 1,000 events", f"${sum(cost.values()):.4f}", ""),
        Row("cost per 1,000 events, by service", ", ".join(f"{name} {usd:.4f}" for name, usd in cost.items()), "$"),
    ]
    for lines, seconds, peak in bench_records.bulk_command():
        rows.append(Row(f"load-events --check-only, {lines:,} lines: time / peak memory", f"{seconds:.1f} / {peak:.0f}",
                        "s / MiB"))  # fmt: skip
    return rows


def policy_section() -> list[Row]:
    rows = []
    runs = bench_policy.simulations()
    for run in runs:
        rows.append(Row(f"simulate {run.requests:,} requests ({run.changed:,} change), DynamoDB stubbed: time / peak memory",
                        f"{run.seconds:.2f} / {run.peak_mib:.1f}", "s / MiB"))  # fmt: skip
    ten, fifty = runs[1], runs[2]
    rows.append(
        Row("peak memory, 50,000 requests vs 10,000", f"{fifty.peak_mib / ten.peak_mib:.2f}", "x", "flat (≤ 1.2x)")
    )
    jobs = bench_policy.simulation_jobs()
    for job in jobs:
        rows.append(Row(f"a year simulated as a job, {job.requests:,} requests ({job.changed:,} change; in a process of "
                        "its own, allocations traced, DynamoDB's request pages stubbed, its item in moto's server): "
                        "time / peak memory / times kept / its item",
                        f"{job.seconds:.1f} / {job.peak_mib:.1f} / {job.kept} / {job.item_kib:.0f}",
                        "s / MiB / writes / KiB"))  # fmt: skip
    rows.append(Row("a year's job: peak memory, 100,000 requests vs 20,000", f"{jobs[1].peak_mib / jobs[0].peak_mib:.2f}",
                    "x", "flat (≤ 1.2x)"))  # fmt: skip
    moto = bench_policy.simulation_in_moto()
    calls = ", ".join(f"{name} {count}" for name, count in sorted(moto.aws_calls.items()))
    rows.append(Row(f"simulate {moto.requests:,} requests in moto: AWS calls (pages as it cuts them)", calls, ""))
    rows.append(Row(f"simulate {moto.requests:,} requests in moto: time (moto copies every item read)",
                    f"{moto.seconds:.1f}", "s"))  # fmt: skip
    first, later = bench_policy.policy_reads_per_invocation()
    rows.append(Row("reading the policy: AWS calls, first invocation of a process", first, "", "1"))
    rows.append(Row("reading the policy: AWS calls, the next 50 within PolicyCacheSeconds", later, "", "0"))
    return rows


def reports_section() -> list[Row]:
    rows = []
    runs = bench_reports.runs()
    for run in runs:
        calls = ", ".join(f"{name} {count}" for name, count in sorted(run.sla_calls.items()))
        rows.append(Row(f"service levels of 30 days, {run.stored:,} stored: items read ({calls})", run.sla_items_read,
                        "items"))  # fmt: skip
        rows.append(Row(f"service levels of 30 days, {run.stored:,} stored: time", run.sla_ms, "ms"))
        rows.append(Row(f"decisions CSV of 30 days, {run.stored:,} stored: time / rows", f"{run.csv_ms:,.0f} / {run.csv_rows:,}",
                        "ms / rows"))  # fmt: skip
    first, last = runs[0], runs[-1]
    rows.append(Row(f"service levels, {last.stored:,} stored vs {first.stored:,}: items read",
                    last.sla_items_read / first.sla_items_read, "x", "flat"))  # fmt: skip
    rows.append(Row(f"service levels, {last.stored:,} stored vs {first.stored:,}: time (moto's heap in this process)",
                    last.sla_ms / first.sla_ms, "x", "≤ 1.2x"))  # fmt: skip
    return rows


def exports_section() -> list[Row]:
    runs = bench_exports.runs()
    rows = []
    for run in runs:
        name = f"export of {run.rows:,} decisions ({run.file_bytes / 2**20:.1f} MiB; invocations: {run.invocations})"
        rows.append(Row(f"{name}: time", run.seconds, "s"))
        rows.append(Row(f"{name}: the job's peak memory (tracemalloc)", run.peak_bytes / 2**20, "MiB"))
    first, last = runs[0], runs[-1]
    rows.append(Row(f"peak memory, {last.rows:,} rows vs {first.rows:,}", last.peak_bytes / first.peak_bytes, "x",
                    "flat"))  # fmt: skip
    return rows


def payouts_section() -> list[Row]:
    costs, median_ms, longest_ms = bench_payouts.summary()
    aws = ", ".join(f"{name} {count:.1f}" for name, count in costs.aws_calls.items())
    processor = ", ".join(f"{name} {count:.1f}" for name, count in costs.processor_calls.items())
    email = "SES (the refund's email)"
    without_email = sum(usd for name, usd in costs.usd_per_1000.items() if name != email)
    return [
        Row("AWS calls per payout, sent then checked an hour on", aws, ""),
        Row("processor calls per payout (localstripe)", processor, ""),
        Row("cost per 1,000 payouts, AWS side, the refund's email apart", f"${without_email:.4f}", ""),
        Row("cost per 1,000 payouts: the refund's email (SES)", f"${costs.usd_per_1000[email]:.4f}", ""),
        Row("approval to SENT over HTTP: median / max", f"{median_ms:.0f} / {longest_ms:.0f}", "ms"),
    ]


def web_section() -> list[Row]:
    loaded, pages = bench_web.run()
    rows = [
        Row("first load: requests", loaded.requests, ""),
        Row("first load: bytes shipped (uncompressed)", loaded.kilobytes, "KiB"),
        Row("first load: until the sign-in form is usable", loaded.interactive_ms, "ms"),
    ]
    return rows + [Row(f"API calls: {name}", calls, "") for name, calls in pages.items()]


SECTIONS: list[tuple[str, Section]] = [
    ("Rules, one core", rules_section),
    ("AWS API calls per operation (moto, botocore hook)", aws_calls_section),
    (
        "Whole lifecycles, 3 s review window (moto executes the state machine), priced for ap-southeast-1",
        lifecycle_section,
    ),
    ("Customer records events (RECORDS.md)", records_section),
    ("The policy owners' simulation and the policy read (moto, in-process)", policy_section),
    (
        f"The supervisors' reports as stored requests grow ({' and then '.join(f'{n:,}' for n in bench_reports.SIZES)},"
        f" {bench_reports.OPEN} open; moto, in-process; median of {bench_reports.RUNS})",
        reports_section,
    ),
    (
        f"Decisions exports as a job ({bench_exports.STORED:,} decided requests over a year in moto's server; the job"
        " in a process of its own, over HTTP, its own allocations traced)",
        exports_section,
    ),
    (
        f"Payouts ({bench_payouts.PAYOUTS} card payouts in moto with localstripe; {bench_payouts.OVER_HTTP} over HTTP)",
        payouts_section,
    ),
    (
        f"Cold starts as deployed (sam build's tree, precompiled, on Lambda's sys.path), tracing on as in Lambda: each"
        f" function's init and first invocation in a fresh process (its"
        f" CPU time, median of {bench_cold.RUNS}), alternating with a baseline `import boto3;"
        " boto3.client('dynamodb')` and one GetItem",
        cold_start_section,
    ),
    (
        f"refund-local over HTTP on 127.0.0.1, moto in its process, clients on the same {os.cpu_count()} cores:"
        f" {bench_load.SEQUENTIAL_ROUNDS} rounds of sequential calls, then {bench_load.CLIENTS} clients"
        f" for {bench_load.LOAD_SECONDS:.0f} s",
        http_section,
    ),
    (
        f"refund-local serve --data-dir restored with {' and then '.join(f'{n:,}' for n in bench_stored.SIZES)} stored"
        f" requests: {bench_stored.ROUNDS} rounds of a fresh customer's submit, then the reviewers' queue",
        stored_section,
    ),
    ("The web app in headless Chromium on loopback (refund-local serve)", web_section),
]


def format_value(value: float | int | str) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return value


def render(results: list[tuple[str, list[Row]]]) -> str:
    """One aligned table: a title line per section, then its rows; labels left, values right."""
    lines: list[tuple[str, ...]] = [("measure", "value", "unit", "goal")]
    for title, rows in results:
        lines.append((title,))
        lines.extend((f"  {row.label}", format_value(row.value), row.unit, row.goal) for row in rows)
    widths = [max(len(line[i]) for line in lines if len(line) == 4) for i in range(4)]
    out = []
    for line in lines:
        if len(line) == 1:
            out.append(line[0])
            continue
        label, value, unit, goal = line
        out.append(f"{label:<{widths[0]}}  {value:>{widths[1]}}  {unit:<{widths[2]}}  {goal}".rstrip())
        if len(out) == 1:
            out.append("-" * (sum(widths) + 6))
    return "\n".join(out)


def main() -> int:
    print(f"bench: Python {platform.python_version()} on {platform.machine()}, policy {shipped_policy().version}")
    results: list[tuple[str, list[Row]]] = []
    for title, section in SECTIONS:
        started = time.perf_counter()
        rows = section()
        print(f"  {title}: measured in {time.perf_counter() - started:.1f} s")
        results.append((title, rows))
    print(render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
