"""Races over HTTP against `refund-local serve` (127.0.0.1 only): many calls released at once by a barrier,
each with a timeout, then the outcome checked in the API and in the outbox. The runner runs every function
in worker processes of its own, several per function, one invocation at a time per worker, as Lambda runs
containers: the calls of a race truly overlap, which the server's log (START and END of each invocation)
shows."""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from e2e_support import (
    DECISION_SUBJECT,
    REVIEWER,
    Server,
    customer,
    invocations,
    order,
    overlapping,
    running_server,
    ticket,
    token,
)

from refund_local.events import claims_for
from refund_local.tokens import make_token

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-races")]

SUBMITS = 50
DUELLING_CALLS = 50
REPEATS = 20
CALL_TIMEOUT_SECONDS = 30
# Two clear full refunds of one customer at once: 40 pairs in `make test`, 200 in `make verify` (races-proof).
PAIRS = int(os.environ.get("RACE_REPETITIONS", "40"))
PAIRS_AT_ONCE = 10
assert PAIRS % PAIRS_AT_ONCE == 0, (
    f"RACE_REPETITIONS: a multiple of {PAIRS_AT_ONCE}, released {PAIRS_AT_ONCE} at a time"
)
NAMES = ("rush", "duel", "echo", "mallory", "many")
# Two reviewers taking one request at once: 30 requests in `make test`, 100 in `make verify` (casework-proof).
TAKES = int(os.environ.get("TAKE_REPETITIONS", "30"))
# The bulk of the orders are PayPal's: a card order gets a payment at the local card processor when the server
# starts (500 of them, seconds), and its approval a refund call; the payouts are not what these races are about.
PAID_BY_PAYPAL = {"paymentChannel": "paypal"}
SEED: dict[str, Any] = {
    "customers": [customer(name) for name in NAMES]
    + [customer(f"pair-{index:03d}") for index in range(PAIRS)]
    + [customer(f"take-{index:03d}") for index in range(TAKES)],
    "orders": [order(f"RU-{index:02d}", "rush", days_ago=40, **PAID_BY_PAYPAL) for index in range(SUBMITS)]
    + [order("DU-1", "duel", days_ago=40), order("EC-1", "echo", days_ago=40), order("MA-1", "mallory", days_ago=40)]
    # Clear full refunds, each decided at once if it were alone.
    + [order(f"MANY-{index:02d}", "many") for index in range(SUBMITS)]
    + [
        order(f"PAIR-{index:03d}-{side}", f"pair-{index:03d}", **PAID_BY_PAYPAL)
        for index in range(PAIRS)
        for side in "ab"
    ]
    # Pending (40 days old: a reviewer decides), for two reviewers to take at once.
    + [order(f"TAKE-{index:03d}", f"take-{index:03d}", days_ago=40, **PAID_BY_PAYPAL) for index in range(TAKES)],
    "tickets": [ticket(f"TK-{name}", name) for name in NAMES]
    + [ticket(f"TK-pair-{index:03d}", f"pair-{index:03d}") for index in range(PAIRS)]
    + [ticket(f"TK-take-{index:03d}", f"take-{index:03d}") for index in range(TAKES)],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("races"), SEED) as running:
        yield running


Call = Callable[[], requests.Response]


def at_once(calls: list[Call]) -> list[requests.Response]:
    """Every call in its own thread, released together; answers in the order of `calls`."""
    barrier = threading.Barrier(len(calls))

    def run(call: Call) -> requests.Response:
        barrier.wait(timeout=CALL_TIMEOUT_SECONDS)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        return [future.result(timeout=2 * CALL_TIMEOUT_SECONDS) for future in futures]


def calling(server: Server, method: str, path: str, user: str, **kwargs: Any) -> Call:
    """One call with its own connection (a `requests.Session` is not meant to be shared between threads)."""
    headers = {"Authorization": f"Bearer {token(user)}", **kwargs.pop("headers", {})}
    return lambda: requests.request(method, server.base + path, headers=headers, timeout=CALL_TIMEOUT_SECONDS, **kwargs)


def submission(order_id: str, ticket_id: str) -> dict[str, str]:
    return {"orderId": order_id, "reason": "The VPN drops every few minutes.", "supportTicketId": ticket_id}


def own_requests(server: Server, user: str) -> list[dict[str, Any]]:
    listing = server.call("GET", "/refund-requests", user=user)
    assert listing.status_code == 200, listing.text
    items: list[dict[str, Any]] = listing.json()["items"]
    return items


def emails_about(server: Server, request_id: str, sent: int) -> Counter[str]:
    """The subjects of the emails about one request, once its history records `sent` emails sent."""
    return Counter(message["subject"] for message in server.emails_once_sent(request_id, sent))


def test_fifty_submits_of_one_customer_at_once_give_one_request(server: Server) -> None:
    calls = [
        calling(server, "POST", "/refund-requests", "rush", json=submission(f"RU-{index:02d}", "TK-rush"))
        for index in range(SUBMITS)
    ]
    answers = at_once(calls)

    assert sorted(answer.status_code for answer in answers) == [201] + [409] * (SUBMITS - 1)
    conflicts = [answer.json()["message"] for answer in answers if answer.status_code == 409]
    assert all("open refund request" in message for message in conflicts)
    (created,) = [answer.json() for answer in answers if answer.status_code == 201]
    assert [item["requestId"] for item in own_requests(server, "rush")] == [created["requestId"]]
    subjects = emails_about(server, created["requestId"], 1)
    assert list(subjects.values()) == [1]
    assert next(iter(subjects)).startswith("We have received")


def test_cancels_and_approvals_at_once_have_one_outcome_and_one_email(server: Server) -> None:
    submitted = server.submit("duel", "DU-1", "TK-duel")
    assert submitted.status_code == 201, submitted.text
    request_id = submitted.json()["requestId"]
    assert submitted.json()["status"] == "PENDING"
    cancel = calling(server, "POST", f"/refund-requests/{request_id}/cancel", "duel")
    approve = calling(server, "POST", f"/refund-requests/{request_id}/evaluate", REVIEWER, json={"action": "approve"})
    answers = at_once([approve, cancel] * (DUELLING_CALLS // 2))

    half = DUELLING_CALLS // 2
    statuses = {
        "approve": Counter(answer.status_code for answer in answers[0::2]),
        "cancel": Counter(answer.status_code for answer in answers[1::2]),
    }
    final = server.read(request_id).json()
    if final["status"] == "CANCELLED":
        # Every cancel succeeds (the first cancels, the others find it cancelled); no approval can.
        assert statuses == {"cancel": {200: half}, "approve": {409: half}}
    else:
        assert final["status"] == "APPROVED"
        assert statuses == {"cancel": {409: half}, "approve": {200: 1, 409: half - 1}}
    events = [entry["event"] for entry in final["history"]]
    assert events.count("decided") + events.count("cancelled") == 1
    duel = [
        invocation
        for invocation in invocations(server.log_path.read_text(encoding="utf-8"))
        if invocation.function in {"EvaluateFunction", "CancelFunction"}
    ]
    assert overlapping(duel), "the cancels and approvals ran one after another"

    subjects = emails_about(server, request_id, 2)
    decisions = sum(count for subject, count in subjects.items() if DECISION_SUBJECT.search(subject))
    cancellations = sum(count for subject, count in subjects.items() if "is cancelled" in subject)
    assert (decisions, cancellations) == ((0, 1) if final["status"] == "CANCELLED" else (1, 0))
    acknowledged = sum(count for subject, count in subjects.items() if "have received" in subject)
    assert acknowledged == 1  # (an approval's payout may be emailed as sent meanwhile: PAYOUTS.md's own email)


def test_one_idempotency_key_twenty_times_at_once_records_one_request(server: Server) -> None:
    call = calling(
        server,
        "POST",
        "/refund-requests",
        "echo",
        json=submission("EC-1", "TK-echo"),
        headers={"Idempotency-Key": "echo-once"},
    )
    answers = at_once([call] * REPEATS)

    created = {answer.json()["requestId"] for answer in answers if answer.status_code == 201}
    assert len(created) == 1
    # A repeat that arrives while the first is still running waits for its answer (API.md: the first answer);
    # one that waited longer than that allows is told when to send it again. None is a new request.
    in_progress = [answer for answer in answers if answer.status_code != 201]
    assert all(answer.json()["errors"][0]["field"] == "Idempotency-Key" for answer in in_progress)
    assert all(answer.headers.get("Retry-After") == "1" for answer in in_progress)
    assert {answer.status_code for answer in answers} <= {201, 409}
    (request_id,) = created
    assert [item["requestId"] for item in own_requests(server, "echo")] == [request_id]
    subjects = emails_about(server, request_id, 1)
    assert list(subjects.values()) == [1]


def test_a_customer_is_never_handled_with_another_callers_identity(server: Server) -> None:
    """A customer's large-bodied evaluate, 200 times, each while a reviewer lists the queue: every one is 403
    (a resolver that read the reviewer's event would have decided the request)."""
    submitted = server.submit("mallory", "MA-1", "TK-mallory")
    assert submitted.status_code == 201, submitted.text
    request_id = submitted.json()["requestId"]
    body = {"action": "approve", "note": "x" * 1_900}
    evaluate = calling(server, "POST", f"/refund-requests/{request_id}/evaluate", "mallory", json=body)
    queue = calling(server, "GET", "/refund-requests?status=PENDING", REVIEWER)
    statuses: Counter[int] = Counter()
    for _ in range(200):
        answers = at_once([evaluate, queue])
        statuses[answers[0].status_code] += 1
        assert answers[1].status_code == 200, answers[1].text
    assert statuses == {403: 200}
    assert server.read(request_id).json()["status"] == "PENDING"


def test_two_clear_full_refunds_of_one_customer_at_once_are_one_approval_every_time(server: Server) -> None:
    """Each order alone would be approved at once; sent together, the second is judged with the first counted
    (NO_EARLIER_CLAIM), whichever wins. Ten customers' pairs are released at a time, PAIRS pairs in all."""
    outcomes: Counter[tuple[int, ...] | tuple[str, ...]] = Counter()
    for first in range(0, PAIRS, PAIRS_AT_ONCE):
        pairs = range(first, first + PAIRS_AT_ONCE)
        calls = [
            calling(
                server,
                "POST",
                "/refund-requests",
                f"pair-{index:03d}",
                json=submission(f"PAIR-{index:03d}-{side}", f"TK-pair-{index:03d}"),
            )
            for index in pairs
            for side in "ab"
        ]
        answers = at_once(calls)
        for pair in zip(answers[0::2], answers[1::2], strict=True):
            codes = tuple(sorted(answer.status_code for answer in pair))
            if codes != (201, 201):
                outcomes[codes] += 1
                continue
            outcomes[tuple(sorted(answer.json()["status"] for answer in pair))] += 1
            (refused,) = [answer.json() for answer in pair if answer.json()["status"] == "REFUSED"]
            (approved,) = [answer.json() for answer in pair if answer.json()["status"] == "APPROVED"]
            (earlier,) = [rule for rule in refused["assessment"]["rules"] if rule["id"] == "NO_EARLIER_CLAIM"]
            assert earlier["result"] == "fail"
            assert approved["orderId"] in earlier["reason"]
    assert outcomes == Counter({("APPROVED", "REFUSED"): PAIRS})
    pairs_log = [
        invocation
        for invocation in invocations(server.log_path.read_text(encoding="utf-8"))
        if invocation.function == "SubmitFunction"
    ]
    assert overlapping(pairs_log), "the submits ran one after another"


def test_fifty_clear_full_refunds_of_one_customer_at_once_give_one_approval(server: Server) -> None:
    calls = [
        calling(server, "POST", "/refund-requests", "many", json=submission(f"MANY-{index:02d}", "TK-many"))
        for index in range(SUBMITS)
    ]
    answers = at_once(calls)

    # A race lost again and again is a 409 to send again; past the policy's filing limit, a 429.
    assert {answer.status_code for answer in answers} <= {201, 409, 429}, [answer.text for answer in answers]
    decided = [answer.json()["status"] for answer in answers if answer.status_code == 201]
    assert decided.count("APPROVED") == 1
    assert set(decided) <= {"APPROVED", "REFUSED"}
    assert Counter(item["status"] for item in own_requests(server, "many")) == Counter(decided)


def test_two_reviewers_taking_one_request_at_once_leave_one_holder_every_time(server: Server) -> None:
    """Casework: each of TAKES pending requests taken by two reviewers at once, ten requests at a time. One take
    holds it (200); the other is a 409 (it saw the holder, or its conditional write lost); the request says
    the winner, and its history one "taken"."""
    pending = []
    for first in range(0, TAKES, 2 * PAIRS_AT_ONCE):  # different customers: filed side by side, to save time
        names = [f"take-{index:03d}" for index in range(first, min(first + 2 * PAIRS_AT_ONCE, TAKES))]
        filed = at_once([calling(server, "POST", "/refund-requests", name,
                                 json=submission(name.upper(), f"TK-{name}")) for name in names])  # fmt: skip
        assert all(answer.status_code == 201 and answer.json()["status"] == "PENDING" for answer in filed)
        pending += [answer.json()["requestId"] for answer in filed]
    outcomes: Counter[tuple[int, int]] = Counter()
    for first in range(0, TAKES, PAIRS_AT_ONCE):
        batch = pending[first : first + PAIRS_AT_ONCE]
        calls = [
            calling(
                server,
                "POST",
                f"/refund-requests/{request_id}/evaluate",
                reviewer,
                json={"action": "take"},
                headers={"Authorization": f"Bearer {make_token(claims_for(reviewer, reviewer=True))}"},
            )
            for request_id in batch
            for reviewer in ("rosa", "remy")
        ]
        answers = at_once(calls)
        for request_id, pair in zip(batch, zip(answers[0::2], answers[1::2], strict=True), strict=True):
            codes = tuple(sorted(answer.status_code for answer in pair))
            outcomes[codes] += 1  # type: ignore[index]
            if codes != (200, 409):
                continue
            (winner,) = [answer.json()["heldBy"] for answer in pair if answer.status_code == 200]
            stored = server.read(request_id).json()
            assert stored["heldBy"] == winner
            assert [entry["event"] for entry in stored["history"]].count("taken") == 1
    assert outcomes == Counter({(200, 409): TAKES})
