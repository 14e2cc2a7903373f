"""Personal data kept no longer than the policy says (personalDataYears, 7): a decided or cancelled request is
reduced to its financial record once its years are over, and says so in its history; an open one is kept; the
erasure happens once, and only from where the last run stopped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api_support import call, file_request, read_request, seed_order
from test_evidence import PDF, upload

from refund_core.app.retention import RetentionRun, erase_expired_personal_data
from refund_local.events import api_event, claims_for
from refund_local.stack import LocalAws

REVIEWER = claims_for("rita", reviewer=True)
REFUSAL_NOTE = "Your account shows heavy use on 3 March; see our terms."


def says(username: str) -> str:
    return f"{username} says: it drops every evening."


def evaluate(request_id: str, body: dict[str, Any]) -> None:
    path = f"/refund-requests/{request_id}/evaluate"
    answer = call(api_event("POST", "/refund-requests/{requestId}/evaluate", path,
                            path_parameters={"requestId": request_id}, body=body, claims=REVIEWER))  # fmt: skip
    assert answer.status == 200, answer.json


def every_run(now: datetime) -> list[RetentionRun]:
    """Runs at `now` until it has caught up (a run looks at a year of days at most)."""
    runs = []
    while (run := erase_expired_personal_data(now)).looked_through is not None:
        runs.append(run)
    return runs


def test_decided_requests_keep_their_financial_record_only_once_their_years_are_over(stack: LocalAws) -> None:
    erase_expired_personal_data()  # the first run starts the clock
    seed_order("ord-r1", "rhea", days_ago=3)
    approved = file_request("rhea", "ord-r1", says("rhea"))  # a full refund, decided at once
    seed_order("ord-r2", "ravi", days_ago=40)
    refused = file_request("ravi", "ord-r2", says("ravi"))["requestId"]
    evaluate(refused, {"action": "askCustomer", "question": "Which city do you connect from, ravi?"})
    assert upload(refused, claims_for("ravi"), "ravi-bill.pdf", "application/pdf", PDF).status == 200
    evaluate(refused, {"action": "refuse", "note": REFUSAL_NOTE})
    seed_order("ord-r3", "rosa", days_ago=40)
    still_open = file_request("rosa", "ord-r3", says("rosa"))["requestId"]

    # Six years on, nothing is due.
    assert sum(run.erased for run in every_run(datetime.now(UTC) + timedelta(days=6 * 365))) == 0
    assert read_request(approved["requestId"], claims_for("rhea"))["reason"] == "rhea says: it drops every evening."

    runs = every_run(datetime.now(UTC) + timedelta(days=7 * 366 + 91))
    assert (sum(run.erased for run in runs), sum(run.kept_longer for run in runs)) == (2, 1)

    kept = read_request(approved["requestId"], claims_for("rhea"))
    assert kept["reason"] == "" and kept["personalDataErasedAt"]
    assert (kept["status"], kept["decision"]["amount"]) == ("APPROVED", approved["decision"]["amount"])
    assert kept["orderId"] == "ord-r1" and kept["amountPaid"] == approved["amountPaid"]
    assert all(entry["detail"] is None for entry in kept["history"][:-1]), kept["history"]
    assert kept["history"][-1]["event"] == "personal data erased"
    assert kept["history"][-1]["by"] == "system"  # the customer's view; staff see "retention"

    staff_view = read_request(refused, REVIEWER)
    assert staff_view["history"][-1]["by"] == "retention"
    assert staff_view["history"][-1]["detail"].startswith("kept 7 years after ")
    assert staff_view["decision"]["note"] is None and REFUSAL_NOTE not in str(staff_view)
    assert staff_view["decision"]["grounds"] and "facts" not in staff_view
    assert "ravi says" not in str(staff_view)
    # The question, the evidence's names and its files go too.
    assert staff_view["evidence"] == [] and "question" not in staff_view
    assert "ravi-bill" not in str(staff_view) and "ravi?" not in str(staff_view)
    from refund_core.adapters import clients  # noqa: PLC0415
    from refund_core.settings import settings  # noqa: PLC0415

    files = clients.s3().list_objects_v2(Bucket=str(settings().evidence_bucket_name), Prefix=f"evidence/{refused}/")
    assert files.get("KeyCount", 0) == 0

    pending = read_request(still_open, REVIEWER)
    assert pending["reason"] == "rosa says: it drops every evening." and "personalDataErasedAt" not in pending

    # Done once: a later run finds nothing more to do, and the history says it once.
    assert sum(run.erased for run in every_run(datetime.now(UTC) + timedelta(days=7 * 366 + 120))) == 0
    events = [entry["event"] for entry in read_request(approved["requestId"], claims_for("rhea"))["history"]]
    assert events.count("personal data erased") == 1
