"""Four eyes above an amount (the policy's secondApprovalAbove): an approval of more than it is the decision only
once another reviewer confirms it; its approver cannot (403), nor can a customer; until then the request waits,
staff see "awaiting second approval" and the customer sees it still being reviewed; the customer is emailed once.
Requests are filed and decided through the service with `now` past the version's taking effect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from api_support import call, customer, file_claim, owed_items, seed_claim
from test_policy_routes import draft, on_draft, put_draft

from refund_core.app import review, service
from refund_core.app.inputs import ApproveCommand, AssessCommand, ConfirmApprovalCommand, RefuseCommand
from refund_core.errors import Conflict, NotAReviewer, OwnApproval
from refund_core.http.identity import Caller
from refund_core.policy.models import RequestStatus
from refund_local.events import api_event, claims_for
from refund_local.stack import LocalAws

RITA = Caller(username="rita", email=None, groups=frozenset({"refund-reviewers"}))
ROB = Caller(username="rob", email=None, groups=frozenset({"refund-reviewers"}))
VERSION = "2027-01-01.4eyes"


@pytest.fixture
def later(stack: LocalAws) -> datetime:
    """A moment after a version asking a second approval above US$50.00 has taken effect."""
    put_draft(VERSION, draft(VERSION, secondApprovalAbove={"USD": "50.00"}))
    published = on_draft(VERSION, "publish", {"effectiveFrom": datetime.now(UTC).isoformat()})
    assert published.status == 200, published.json
    return datetime.fromisoformat(published.json["effectiveFrom"]) + timedelta(minutes=1)


def pending(username: str, at: datetime) -> str:
    seed_claim(username, f"ord-{username}", received_at=at, age_days=40)  # a partial refund, for a reviewer
    filed: dict[str, Any] = file_claim(username, f"ord-{username}", at)
    assert filed["status"] == "PENDING" and filed["assessment"]["policyVersion"] == VERSION
    return str(filed["requestId"])


def test_an_approval_above_the_amount_waits_for_another_reviewer_and_is_emailed_once(later: datetime) -> None:
    request_id = pending("fay", later)
    proposed = review.evaluate_refund_request(
        RITA, request_id, ApproveCommand(action="approve", amount="80.00", note="For the outages."), now=later
    )
    assert proposed.status is RequestStatus.PENDING
    assert proposed.awaiting_second_approval is not None
    assert (proposed.awaiting_second_approval.proposed_by, proposed.awaiting_second_approval.amount.amount) == (
        "rita", Decimal("80.00"),
    )  # fmt: skip
    assert "email#decision" not in owed_items(request_id)

    with pytest.raises(OwnApproval):
        review.evaluate_refund_request(RITA, request_id, ConfirmApprovalCommand(action="confirmApproval"), now=later)
    path = f"/refund-requests/{request_id}/evaluate"
    over_http = call(api_event("POST", "/refund-requests/{requestId}/evaluate", path,
                               path_parameters={"requestId": request_id}, body={"action": "confirmApproval"},
                               claims=claims_for("rita", reviewer=True)))  # fmt: skip
    assert (over_http.status, over_http.json["code"]) == (403, "own_approval")
    with pytest.raises(NotAReviewer):
        review.evaluate_refund_request(
            customer("fay"), request_id, ConfirmApprovalCommand(action="confirmApproval"), now=later
        )
    # The customer sees a request still being reviewed, and nothing of the approval waiting.
    seen = service.read_refund_request(customer("fay"), request_id).model_dump(mode="json", by_alias=True)
    assert seen["status"] == "PENDING" and "awaitingSecondApproval" not in seen
    assert "approval proposed" not in [entry["event"] for entry in seen["history"]]

    confirmed = review.evaluate_refund_request(
        ROB, request_id, ConfirmApprovalCommand(action="confirmApproval"), now=later + timedelta(minutes=5)
    )
    assert confirmed.status is RequestStatus.APPROVED and confirmed.decision is not None
    assert (confirmed.decision.amount.amount, confirmed.decision.decided_by, confirmed.decision.confirmed_by) == (
        Decimal("80.00"), "rita", "rob",
    )  # fmt: skip
    assert confirmed.decision.note == "For the outages."
    owed = owed_items(request_id)
    assert [effect for effect in owed if effect.startswith("email#decision")] == ["email#decision"]
    stored = service.read_refund_request(ROB, request_id)
    assert stored.awaiting_second_approval is None
    events = [(entry.event, entry.by) for entry in stored.history]
    assert ("approval proposed", "rita") in events and ("approval confirmed", "rob") in events
    with pytest.raises(Conflict):  # decided: nothing left to confirm
        review.evaluate_refund_request(ROB, request_id, ConfirmApprovalCommand(action="confirmApproval"), now=later)


def test_at_or_below_the_amount_one_reviewer_decides_and_a_refusal_ends_a_waiting_approval(later: datetime) -> None:
    small = pending("gil", later)
    decided = review.evaluate_refund_request(RITA, small, ApproveCommand(action="approve", amount="50.00"), now=later)
    assert decided.status is RequestStatus.APPROVED and decided.decision is not None
    assert decided.decision.confirmed_by is None

    large = pending("hal", later)
    review.evaluate_refund_request(RITA, large, ApproveCommand(action="approve", amount="60.00"), now=later)
    with pytest.raises(Conflict) as nothing:
        review.evaluate_refund_request(RITA, small, ConfirmApprovalCommand(action="confirmApproval"), now=later)
    assert nothing.value.code == "already_decided"
    refused = review.evaluate_refund_request(
        ROB, large, RefuseCommand(action="refuse", note="Our records show no outage."), now=later
    )
    assert refused.status is RequestStatus.REFUSED
    assert service.read_refund_request(ROB, large).awaiting_second_approval is None


def test_an_approval_waiting_for_a_second_reviewer_waits_no_more_once_the_request_is_assessed_again(
    later: datetime,
) -> None:
    """It was judged on the facts before: billing then says the order was HKD 800, not USD 100. Confirming the
    proposed 80.00 now would approve HKD 80.00, which nobody proposed."""
    request_id = pending("gil", later)
    review.evaluate_refund_request(
        RITA, request_id, ApproveCommand(action="approve", amount="80.00", note="For the outages."), now=later
    )
    seed_claim("gil", "ord-gil", received_at=later, age_days=40, currency="HKD", amount="800.00")
    assessed = review.evaluate_refund_request(ROB, request_id, AssessCommand(action="assess"), now=later)
    assert assessed.awaiting_second_approval is None
    with pytest.raises(Conflict):
        review.evaluate_refund_request(ROB, request_id, ConfirmApprovalCommand(action="confirmApproval"), now=later)
    assert service.repository.get_request(request_id).status is RequestStatus.PENDING  # type: ignore[union-attr]
