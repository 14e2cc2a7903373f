"""The payouts' share of `make bench` (PAYOUTS.md): per card payout, from its sending to PAID, the AWS calls the
service makes and the calls to the processor (localstripe, counted at the SDK's HTTP client), what 1,000 cost
on the AWS side at list prices, and, over HTTP against `refund-local serve`, the time from an approval to SENT."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import requests
import stripe
from bench_aws import counted_calls
from bench_lifecycle import LAMBDA_GB, PRICE

from refund_local.events import claims_for
from refund_local.processor import make_payment, running_processor, use_processor
from refund_local.stack import LocalAws
from refund_local.subprocess_server import serve_in_subprocess
from refund_local.tokens import make_token

PAYOUTS = 30
OVER_HTTP = 5
# The payout's writes are transactions (twice the units of a write) of a few items of under 1 KB each.
TRANSACTION_UNIT_FACTOR = 2


@dataclass(frozen=True)
class PayoutCosts:
    aws_calls: dict[str, float]
    processor_calls: dict[str, float]
    lambda_seconds: float
    usd_per_1000: dict[str, float]


def _write_units(name: str, params: dict[str, Any]) -> float:
    if name == "TransactWriteItems":
        return TRANSACTION_UNIT_FACTOR * len(params["TransactItems"])
    return 1.0 if name in ("PutItem", "UpdateItem", "DeleteItem") else 0.0


def _read_units(name: str, params: dict[str, Any]) -> float:
    if name == "BatchGetItem":
        return float(sum(len(table["Keys"]) for table in params["RequestItems"].values()))
    return 1.0 if name in ("GetItem", "Query") else 0.0


def in_process() -> PayoutCosts:
    """PAYOUTS card payouts approved, then each one's sending and its check an hour on (moto, localstripe)."""
    from refund_core.adapters.records import Effect  # noqa: PLC0415 - once the stack's environment is set
    from refund_core.app import claims, outbox, review  # noqa: PLC0415
    from refund_core.app.inputs import ApproveCommand, SubmitRefundRequest  # noqa: PLC0415
    from refund_core.http.identity import caller_from_claims  # noqa: PLC0415
    from refund_core.settings import settings  # noqa: PLC0415
    from refund_local.seed import parse_seed, write_seed  # noqa: PLC0415

    with running_processor() as base:
        stack = LocalAws(execute_state_machine=False).start()
        try:
            os.environ.update(use_processor(boto3.client("secretsmanager"), base))
            settings.cache_clear()
            now = datetime.now(UTC)
            request_ids = []
            for number in range(PAYOUTS):
                name = f"pay{number}"
                payment = make_payment(base, 9900, "USD")
                write_seed(parse_seed({
                    "customers": [{"username": name, "email": f"{name}@example.com"}],
                    "orders": [{"orderId": f"o-{name}", "username": name, "orderedAt": (now - timedelta(days=40)).isoformat(),
                                "amount": "99.00", "currency": "USD", "paymentChannel": "card", "kind": "new",
                                "servicePeriodDays": 365, "paymentState": "settled", "trafficBytes": 10**9,
                                "connections": 3, "paymentReference": payment}],
                    "tickets": [{"ticketId": f"T-{name}", "username": name, "openedAt": (now - timedelta(days=2)).isoformat(),
                                 "category": "technical", "officialResponse": "cannot_fix"}],
                }))  # fmt: skip
                filed = claims.submit_refund_request(
                    caller_from_claims(claims_for(name)),
                    SubmitRefundRequest(order_id=f"o-{name}", reason="It drops.", support_ticket_id=f"T-{name}"),
                )
                review.evaluate_refund_request(
                    caller_from_claims(claims_for("rita", reviewer=True)), filed.request_id,
                    ApproveCommand(action="approve", amount="88.15"),
                )  # fmt: skip
                request_ids.append(filed.request_id)
            processor: Counter[str] = Counter()
            original = stripe.RequestsClient.request

            def counting(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
                processor[
                    f"{method.upper()} {url.rsplit('/v1/', maxsplit=1)[-1].split('/', maxsplit=1)[0].split('?', maxsplit=1)[0]}"
                ] += 1
                return original(self, method, url, *args, **kwargs)

            stripe.RequestsClient.request = counting  # type: ignore[method-assign]
            units = {"write": 0.0, "read": 0.0}

            def unit(model: Any, params: dict[str, Any], **_: Any) -> None:
                units["write"] += _write_units(model.name, params)
                units["read"] += _read_units(model.name, params)

            from bench_aws import hooked  # noqa: PLC0415

            started = time.perf_counter()
            try:
                with counted_calls() as calls, hooked({"provide-client-params": unit}):
                    for request_id in request_ids:
                        outbox.deliver(request_id, Effect.PAYOUT)
                    # The hourly look: one reconciler run asks about every payout sent.
                    outbox.reconcile(now=datetime.now(UTC) + timedelta(hours=2))
            finally:
                stripe.RequestsClient.request = original  # type: ignore[method-assign]
            seconds = (time.perf_counter() - started) / PAYOUTS
        finally:
            stack.stop()
    per = {name: count / PAYOUTS for name, count in sorted(calls.items())}
    lambda_usd = PRICE["lambda_request"] * 1.1 + seconds * LAMBDA_GB * PRICE["lambda_gb_second"]
    usd = {
        "DynamoDB": 1000
        * (units["write"] / PAYOUTS * PRICE["write_unit"] + units["read"] / PAYOUTS * PRICE["read_unit"]),
        "Lambda": 1000 * lambda_usd,
        "SQS": 1000 * 3 * PRICE["sqs_request"],  # the sending's message: sent, received, deleted
        "SES (the refund's email)": 1000 * PRICE["email"],
    }
    return PayoutCosts(per, {name: count / PAYOUTS for name, count in sorted(processor.items())}, seconds, usd)


def approval_to_sent() -> list[float]:
    """Over HTTP: a reviewer's approval, then the customer's page read until the payout is SENT (seconds)."""
    names = [f"web{number}" for number in range(OVER_HTTP)]
    ago = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    seed = {
        "customers": [{"username": name, "email": f"{name}@example.com"} for name in names],
        "orders": [{"orderId": f"o-{name}", "username": name, "orderedAt": ago, "amount": "99.00", "currency": "USD",
                    "paymentChannel": "card", "kind": "new", "servicePeriodDays": 365, "paymentState": "settled",
                    "trafficBytes": 10**9, "connections": 3} for name in names],
        "tickets": [{"ticketId": f"T-{name}", "username": name, "openedAt": ago, "category": "technical",
                     "officialResponse": "cannot_fix"} for name in names],
    }  # fmt: skip
    reviewer = {"Authorization": "Bearer " + make_token(claims_for("rita", reviewer=True))}
    times = []
    with serve_in_subprocess(Path(tempfile.mkdtemp()), seed) as base:
        for name in names:
            customer = {"Authorization": "Bearer " + make_token(claims_for(name))}
            body = {"orderId": f"o-{name}", "reason": "It drops.", "supportTicketId": f"T-{name}"}
            request_id = requests.post(base + "/refund-requests", json=body, headers=customer, timeout=30).json()[
                "requestId"
            ]
            started = time.perf_counter()
            approval = {"action": "approve", "amount": "88.15"}
            requests.post(base + f"/refund-requests/{request_id}/evaluate", json=approval, headers=reviewer, timeout=30)
            while (
                requests.get(base + f"/refund-requests/{request_id}", headers=customer, timeout=30).json()["payout"][
                    "state"
                ]
                == "SCHEDULED"
            ):
                time.sleep(0.05)
            times.append(time.perf_counter() - started)
    return times


def summary() -> tuple[PayoutCosts, float, float]:
    costs = in_process()
    times = approval_to_sent()
    return costs, statistics.median(times) * 1000, max(times) * 1000


if __name__ == "__main__":
    measured, median, longest = summary()
    print(measured, f"approval to SENT: median {median:.0f} ms, max {longest:.0f} ms")
    print("cost per 1,000 payouts:", {name: round(usd, 4) for name, usd in measured.usd_per_1000.items()},
          "total", round(sum(measured.usd_per_1000.values()), 4))  # fmt: skip
