"""The seed file of API.md: validated whole with errors that name the entry, written through the repository;
and the demo data set, whose customers must keep earning the outcomes `serve` promises."""

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from refund_core.adapters import customer_claims
from refund_core.app.claims import submit_refund_request
from refund_core.app.inputs import SubmitRefundRequest
from refund_core.http.identity import Caller
from refund_local.demo import DEMO_CLAIMS, demo_seed
from refund_local.paths import REPO_ROOT
from refund_local.seed import SeedError, load_seed_file, order_entry, parse_seed, write_seed
from refund_local.stack import LocalAws

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def document() -> dict[str, Any]:
    return {
        "customers": [
            {
                "username": "alice",
                "email": "alice@example.com",
                "blocks": [{"reason": "terms_violation", "from": "2026-01-01T00:00:00+00:00", "until": None}],
                "violations": [{"kind": "terms_of_use", "at": "2026-01-02T00:00:00+08:00"}],
            }
        ],
        "orders": [
            order_entry(
                "ord-1", "alice", datetime(2026, 11, 20, tzinfo=UTC), trafficBytes=1200000000, connections=None
            ),
            {
                "orderId": "ord-2",
                "username": "alice",
                "orderedAt": "2026-11-20T00:00:00Z",
                "amount": "5",
                "currency": "HKD",
            },
        ],
        "tickets": [
            {"ticketId": "T-1", "username": "alice", "openedAt": "2026-11-21T00:00:00+00:00", "category": "technical"}
        ],
    }


def test_a_valid_seed_becomes_the_records_the_rules_read() -> None:
    seed = parse_seed(document())
    first, second = seed.orders
    assert first.order().amount_paid.amount == Decimal("59.99")
    assert first.usage() is not None and first.usage().connections is None  # type: ignore[union-attr]
    assert second.usage() is None
    assert second.order().payment_channel is None
    assert seed.customers[0].blocks[0].ends_at is None
    assert seed.tickets[0].official_response is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d["orders"][1].update(amount="five"), 'orders[1] (orderId "ord-2") amount:'),
        (lambda d: d["orders"][0].update(trafficbytes=1), 'orders[0] (orderId "ord-1") trafficbytes: is not a field'),
        (lambda d: d["orders"][0].update(currency="usd"), 'orders[0] (orderId "ord-1") currency:'),
        (lambda d: d["orders"][0].update(orderedAt="2026-11-20T00:00:00"), 'orders[0] (orderId "ord-1") orderedAt:'),
        (lambda d: d["orders"][0].pop("username"), 'orders[0] (orderId "ord-1") username: Field required'),
        (lambda d: d["customers"][0]["blocks"][0].pop("from"), 'customers[0] (username "alice") blocks[0].from:'),
        (lambda d: d["tickets"][0].update(officialResponse="maybe"), 'tickets[0] (ticketId "T-1") officialResponse:'),
        (lambda d: d.update(users=[]), "users: is not a field"),
        (lambda d: d["orders"].append(dict(d["orders"][0])), 'orders[2]: orderId "ord-1" appears twice'),
    ],
)
def test_a_bad_entry_is_named(change: Any, problem: str) -> None:
    bad = document()
    change(bad)
    with pytest.raises(SeedError) as raised:
        parse_seed(bad, "seed.json")
    assert any(found.startswith(problem) for found in raised.value.problems), raised.value.problems


def test_a_file_that_is_not_json_is_named_with_the_place(tmp_path: Path) -> None:
    path = tmp_path / "seed.json"
    path.write_text('{"customers": [}')
    with pytest.raises(SeedError, match=r"not JSON: .* line 1 column 16"):
        load_seed_file(path)
    with pytest.raises(SeedError, match="cannot read it"):
        load_seed_file(tmp_path / "missing.json")


def test_serve_refuses_a_bad_seed_file_naming_the_entry(tmp_path: Path) -> None:
    bad = document()
    bad["orders"][1]["amount"] = "five"
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(bad))
    done = subprocess.run(
        [sys.executable, "-m", "refund_local", "serve", "--port", "1", "--seed", str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert 'orders[1] (orderId "ord-2") amount:' in done.stderr


def test_the_seed_is_written_through_the_repository(stack: LocalAws) -> None:
    write_seed(parse_seed(document()))
    records = customer_claims.load_claim_context("alice", "ord-1", "T-1").records
    assert records.customer is not None and len(records.customer.violations) == 1
    assert records.order is not None and records.order.amount_paid.currency == "USD"
    assert records.usage is not None and records.usage.traffic_bytes == 1_200_000_000
    assert records.support_ticket is not None
    assert customer_claims.load_claim_context("alice", "ord-2", "T-1").records.usage is None


def test_the_demo_customers_earn_the_outcomes_serve_prints(stack: LocalAws) -> None:
    write_seed(demo_seed(datetime.now(UTC) - timedelta(minutes=1)))
    for claim in DEMO_CLAIMS:
        caller = Caller(username=claim.username, email=f"{claim.username}@example.com", groups=frozenset())
        command = SubmitRefundRequest(
            order_id=claim.order_id, reason="It does not work.", support_ticket_id=claim.ticket_id
        )
        request = submit_refund_request(caller, command)
        assert (request.assessment.outcome, request.status) == (claim.outcome, claim.status), claim.username


def test_the_demo_data_is_dated_relative_to_today() -> None:
    orders = {order.order_id: order for order in demo_seed(NOW).orders}
    assert NOW - orders["ord-2001"].ordered_at == timedelta(days=40)
    assert orders["ord-5001"].usage() is None


def test_the_demo_has_a_customer_who_reads_chinese() -> None:
    customers = {customer.username: customer for customer in demo_seed(NOW).customers}
    assert customers["mei"].language == "zh-HK" and customers["mei"].name == "陳美玲"
