"""The review deadline over HTTP, with `--review-window-seconds 4` (reminder at 3.2 s, deadline at 4 s): the
real state machine marks a forgotten request reminded, then overdue; the notifier sends the reminder and
the escalation; the request stays PENDING and first in the reviewers' queue. A request decided in time
gets neither."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from e2e_support import REVIEWER, Server, about, customer, order, running_server, ticket

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-deadline")]

WINDOW_SECONDS = 4
SEED: dict[str, Any] = {
    "customers": [customer("dan"), customer("deb"), customer("eve")],
    "orders": [order("DL-1", "dan", days_ago=40), order("DL-2", "deb", days_ago=40), order("DL-3", "eve", days_ago=40)],
    "tickets": [ticket("TK-dan", "dan"), ticket("TK-deb", "deb"), ticket("TK-eve", "eve")],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(
        tmp_path_factory.mktemp("deadline"), SEED, "--review-window-seconds", str(WINDOW_SECONDS)
    ) as running:
        yield running


def test_a_forgotten_request_is_reminded_then_escalated_and_stays_first_in_the_queue(server: Server) -> None:
    # The reviewers' function started first (the runner starts each on its first call): on a busy machine its
    # cold start could take the approval past the reminder, which would then rightly be sent.
    assert server.evaluate("rr_01M9000000000000000000000X", {"action": "approve"}).status_code == 404
    decided_in_time = server.submit("deb", "DL-2", "TK-deb").json()
    approved = server.evaluate(decided_in_time["requestId"], {"action": "approve", "amount": "10.00"})
    assert approved.status_code == 200, approved.text
    forgotten = server.submit("dan", "DL-1", "TK-dan").json()
    later = server.submit("eve", "DL-3", "TK-eve").json()
    assert forgotten["status"] == decided_in_time["status"] == later["status"] == "PENDING"

    request_id = forgotten["requestId"]
    reminder = server.wait_for_emails(about(request_id, "Reminder"), timeout=WINDOW_SECONDS + 15)
    escalation = server.wait_for_emails(about(request_id, "Overdue"), timeout=WINDOW_SECONDS + 15)
    assert [email["to"] for email in reminder] == [["refund-reviewers@example.com"]]
    assert [email["to"] for email in escalation] == [["refund-supervisors@example.com"]]

    resource = server.read(request_id, "dan").json()
    assert resource["status"] == "PENDING"
    assert resource["reminded"] is True
    assert resource["overdue"] is True
    # Reminded, then marked overdue (the workflow's steps run in order; tests/integration proves it step by
    # step), each dated when its step ran. The two emails are then owed within a second and go through the
    # delivery queue (standard SQS, two batches at once), which promises each is sent once, not in which order.
    at = {entry["event"]: entry["at"] for entry in resource["history"]}
    assert at["reminded"] <= at["overdue"]

    queue = server.call("GET", "/refund-requests?status=PENDING", user=REVIEWER).json()["items"]
    assert [item["requestId"] for item in queue] == [request_id, later["requestId"]]
    assert queue[0]["overdue"] is True

    decided_id = decided_in_time["requestId"]
    # Its deadline passed before the forgotten one's: never reminded nor overdue (each set, in the transaction
    # that owes its email, only while the request is pending), and no email of either.
    decided = server.read(decided_id, "deb").json()
    assert (decided["status"], decided["reminded"], decided["overdue"]) == ("APPROVED", False, False)
    assert not {"reminded", "overdue"} & {entry["event"] for entry in decided["history"]}
    assert not server.wait_for_emails(about(decided_id, "Reminder"), timeout=0)
    assert not server.wait_for_emails(about(decided_id, "Overdue"), timeout=0)
    assert len(server.wait_for_emails(about(decided_id, "approved in part"))) == 1
