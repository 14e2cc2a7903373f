"""API.md "Second release: additions": what each caller sees of a request, internal notes, GET /orders, the
staff's filters, the supervisors' group and their reports."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from api_support import Response, call, deliver_all, file_claim, on_call, record_event, seed_claim, seed_order

from refund_core.adapters import clients, customer_claims, customer_records
from refund_core.app import outbox, policies, service, service_levels
from refund_core.app.inputs import Period
from refund_core.policy.emails import EmailKind, Recipients, render
from refund_core.policy.wording import long_date
from refund_core.settings import settings
from refund_local.environment import REGION
from refund_local.events import api_event, claims_for
from refund_local.handlers import invoke
from refund_local.stack import LocalAws

SUBMIT = "/refund-requests"
RITA = claims_for("rita", reviewer=True)
SUE = claims_for("sue", supervisor=True)


def submit(username: str, order_id: str, ticket: str | None = None) -> Response:
    body = {"orderId": order_id, "reason": "It drops.", "supportTicketId": ticket or f"T-{order_id}"}
    return call(api_event("POST", SUBMIT, SUBMIT, body=body, claims=claims_for(username)))


def on_request(method: str, request_id: str, action: str, claims: dict[str, str], body: Any = None) -> Response:
    resource = "/refund-requests/{requestId}" + (f"/{action}" if action else "")
    path = f"/refund-requests/{request_id}" + (f"/{action}" if action else "")
    return call(api_event(method, resource, path, path_parameters={"requestId": request_id}, claims=claims, body=body))


def get(path: str, claims: dict[str, str], **query: str) -> Response:
    return call(api_event("GET", path, path, query=query or None, claims=claims))


# ---- what each caller sees ------------------------------------------------------------------------------


def test_the_customer_sees_no_staff_identity_no_internal_note_and_no_facts(stack: LocalAws) -> None:
    seed_order("ord-1", "alice", days_ago=40)
    request_id = submit("alice", "ord-1").json["requestId"]
    approved = on_request(
        "POST", request_id, "evaluate", RITA,
        {"action": "approve", "amount": "50.00", "note": "Half, for the days you used.",
         "internalNote": "Checked the logs with Tom: outages on 3 days."},
    )  # fmt: skip
    assert approved.status == 200, approved.json

    seen = on_request("GET", request_id, "", claims_for("alice")).json
    assert "facts" not in seen
    assert seen["decision"]["decidedBy"] == "reviewer"
    assert seen["decision"]["note"] == "Half, for the days you used."
    assert {entry["by"] for entry in seen["history"]} <= {"you", "auto", "rules", "reviewer", "system"}
    assert [entry["by"] for entry in seen["history"][:2]] == ["you", "rules"]
    assert all(entry["event"] != "internal note" for entry in seen["history"])
    assert "Tom" not in str(seen) and "rita" not in str(seen)

    staff = on_request("GET", request_id, "", RITA).json
    assert staff["decision"]["decidedBy"] == "rita"
    (internal,) = [entry for entry in staff["history"] if entry["event"] == "internal note"]
    assert (internal["by"], internal["detail"]) == ("rita", "Checked the logs with Tom: outages on 3 days.")
    facts = staff["facts"]
    assert facts["order"]["orderId"] == "ord-1"
    assert facts["usage"]["trafficBytes"] == 1_200_000_000 and facts["usage"]["asOf"]
    assert facts["customer"] == {"blocks": [], "violations": [], "refundsElsewhere": []}
    assert facts["supportTicket"]["ticketId"] == "T-ord-1"
    assert staff["workingDaysLeft"] is None, "a decided request has no days left to count"


def test_a_pending_request_counts_its_working_days_left(stack: LocalAws) -> None:
    seed_order("ord-1", "dora", days_ago=40)
    filed = submit("dora", "ord-1").json
    assert filed["status"] == "PENDING"
    assert filed["workingDaysLeft"] == 10, "filed today: the whole ten Hong Kong working days"
    listed = get(SUBMIT, RITA, status="PENDING").json["items"]
    assert [(item["requestId"], item["workingDaysLeft"]) for item in listed] == [(filed["requestId"], 10)]


def test_a_fact_the_records_lack_is_null_for_staff(stack: LocalAws) -> None:
    seed_order("ord-1", "bob", days_ago=40, traffic_bytes=None, connections=None)
    request_id = submit("bob", "ord-1", ticket="T-nobody-knows").json["requestId"]
    facts = on_request("GET", request_id, "", RITA).json["facts"]
    assert (facts["usage"], facts["supportTicket"]) == (None, None)


def test_an_internal_note_of_nothing_visible_is_400_and_changes_nothing(stack: LocalAws) -> None:
    seed_order("ord-1", "cat", days_ago=40)
    request_id = submit("cat", "ord-1").json["requestId"]
    refused = on_request(
        "POST", request_id, "evaluate", RITA, {"action": "refuse", "note": "No.", "internalNote": "\u200b"}
    )
    assert refused.status == 400
    assert refused.json["errors"][0]["field"] == "internalNote"
    assert on_request("GET", request_id, "", RITA).json["status"] == "PENDING"


def test_the_decision_email_never_carries_the_internal_note(stack: LocalAws) -> None:
    from api_support import deliver_all, sent_emails  # noqa: PLC0415

    seed_order("ord-1", "dan", days_ago=40)
    request_id = submit("dan", "ord-1").json["requestId"]
    on_request("POST", request_id, "evaluate", RITA,
               {"action": "refuse", "note": "The service worked.", "internalNote": "Customer is rude."})  # fmt: skip
    deliver_all()
    decision = next(email for email in sent_emails() if "refused" in email.subject)
    assert "The service worked." in decision.text
    assert "rude" not in decision.text + (decision.html or "")


# ---- GET /orders ------------------------------------------------------------------------------------------


def test_orders_are_the_callers_own_newest_first_with_their_latest_request_not_cancelled(stack: LocalAws) -> None:
    seed_order("ord-old", "eve", days_ago=60)
    seed_order("ord-mid", "eve", days_ago=40)
    seed_order("ord-new", "eve", days_ago=5)
    seed_order("ord-other", "fay", days_ago=3)
    pending = submit("eve", "ord-mid").json["requestId"]
    on_request("POST", pending, "cancel", claims_for("eve"))
    approved = submit("eve", "ord-new").json
    assert approved["status"] == "APPROVED"

    first = get("/orders", claims_for("eve"), limit="2")
    assert first.status == 200, first.json
    assert [order["orderId"] for order in first.json["items"]] == ["ord-new", "ord-mid"]
    assert first.json["items"][0]["refundRequest"] == {"requestId": approved["requestId"], "status": "APPROVED"}
    assert first.json["items"][1]["refundRequest"] is None  # cancelled: none that was not
    assert first.json["items"][0]["amount"] == {"amount": "100.00", "currency": "USD"}
    rest = get("/orders", claims_for("eve"), limit="2", nextToken=first.json["nextToken"]).json
    assert [order["orderId"] for order in rest["items"]] == ["ord-old"]
    assert [order["orderId"] for order in get("/orders", claims_for("fay")).json["items"]] == ["ord-other"]
    assert get("/orders", claims_for("nobody")).json == {"items": [], "nextToken": None}


def test_an_app_store_order_says_who_refunds_it_instead(stack: LocalAws) -> None:
    seed_order("ord-card", "eve", days_ago=6)
    seed_order("ord-apple", "eve", days_ago=5, channel="apple_itunes")
    apple, card = get("/orders", claims_for("eve")).json["items"]
    assert apple["orderId"] == "ord-apple" and "refunded by Apple, not by us" in apple["refundedElsewhere"]
    assert card["refundedElsewhere"] is None


def test_orders_refuse_a_parameter_they_do_not_take(stack: LocalAws) -> None:
    answer = get("/orders", claims_for("eve"), username="fay")
    assert answer.status == 400
    assert answer.json["errors"][0]["field"] == "username"


def test_an_order_placed_by_event_is_listed(stack: LocalAws) -> None:
    record_event("OrderPlaced", {
        "orderId": "ord-ev", "username": "gus", "orderedAt": datetime.now(UTC).isoformat(), "amount": "19.90",
        "currency": "HKD", "paymentChannel": "card", "kind": "new", "servicePeriodDays": 30,
    })  # fmt: skip
    (order,) = get("/orders", claims_for("gus")).json["items"]
    assert (order["orderId"], order["amount"], order["servicePeriodDays"]) == (
        "ord-ev", {"amount": "19.90", "currency": "HKD"}, 30,
    )  # fmt: skip


# ---- the staff's filters ----------------------------------------------------------------------------------


@pytest.fixture
def three_pending(stack: LocalAws) -> dict[str, str]:
    ids = {}
    for name in ("hal", "ivy", "jon"):
        seed_order(f"ord-{name}", name, days_ago=40)
        ids[name] = submit(name, f"ord-{name}").json["requestId"]
    return ids


def listed(claims: dict[str, str], **query: str) -> list[str]:
    answer = get(SUBMIT, claims, **query)
    assert answer.status == 200, answer.json
    return [item["requestId"] for item in answer.json["items"]]


def test_staff_filter_by_customer_order_and_the_day_received(three_pending: dict[str, str]) -> None:
    assert listed(RITA, username="ivy") == [three_pending["ivy"]]
    assert listed(RITA, orderId="ord-jon") == [three_pending["jon"]]
    today = datetime.now(UTC).astimezone().date()
    assert set(listed(SUE, receivedFrom=today.isoformat(), receivedTo=(today + timedelta(days=1)).isoformat())) == set(
        three_pending.values()
    )
    assert listed(RITA, receivedTo=(today - timedelta(days=2)).isoformat()) == []
    assert listed(RITA, overdue="true") == []
    assert len(listed(RITA, overdue="false")) == 3
    assert listed(RITA, username="ivy", status="APPROVED") == []


@pytest.mark.parametrize(
    ("query", "field"),
    [({"overdue": "yes"}, "overdue"), ({"receivedFrom": "1 Dec"}, "receivedFrom"), ({"colour": "red"}, "colour"),
     ({"status": "OPEN"}, "status"),
     # A number is a Unix time to pydantic ("0": 1970-01-01); API.md's dates are ISO dates only.
     ({"receivedTo": "0"}, "receivedTo"), ({"receivedFrom": "20261201"}, "receivedFrom"),
     # The calendar's ends: their day's start in Hong Kong is no moment in UTC (it overflowed, a 500).
     ({"receivedFrom": "0001-01-01"}, "receivedFrom"), ({"receivedTo": "9999-12-31"}, "receivedTo")],
)  # fmt: skip
def test_a_bad_filter_is_400_naming_it(three_pending: dict[str, str], query: dict[str, str], field: str) -> None:
    answer = get(SUBMIT, RITA, **query)
    assert answer.status == 400, answer.json
    assert field in {error["field"] for error in answer.json["errors"]}


@pytest.mark.parametrize("path", ["/reports/sla", "/reports/decisions.csv"])
@pytest.mark.parametrize(
    ("period", "field"),
    [({"from": "0001-01-01", "to": "0001-01-02"}, "from"), ({"from": "9999-12-30", "to": "9999-12-31"}, "to")],
)
def test_a_report_of_the_calendars_ends_is_400_naming_the_date(
    stack: LocalAws, path: str, period: dict[str, str], field: str
) -> None:
    answer = get(path, SUE, **period)
    assert answer.status == 400, answer.json
    assert field in {error["field"] for error in answer.json["errors"]}


def test_a_customer_may_not_use_the_staffs_filters(three_pending: dict[str, str]) -> None:
    answer = get(SUBMIT, claims_for("hal"), username="ivy")
    assert answer.status == 403
    assert answer.json["errors"][0]["field"] == "username"
    assert listed(claims_for("hal")) == [three_pending["hal"]]


# ---- supervisors and their reports ------------------------------------------------------------------------


def test_a_supervisor_may_do_all_that_a_reviewer_may(three_pending: dict[str, str]) -> None:
    assert on_request("POST", three_pending["hal"], "evaluate", SUE, {"action": "assess"}).status == 200


def test_the_service_levels_count_each_request_once_however_often_the_stream_gives_its_end(stack: LocalAws) -> None:
    seed_order("ord-e", "eve", days_ago=40)
    refused = submit("eve", "ord-e").json["requestId"]
    deliver_all()
    pending = get("/reports/sla", SUE).json
    assert (pending["received"], pending["decided"], pending["open"]["total"]) == (1, {"APPROVED": 0, "REFUSED": 0}, 1)

    on_request("POST", refused, "evaluate", RITA, {"action": "refuse", "note": "No."})
    deliver_all()
    deliver_all()  # each reads the stream from its start: the submission given three times, the refusal twice
    decided = get("/reports/sla", SUE).json
    assert (decided["received"], decided["decided"], decided["decidedInTime"]) == (1, {"APPROVED": 0, "REFUSED": 1}, 1)
    assert decided["open"]["total"] == 0


def test_a_request_the_notifier_never_counted_is_counted_by_the_days_recount(stack: LocalAws) -> None:
    seed_order("ord-f", "fay", days_ago=40)
    refused = submit("fay", "ord-f").json["requestId"]
    on_request("POST", refused, "evaluate", RITA, {"action": "refuse", "note": "No."})
    # The notifier never saw it end (its stream record given up on): no day counts it, and it is not open.
    assert get("/reports/sla", SUE).json["received"] == 0

    # The reconciler's first run of the day counts it; the next runs, and the notifier come late, add nothing.
    assert outbox.reconcile().service_levels_recounted == 1
    indexes_read: list[str] = []

    def query(params: dict[str, Any], **_: Any) -> None:
        indexes_read.append(params.get("IndexName", ""))

    with on_call(clients.dynamodb(), "before-parameter-build.dynamodb.Query", query):
        assert outbox.reconcile().service_levels_recounted == 0
    assert "ByReceived" not in indexes_read, "the requests are read once a day"
    deliver_all()
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    assert outbox.reconcile(now=tomorrow).service_levels_recounted == 0  # every day whole: nothing recounted
    report = get("/reports/sla", SUE).json
    assert (report["received"], report["decided"], report["open"]["total"]) == (1, {"APPROVED": 0, "REFUSED": 1}, 0)


def test_an_operator_backfills_the_service_levels_of_days_the_daily_recount_does_not_reach(stack: LocalAws) -> None:
    """Requests that ended before the service levels were counted (or unseen by the notifier more than 45 days
    ago): the reconciler invoked with the period counts them, once, a day at a time."""
    now = datetime.now(UTC)
    for index, days_ago in enumerate((100, 60)):
        seed_claim(f"old-{index}", f"ord-old-{index}", received_at=now - timedelta(days=days_ago), age_days=1,
                   trafficBytes=1_000)  # fmt: skip
        assert file_claim(f"old-{index}", f"ord-old-{index}", now - timedelta(days=days_ago))["status"] == "APPROVED"
    today = now.astimezone(ZoneInfo("Asia/Hong_Kong")).date()
    period = {"from": str(today - timedelta(days=120)), "to": str(today)}
    assert outbox.reconcile().service_levels_recounted == 0  # the daily recount reads the last 45 days only
    assert get("/reports/sla", SUE, **period).json["received"] == 0

    # Short of time after each day: the first day with requests made whole, the rest of the period said.
    first = service_levels.backfill(Period.model_validate(period), seconds_left=lambda: 0.0)
    assert (first.recounted, first.through) == (1, today - timedelta(days=100))
    assert first.rest is not None and (first.rest.start, first.rest.end) == (today - timedelta(days=99), today)
    rest = {"from": str(first.rest.start), "to": str(first.rest.end)}
    assert invoke("functions/reconciler/", {"recountServiceLevels": rest}) == {
        "recounted": 1, "through": period["to"], "rest": None,
    }  # fmt: skip
    report = get("/reports/sla", SUE, **period).json
    assert (report["received"], report["decided"], report["decidedAutomatically"]) == (
        2,
        {"APPROVED": 2, "REFUSED": 0},
        2,
    )
    # Again, or the notifier come late: nothing counted twice.
    assert invoke("functions/reconciler/", {"recountServiceLevels": period})["recounted"] == 0
    deliver_all()
    assert get("/reports/sla", SUE, **period).json["received"] == 2


@pytest.mark.parametrize(
    ("period", "problem"),
    [
        ({"from": "2026-02-01", "to": "2026-01-01"}, "from must not be after to"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "covers at most"),
        ({"from": "2026-01-01"}, "to"),
    ],
)
def test_a_backfill_of_a_bad_period_says_why_and_counts_nothing(
    stack: LocalAws, period: dict[str, str], problem: str
) -> None:
    with pytest.raises(Exception, match=problem):
        invoke("functions/reconciler/", {"recountServiceLevels": period})


def test_only_supervisors_read_the_reports(stack: LocalAws) -> None:
    for path in ("/reports/sla", "/reports/decisions.csv"):
        assert get(path, RITA).status == 403
        assert get(path, claims_for("hal")).status == 403


def test_the_service_levels_count_what_happened_in_the_period(stack: LocalAws) -> None:
    seed_order("ord-a", "kim", days_ago=5)  # approved at once
    seed_order("ord-b", "lea", days_ago=40)  # pending, then refused by a reviewer
    seed_order("ord-c", "max", days_ago=40)  # pending, then cancelled
    seed_order("ord-d", "ned", days_ago=40)  # still open
    auto = submit("kim", "ord-a").json
    refused = submit("lea", "ord-b").json["requestId"]
    on_request("POST", refused, "evaluate", RITA, {"action": "refuse", "note": "No."})
    cancelled = submit("max", "ord-c").json["requestId"]
    on_request("POST", cancelled, "cancel", claims_for("max"))
    submit("ned", "ord-d")
    deliver_all()  # the stream counts each change of a request in the day it was received on

    report = get("/reports/sla", SUE)
    assert report.status == 200, report.json
    body = report.json
    assert body["received"] == 4
    assert body["decided"] == {"APPROVED": 1, "REFUSED": 1}
    assert (body["cancelled"], body["decidedAutomatically"], body["decidedInTime"], body["decidedLate"]) == (1, 1, 2, 0)
    assert body["open"]["total"] == 1 and body["open"]["overdue"] == 0
    assert sum(body["open"]["byWorkingDaysLeft"].values()) == 1
    assert set(body["open"]["byWorkingDaysLeft"]) == {"0", "1", "2", "3-5", "6-10"}
    assert body["workingDaysToDecision"] == {"median": 0, "p90": 0, "max": 0}
    assert body["refunded"] == [auto["decision"]["amount"]]
    days = (datetime.fromisoformat(body["to"]) - datetime.fromisoformat(body["from"])).days
    assert days == 29

    empty = get("/reports/sla", SUE, **{"from": "2020-01-01", "to": "2020-01-31"}).json
    assert (empty["received"], empty["workingDaysToDecision"]["median"], empty["refunded"]) == (0, None, [])
    assert get("/reports/sla", SUE, **{"from": "2026-12-31", "to": "2026-01-01"}).status == 400
    for bad in ("0", "1796000000"):
        answer = get("/reports/sla", SUE, **{"from": bad})
        assert (answer.status, answer.json["errors"][0]["field"]) == (400, "from")


def test_the_decisions_csv_parses_and_matches_the_decisions(stack: LocalAws) -> None:
    seed_order("ord-a", "=cmd|' /C calc'!A0", days_ago=5)
    seed_order("ord-b", "lea", days_ago=40)
    auto = submit("=cmd|' /C calc'!A0", "ord-a").json
    refused = submit("lea", "ord-b").json["requestId"]
    on_request("POST", refused, "evaluate", RITA, {"action": "refuse", "note": "No."})

    answer = call(api_event("GET", "/reports/decisions.csv", "/reports/decisions.csv", claims=SUE))
    assert answer.status == 200
    assert answer.header("Content-Type") == "text/csv; charset=utf-8"
    assert "attachment" in (answer.header("Content-Disposition") or "")
    rows = list(csv.DictReader(io.StringIO(answer.raw["body"])))
    assert [row["requestId"] for row in rows] == [auto["requestId"], refused]
    first, second = rows
    assert first["username"] == "'=cmd|' /C calc'!A0"  # kept as text, not a formula
    assert (first["status"], first["refundType"], first["amount"], first["currency"], first["decidedBy"]) == (
        "APPROVED", "FULL", auto["decision"]["amount"]["amount"], "USD", "auto",
    )  # fmt: skip
    assert (second["status"], second["decidedBy"], second["inTime"], second["amount"]) == (
        "REFUSED",
        "rita",
        "true",
        "",
    )
    assert first["policyVersion"] == auto["assessment"]["policyVersion"]
    # Hong Kong time to the second, as the supervisors read it, and the same moment as the API's.
    received = datetime.fromisoformat(first["receivedAt"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", first["receivedAt"])
    assert received == datetime.fromisoformat(auto["receivedAt"]).replace(microsecond=0)


def test_a_late_request_shows_the_date_its_delay_email_promised(stack: LocalAws) -> None:
    """Past its deadline, a pending request says when the decision will come instead (the delay email's date),
    not a deadline that has passed; an open one in time says nothing of it."""
    seed_order("ord-late", "lena", days_ago=40)
    request_id = submit("lena", "ord-late").json["requestId"]
    assert on_request("GET", request_id, "", claims_for("lena")).json.get("decisionPromisedBy") is None
    boto3.client("dynamodb", region_name=REGION).update_item(
        TableName=settings().requests_table_name,
        Key={"pk": {"S": f"REQUEST#{request_id}"}, "sk": {"S": "REQUEST"}},
        UpdateExpression="SET reminded = :yes, overdue = :yes",
        ExpressionAttributeValues={":yes": {"BOOL": True}},
    )
    seen = on_request("GET", request_id, "", claims_for("lena")).json
    stored = service.repository.get_request(request_id)
    assert stored is not None
    delay = render(EmailKind.DELAY, stored, policies.in_force(), Recipients("l@example.com", "r@x", "s@x"))
    promised = datetime.fromisoformat(seen["decisionPromisedBy"])
    assert promised > datetime.fromisoformat(seen["deadline"])
    assert long_date(promised, ZoneInfo("Asia/Hong_Kong")) in delay.text


# ---- CORS: the web app's origin alone ---------------------------------------------------------------------


def test_answers_allow_the_web_apps_origin_and_no_other(stack: LocalAws) -> None:
    """WEB_APP_ORIGIN comes from template.yaml (the distribution's domain; http://127.0.0.1:3000 here)."""
    seed_order("ord-1", "gina", days_ago=40)
    app_origin = stack.environment["WEB_APP_ORIGIN"]
    filed = call(
        api_event(
            "POST",
            SUBMIT,
            SUBMIT,
            body={"orderId": "ord-1", "reason": "It drops.", "supportTicketId": "T-ord-1"},
            claims=claims_for("gina"),
            headers={"Origin": app_origin, "Idempotency-Key": "k-gina-1"},
        )
    )
    assert filed.status == 201
    assert filed.header("Access-Control-Allow-Origin") == app_origin
    assert "Location" in (filed.header("Access-Control-Expose-Headers") or "")
    refused = call(
        api_event("GET", "/orders", "/orders", claims=claims_for("gina"), headers={"Origin": "https://evil.example"})
    )
    assert refused.status == 200 and refused.header("Access-Control-Allow-Origin") is None
    error = call(
        api_event(
            "GET", "/orders", "/orders", query={"bogus": "1"}, claims=claims_for("gina"), headers={"Origin": app_origin}
        )
    )
    assert error.status == 400 and error.header("Access-Control-Allow-Origin") == app_origin


def given_to_bob(order_id: str) -> None:
    """Billing's correction of an order of alice's (seeded 40 days old): it is bob's."""
    ordered_at = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    assert record_event(
        "OrderCorrected",
        {"orderId": order_id, "username": "bob", "orderedAt": ordered_at, "amount": "100.00", "currency": "USD",
         "paymentChannel": "card", "kind": "new", "servicePeriodDays": 365, "asOf": datetime.now(UTC).isoformat()},
    )  # fmt: skip


def test_an_order_billing_moves_to_another_customer_is_theirs_to_claim(stack: LocalAws) -> None:
    """A billing correction gives alice's order to bob: bob sees none of alice's request and may file his own;
    alice's can no longer be approved (the payment would be paid back twice), and she may still withdraw it,
    which leaves bob's claim of the order alone."""
    seed_order("ord-moved", "alice")
    seed_order("ord-bob", "bob")
    alices = submit("alice", "ord-moved")
    assert alices.status == 201 and alices.json["status"] == "PENDING"
    given_to_bob("ord-moved")
    (moved,) = [order for order in get("/orders", claims_for("bob")).json["items"] if order["orderId"] == "ord-moved"]
    assert moved["refundRequest"] is None, "nothing of alice's request"
    bobs = submit("bob", "ord-moved", ticket="T-ord-bob")
    assert bobs.status == 201, bobs.json
    approved = on_request("POST", alices.json["requestId"], "evaluate", RITA, {"action": "approve", "note": "Fine."})
    assert approved.status == 409, approved.json
    assert approved.json["code"] == "order_moved"
    assessed = on_request("POST", alices.json["requestId"], "evaluate", RITA, {"action": "assess"})
    assert (assessed.status, assessed.json["code"]) == (409, "order_moved"), assessed.json
    cancelled = on_request("POST", alices.json["requestId"], "cancel", claims_for("alice"))
    assert cancelled.status == 200 and cancelled.json["status"] == "CANCELLED"
    (moved,) = [order for order in get("/orders", claims_for("bob")).json["items"] if order["orderId"] == "ord-moved"]
    assert moved["refundRequest"] == {"requestId": bobs.json["requestId"], "status": bobs.json["status"]}


def test_an_order_billing_moves_while_its_approval_is_written_is_not_paid_back(
    stack: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The approval read the order just before billing's correction gave it to bob: its transaction, which checks
    the owner again, is refused, and nothing is decided."""
    seed_order("ord-raced", "alice")
    alices = submit("alice", "ord-raced")
    assert alices.status == 201 and alices.json["status"] == "PENDING"
    as_read = customer_records.order("ord-raced")
    given_to_bob("ord-raced")
    monkeypatch.setattr(customer_records, "order", lambda order_id: as_read)
    approved = on_request("POST", alices.json["requestId"], "evaluate", RITA, {"action": "approve", "note": "Fine."})
    assert (approved.status, approved.json["code"]) == (409, "order_moved"), approved.json
    read = on_request("GET", alices.json["requestId"], "", claims_for("alice"))
    assert (read.json["status"], read.json.get("payout")) == ("PENDING", None)


def test_an_order_billing_moves_while_a_claim_approved_at_once_is_recorded_is_not_paid_back(
    stack: LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Alice's clear full refund was judged on the records read just before billing gave the order to bob (and
    read so again, as a read of them may still show it): its transaction checks the owner, and the claim is
    refused as for any order not hers."""
    seed_order("ord-quick", "alice", days_ago=5)
    seed_order("ord-bob", "bob")
    as_read = customer_claims.load_claim_context("alice", "ord-quick", "T-ord-quick")
    given_to_bob("ord-quick")
    monkeypatch.setattr(customer_claims, "load_claim_context", lambda *key: as_read)
    filed = submit("alice", "ord-quick")
    assert (filed.status, filed.json["code"]) == (404, "order_not_found"), filed.json
    assert get("/refund-requests", claims_for("alice")).json["items"] == []
    (order,) = [order for order in get("/orders", claims_for("bob")).json["items"] if order["orderId"] == "ord-quick"]
    assert order["refundRequest"] is None
