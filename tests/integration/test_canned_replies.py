"""Canned replies: supervisors keep a small library of notes to customers in both languages (create, edit with
the version read, retire); reviewers see those in use; nobody else sees any."""

from __future__ import annotations

from typing import Any

from api_support import Response, call

from refund_local.events import api_event, claims_for
from refund_local.stack import LocalAws

SUE = claims_for("sue", supervisor=True)
RITA = claims_for("rita", reviewer=True)
OUTAGE = {
    "title": "Outage confirmed",
    "english": "We confirmed the outages you reported and refund the days they cost you.",
    "chinese": "我們已確認您報告的服務中斷，並退還受影響日數的費用。",
}


def save(reply_id: str, body: dict[str, Any], claims: dict[str, str] = SUE) -> Response:
    path = f"/canned-replies/{reply_id}"
    return call(api_event("PUT", "/canned-replies/{replyId}", path, path_parameters={"replyId": reply_id},
                          body=body, claims=claims))  # fmt: skip


def retire(reply_id: str, version: int, claims: dict[str, str] = SUE) -> Response:
    path = f"/canned-replies/{reply_id}/retire"
    return call(api_event("POST", "/canned-replies/{replyId}/retire", path, path_parameters={"replyId": reply_id},
                          body={"version": version}, claims=claims))  # fmt: skip


def listed(claims: dict[str, str]) -> list[dict[str, Any]]:
    answer = call(api_event("GET", "/canned-replies", "/canned-replies", claims=claims))
    assert answer.status == 200, answer.json
    return list(answer.json["items"])


def test_a_supervisor_keeps_the_library_and_reviewers_see_the_replies_in_use(stack: LocalAws) -> None:
    created = save("outage", OUTAGE)
    assert created.status == 200, created.json
    assert (created.json["version"], created.json["updatedBy"], created.json["retired"]) == (1, "sue", False)
    assert save("outage", OUTAGE).json["code"] == "changed_meanwhile"  # a second create is no edit

    edited = save("outage", OUTAGE | {"title": "Outages confirmed", "version": 1})
    assert (edited.status, edited.json["version"], edited.json["title"]) == (200, 2, "Outages confirmed")
    stale = save("outage", OUTAGE | {"title": "Someone else's", "version": 1})
    assert (stale.status, stale.json["code"]) == (409, "changed_meanwhile")

    save("goodwill", {"title": "Goodwill", "english": "A goodwill refund.", "chinese": "善意退款。"})
    assert [reply["replyId"] for reply in listed(RITA)] == ["goodwill", "outage"]
    assert listed(RITA)[1]["chinese"] == OUTAGE["chinese"]

    retired = retire("goodwill", 1)
    assert (retired.status, retired.json["retired"], retired.json["version"]) == (200, True, 2)
    assert [reply["replyId"] for reply in listed(RITA)] == ["outage"]
    assert [(reply["replyId"], reply["retired"]) for reply in listed(SUE)] == [("outage", False), ("goodwill", True)]
    assert retire("nothing", 1).status == 404


def test_only_supervisors_keep_it_and_only_staff_see_it(stack: LocalAws) -> None:
    assert save("outage", OUTAGE, claims=RITA).status == 403
    assert save("outage", OUTAGE).status == 200
    assert retire("outage", 1, claims=RITA).status == 403
    answer = call(api_event("GET", "/canned-replies", "/canned-replies", claims=claims_for("cora")))
    assert answer.status == 403
    bad = save("Outage!", OUTAGE)
    assert (bad.status, [error["field"] for error in bad.json["errors"]]) == (400, ["replyId"])
    empty = save("empty", OUTAGE | {"english": " "})
    assert (empty.status, [error["field"] for error in empty.json["errors"]]) == (400, ["english"])
