"""Races decided by conditional writes and transactions, not by reading first: real threads calling the
service against moto (each DynamoDB call atomic, as in DynamoDB), released together by a barrier.

The handlers are not raced here: Powertools keeps the event being resolved on the resolver's class, so two
resolvers in one process would read each other's event, which Lambda (one invocation per container) never
does. Handlers racing in separate processes are the end-to-end tests' job (tests/e2e/test_e2e_races.py)."""

from __future__ import annotations

from api_support import each_in_a_thread, seed_order

from refund_core.app.claims import submit_refund_request
from refund_core.app.inputs import ApproveCommand, RequestListing, SubmitRefundRequest
from refund_core.app.review import evaluate_refund_request
from refund_core.app.service import cancel_refund_request, list_refund_requests, read_refund_request
from refund_core.errors import Conflict
from refund_core.http.identity import Caller
from refund_core.policy.models import RequestStatus
from refund_local.stack import LocalAws

ALICE = Caller(username="alice", email="alice@example.com", groups=frozenset())
RITA = Caller(username="rita", email="rita@example.com", groups=frozenset({"refund-reviewers"}))


def submission(order_id: str) -> SubmitRefundRequest:
    return SubmitRefundRequest(order_id=order_id, reason="Too slow.", support_ticket_id=f"T-{order_id}")


def test_ten_concurrent_submits_of_one_customer_give_exactly_one_request(stack: LocalAws) -> None:
    for index in range(10):
        seed_order(f"ord-{index}", days_ago=40)
    calls = [lambda index=index: submit_refund_request(ALICE, submission(f"ord-{index}")) for index in range(10)]
    results = each_in_a_thread(calls, released_together=True)
    conflicts = [result for result in results if isinstance(result, Conflict)]
    created = [result for result in results if not isinstance(result, Exception)]
    assert (len(created), len(conflicts)) == (1, 9), results
    assert [item.request_id for item in list_refund_requests(ALICE, RequestListing()).items] == [created[0].request_id]


def test_decision_and_cancellation_racing_exactly_one_wins(stack: LocalAws) -> None:
    seed_order("ord-1", days_ago=40)
    request_id = submit_refund_request(ALICE, submission("ord-1")).request_id
    approve = ApproveCommand(action="approve")
    results = each_in_a_thread(
        [
            lambda: evaluate_refund_request(RITA, request_id, approve),
            lambda: cancel_refund_request(ALICE, request_id),
        ],
        released_together=True,
    )
    won = [not isinstance(result, Exception) for result in results]
    assert sorted(won) == [False, True], results
    assert all(isinstance(result, Conflict) for result in results if isinstance(result, Exception))
    final = read_refund_request(ALICE, request_id)
    assert final.status is (RequestStatus.APPROVED if won[0] else RequestStatus.CANCELLED)
    events = [entry.event for entry in final.history]
    assert events.count("decided") + events.count("cancelled") == 1
