"""One claim at a time, and earlier claims counted (POLICY-RULES.md), under real concurrency: threads
calling the service against moto (each DynamoDB call atomic, as in DynamoDB), held at a barrier just before
the transaction that records a claim, so that every one of them has read the same claims. Then what
DynamoDB does under contention (a transaction conflict, throttling) is never a 500."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from api_support import aws_error, call, each_in_a_thread, on_call, seed_order

from refund_core.adapters import clients, customer_claims, repository, requests_table
from refund_core.app.claims import submit_refund_request
from refund_core.app.inputs import SubmitRefundRequest
from refund_core.errors import Conflict, LimitReached
from refund_core.http.identity import Caller
from refund_core.policy.models import RequestStatus, RuleId
from refund_local.events import api_event, claims_for
from refund_local.stack import LocalAws

# The race of two claims of one customer: 40 times in `make test`, 200 in `make verify` (races-proof).
REPETITIONS = int(os.environ.get("RACE_REPETITIONS", "40"))


def customer(name: str) -> Caller:
    return Caller(username=name, email=f"{name}@example.com", groups=frozenset())


def submission(order_id: str) -> SubmitRefundRequest:
    return SubmitRefundRequest(order_id=order_id, reason="Nothing connects.", support_ticket_id=f"T-{order_id}")


@contextmanager
def held_before_recording(parties: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every submit waits, its claims read and its claim judged, until `parties` of them are there; then all
    record at once. Only the first attempt of each is held (a loser judges again, alone)."""
    barrier = threading.Barrier(parties)
    waited: set[int] = set()
    record = repository.record_new_request

    def recording(*args: Any, **kwargs: Any) -> None:
        if threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            barrier.wait(timeout=30)
        record(*args, **kwargs)

    monkeypatch.setattr(repository, "record_new_request", recording)
    yield


def test_two_full_refunds_of_one_customer_at_once_are_one_approval_and_one_refusal(
    stack: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each order alone is a clear full refund, decided at once. Together, the second is judged with the first
    counted: NO_EARLIER_CLAIM refuses it, citing the first, whichever wins the race (REPETITIONS times)."""
    outcomes: Counter[tuple[str, ...]] = Counter()
    for round_ in range(REPETITIONS):
        name = f"cust-{round_}"
        for order in ("a", "b"):
            seed_order(f"{name}-{order}", name, days_ago=5)
        with held_before_recording(2, monkeypatch):
            results = each_in_a_thread(
                [lambda o=o, name=name: submit_refund_request(customer(name), submission(f"{name}-{o}")) for o in "ab"]
            )
        monkeypatch.undo()
        assert not any(isinstance(result, Exception) for result in results), results
        statuses = tuple(sorted(str(result.status) for result in results))
        outcomes[statuses] += 1
        (refused,) = [result for result in results if result.status is RequestStatus.REFUSED]
        (approved,) = [result for result in results if result.status is RequestStatus.APPROVED]
        (earlier,) = [rule for rule in refused.assessment.rules if rule.id is RuleId.NO_EARLIER_CLAIM]
        assert earlier.result == "fail"
        assert approved.order_id in earlier.reason
    assert outcomes == Counter({("APPROVED", "REFUSED"): REPETITIONS})


def test_a_claim_recorded_while_another_reads_its_claims_counts_as_the_earlier_one(
    stack: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow read (a cold start, a busy table): claim a starts, and before its claims are read claim b of
    the same customer is received, judged and approved. Claim a must count b as its earlier claim: received
    after its read, which saw b recorded (judged as received before that read, a was approved too)."""
    seed_order("slow-a", "slow", days_ago=5)
    seed_order("slow-b", "slow", days_ago=5)
    read = customer_claims.load_claim_context
    first: list[Any] = []

    def slow_read(username: str, order_id: str, ticket_id: str) -> customer_claims.ClaimContext:
        if order_id == "slow-a" and not first:
            first.append(submit_refund_request(customer("slow"), submission("slow-b")))
        return read(username, order_id, ticket_id)

    monkeypatch.setattr(customer_claims, "load_claim_context", slow_read)
    late = submit_refund_request(customer("slow"), submission("slow-a"))
    assert (first[0].status, late.status) == (RequestStatus.APPROVED, RequestStatus.REFUSED)
    (earlier,) = [rule for rule in late.assessment.rules if rule.id is RuleId.NO_EARLIER_CLAIM]
    assert earlier.result == "fail" and "slow-b" in earlier.reason


def test_fifty_full_refunds_of_one_customer_at_once_give_one_approval(
    stack: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    for index in range(50):
        seed_order(f"many-{index:02d}", "many", days_ago=5)
    with held_before_recording(50, monkeypatch):
        results = each_in_a_thread(
            [lambda i=i: submit_refund_request(customer("many"), submission(f"many-{i:02d}")) for i in range(50)]
        )
    monkeypatch.undo()
    decided = [result for result in results if not isinstance(result, Exception)]
    # Losers judged again, and again: a race lost four times in a row is a 409 the customer sends again, and
    # past the policy's filing limit (5 in 30 days) a 429.
    assert all(isinstance(result, Conflict | LimitReached) for result in results if isinstance(result, Exception))
    assert len(decided) <= 5
    assert [str(result.status) for result in decided].count("APPROVED") == 1
    assert {str(result.status) for result in decided} <= {"APPROVED", "REFUSED"}
    claims = customer_claims.get_claims("many")
    assert claims.decided == len(decided)
    assert claims.first_decided is not None and claims.first_decided.status is RequestStatus.APPROVED


def test_a_pending_claim_and_a_clear_one_at_once_are_one_claim_and_a_409(
    stack: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_order("mix-late", "mix", days_ago=40)  # partial: pending, holds the one open claim
    seed_order("mix-clear", "mix", days_ago=5)  # a clear full refund, decided at once
    with held_before_recording(2, monkeypatch):
        results = each_in_a_thread(
            [
                lambda: submit_refund_request(customer("mix"), submission("mix-late")),
                lambda: submit_refund_request(customer("mix"), submission("mix-clear")),
            ]
        )
    monkeypatch.undo()
    kinds = sorted(type(result).__name__ if isinstance(result, Exception) else str(result.status) for result in results)
    # Whichever won: a pending claim makes the clear one a 409 (one open claim), a decided one makes the
    # late one refused (an earlier claim); never two refunds.
    assert kinds in (["Conflict", "PENDING"], ["APPROVED", "REFUSED"])


def test_a_transaction_conflict_is_tried_again_and_then_answered_409_never_500(stack: LocalAws) -> None:
    seed_order("ord-1", "alice", days_ago=40)
    conflicts: list[int] = []

    def conflicting(**_: Any) -> None:
        conflicts.append(1)
        error = aws_error("TransactionCanceledException", "TransactWriteItems", "Transaction cancelled")
        error.response["CancellationReasons"] = [{"Code": "TransactionConflict"}, {"Code": "None"}]
        raise error

    body = {"orderId": "ord-1", "reason": "Slow.", "supportTicketId": "T-ord-1"}
    event = api_event("POST", "/refund-requests", "/refund-requests", body=body, claims=claims_for("alice"))
    with on_call(clients.dynamodb(), "before-call.dynamodb.TransactWriteItems", conflicting):
        response = call(event)
    assert response.status == 409, response.json
    assert "at the same moment" in response.json["message"]
    assert len(conflicts) == requests_table.CONFLICT_TRIES
    assert call(event).status == 201  # the conflict over, the same call records the claim


def test_throttling_beyond_the_retries_is_503_with_retry_after_and_counted(stack: LocalAws) -> None:
    seed_order("ord-1", "alice", days_ago=40)

    def throttled(**_: Any) -> None:
        raise aws_error("ProvisionedThroughputExceededException", "BatchGetItem", "Rate exceeded")

    body = {"orderId": "ord-1", "reason": "Slow.", "supportTicketId": "T-ord-1"}
    event = api_event("POST", "/refund-requests", "/refund-requests", body=body, claims=claims_for("alice"))
    with on_call(clients.dynamodb(), "before-call.dynamodb.BatchGetItem", throttled):
        response = call(event)
    assert response.status == 503, response.json
    assert response.header("Retry-After") == "2"
    assert call(event).status == 201
