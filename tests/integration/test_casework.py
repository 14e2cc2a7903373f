"""Casework (issue 26): a reviewer takes a pending request to review it; one holder at a time, taken over only
explicitly, released by its holder, each change in the history; the queue shows who holds what and filters
one reviewer's own; customers see none of it."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import Response, call, file_request, read_request, seed_order

from refund_core.adapters import repository
from refund_core.app import review
from refund_core.app.inputs import TakeCommand
from refund_core.errors import Conflict
from refund_core.http.identity import caller_from_claims
from refund_local.events import api_event, claims_for
from refund_local.stack import LocalAws

SUBMIT = "/refund-requests"
RITA = claims_for("rita", reviewer=True)
ROB = claims_for("rob", reviewer=True)


def pending(username: str) -> str:
    seed_order(f"ord-{username}", username, days_ago=40)
    filed = file_request(username, f"ord-{username}")
    assert filed["status"] == "PENDING", filed
    return str(filed["requestId"])


def evaluate(request_id: str, claims: dict[str, str], body: dict[str, Any]) -> Response:
    path = f"/refund-requests/{request_id}/evaluate"
    return call(api_event("POST", "/refund-requests/{requestId}/evaluate", path,
                          path_parameters={"requestId": request_id}, claims=claims, body=body))  # fmt: skip


def test_one_reviewer_holds_a_request_until_released_and_others_are_told_who(stack: LocalAws) -> None:
    request_id = pending("hana")
    taken = evaluate(request_id, RITA, {"action": "take"})
    assert taken.status == 200, taken.json
    assert taken.json["heldBy"] == "rita" and taken.json["heldSince"]

    refused = evaluate(request_id, ROB, {"action": "take"})
    assert refused.status == 409
    assert (refused.json["code"], refused.json["params"]) == ("held_by_another", {"holder": "rita"})
    assert evaluate(request_id, ROB, {"action": "release"}).json["code"] == "not_the_holder"
    assert read_request(request_id, ROB)["heldBy"] == "rita"

    assert evaluate(request_id, RITA, {"action": "take"}).json["heldBy"] == "rita"  # again: nothing changes
    released = evaluate(request_id, RITA, {"action": "release"})
    assert released.status == 200 and "heldBy" not in released.json
    assert evaluate(request_id, ROB, {"action": "take"}).json["heldBy"] == "rob"
    history = [(entry["event"], entry["by"]) for entry in read_request(request_id, RITA)["history"]]
    assert [entry for entry in history if entry[0] in {"taken", "released", "taken over"}] == [
        ("taken", "rita"), ("released", "rita"), ("taken", "rob"),
    ]  # fmt: skip


def test_a_request_is_taken_over_only_explicitly_and_the_history_names_from_whom(stack: LocalAws) -> None:
    request_id = pending("ines")
    evaluate(request_id, RITA, {"action": "take"})
    over = evaluate(request_id, ROB, {"action": "take", "takeOver": True})
    assert over.status == 200 and over.json["heldBy"] == "rob"
    (entry,) = [entry for entry in read_request(request_id, RITA)["history"] if entry["event"] == "taken over"]
    assert (entry["by"], entry["detail"]) == ("rob", "rita")


def test_the_customer_sees_no_holder_and_no_one_holds_a_decided_request(stack: LocalAws) -> None:
    request_id = pending("jude")
    evaluate(request_id, RITA, {"action": "take"})
    seen = read_request(request_id, claims_for("jude"))
    assert "heldBy" not in seen and "heldSince" not in seen
    assert all(entry["by"] in {"you", "rules", "reviewer", "system", "auto"} for entry in seen["history"])
    assert not {"taken", "taken over", "released"} & {entry["event"] for entry in seen["history"]}
    # Another reviewer may still decide it (the web app asks them first): holding never blocks a decision.
    assert evaluate(request_id, ROB, {"action": "refuse", "note": "No outage found."}).status == 200
    assert evaluate(request_id, RITA, {"action": "release"}).json["code"] == "already_decided"


def test_the_queue_shows_each_holder_and_filters_one_reviewers_own(stack: LocalAws) -> None:
    mine, theirs, nobodys = pending("kara"), pending("lars"), pending("mona")
    evaluate(mine, RITA, {"action": "take"})
    evaluate(theirs, ROB, {"action": "take"})
    queue = call(api_event("GET", SUBMIT, SUBMIT, claims=RITA)).json["items"]
    assert {item["requestId"]: item.get("heldBy") for item in queue} == {mine: "rita", theirs: "rob", nobodys: None}
    own = call(api_event("GET", SUBMIT, SUBMIT, query={"heldBy": ["rita"]}, claims=RITA)).json["items"]
    assert [item["requestId"] for item in own] == [mine]
    by_customer = call(api_event("GET", SUBMIT, SUBMIT, query={"heldBy": ["rita"]}, claims=claims_for("kara")))
    assert by_customer.status == 403 and "heldBy" in by_customer.json["message"]


def test_a_take_that_loses_a_race_is_a_409_and_writes_nothing(stack: LocalAws) -> None:
    """Both read the request free; rob's take lands first: rita's conditional write fails whole."""
    request_id = pending("nora")
    read_by_rita = repository.get_request(request_id)
    assert read_by_rita is not None
    evaluate(request_id, ROB, {"action": "take"})
    with pytest.raises(Conflict) as lost:
        review._hold(caller_from_claims(RITA), read_by_rita, TakeCommand(action="take"), read_by_rita.received_at)
    assert lost.value.code == "holder_changed"
    stored = repository.get_request(request_id)
    assert stored is not None and stored.held_by == "rob"
    assert [entry.by for entry in stored.history if entry.event.startswith("taken")] == ["rob"]


@pytest.mark.parametrize(
    ("body", "field"), [({"action": "take", "takeOver": "yes"}, "takeOver"), ({"action": "hold"}, "action")]
)
def test_a_malformed_take_is_a_400_naming_the_field(stack: LocalAws, body: dict[str, Any], field: str) -> None:
    request_id = pending(f"olga{len(body)}")
    answer = evaluate(request_id, RITA, body)
    assert answer.status == 400
    assert any(field in error["field"] for error in answer.json["errors"]), answer.json
    assert read_request(request_id, RITA).get("heldBy") is None


def test_the_queue_counts_its_open_overdue_unheld_and_the_callers_own(stack: LocalAws) -> None:
    def counts(claims: dict[str, str]) -> dict[str, int]:
        answer = call(api_event("GET", "/queue/counts", "/queue/counts", claims=claims))
        assert answer.status == 200, answer.json
        return dict(answer.json)

    before = counts(RITA)
    first, second, third = pending("olga"), pending("pavel"), pending("quinn")
    evaluate(first, RITA, {"action": "take"})
    evaluate(second, ROB, {"action": "take"})
    assert evaluate(third, RITA, {"action": "approve"}).status == 200  # decided: no longer open
    mine = counts(RITA)
    assert mine["pending"] - before["pending"] == 2
    assert mine["unheld"] - before["unheld"] == 0
    assert mine["heldByYou"] - before["heldByYou"] == 1
    assert counts(ROB)["heldByYou"] - before["heldByYou"] == 1
    denied = call(api_event("GET", "/queue/counts", "/queue/counts", claims=claims_for("olga")))
    assert denied.status == 403
