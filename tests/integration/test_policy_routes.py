"""API.md "The policy routes": versions stored by the service, drafts validated whole, what-if simulation over a
period, publication at a moment now or later, the audit trail; and which version each request is assessed under."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from api_support import Response, call, file_claim, seed_claim

from refund_core.app import policies, review, service
from refund_core.app.inputs import AssessCommand
from refund_core.http.identity import Caller
from refund_core.settings import settings
from refund_local.environment import REGION
from refund_local.events import api_event, claims_for
from refund_local.stack import LocalAws

OLIVE = claims_for("olive", policy_owner=True)
RITA = claims_for("rita", reviewer=True)
SUE = claims_for("sue", supervisor=True)
DAY = timedelta(days=1)
HONG_KONG = ZoneInfo("Asia/Hong_Kong")


def shipped() -> dict[str, Any]:
    text = resources.files("refund_core.policy").joinpath("policy_documents/refund-policy.json").read_text("utf-8")
    return json.loads(text)


def draft(name: str, **changes: Any) -> dict[str, Any]:
    return shipped() | {"version": name} | changes


def put_draft(version: str, document: Any, claims: dict[str, str] = OLIVE) -> Response:
    path = f"/policy/drafts/{version}"
    return call(
        api_event(
            "PUT", "/policy/drafts/{version}", path, path_parameters={"version": version}, body=document, claims=claims
        )
    )


def on_draft(version: str, action: str, body: Any, claims: dict[str, str] = OLIVE) -> Response:
    path = f"/policy/drafts/{version}/{action}"
    resource = "/policy/drafts/{version}/" + action
    return call(api_event("POST", resource, path, path_parameters={"version": version}, body=body, claims=claims))


def get(path: str, claims: dict[str, str] = OLIVE, **query: str) -> Response:
    return call(api_event("GET", path, path, query=query or None, claims=claims))


def policy_items() -> list[dict[str, Any]]:
    table = settings().policy_table_name
    return boto3.client("dynamodb", region_name=REGION).scan(TableName=table)["Items"]


# ---- simulation ---------------------------------------------------------------------------------------------


def seeded_month(now: datetime) -> dict[int, str]:
    """A claim received on each of ten days of the last month, its order 5 to 29 days old: order age → id."""
    filed = {}
    for index, age in enumerate((5, 8, 12, 13, 14, 15, 16, 20, 25, 29)):
        received_at = now - (28 - 2 * index) * DAY
        username, order_id = f"cust-{index}", f"ord-{index}"
        seed_claim(username, order_id, received_at=received_at, age_days=age, trafficBytes=1_200_000_000)
        filed[age] = file_claim(username, order_id, received_at)["requestId"]
    return filed


def test_a_fortnight_window_simulated_over_a_month_lists_exactly_the_requests_that_change(stack: LocalAws) -> None:
    now = datetime.now(UTC)
    filed = seeded_month(now)
    assert put_draft("2027-01-01.1", draft("2027-01-01.1", claimWindowDays=14)).status == 200
    stored_before = policy_items()

    today = now.astimezone(HONG_KONG).date()
    answer = on_draft("2027-01-01.1", "simulate", {"from": str(today - 30 * DAY), "to": str(today)})
    assert answer.status == 200, answer.json
    result = answer.json

    assert result["requests"] == 10
    assert result["notReplayed"] == 0
    changing = {filed[age] for age in (15, 16, 20, 25, 29)}
    assert {change["requestId"] for change in result["changed"]} == changing
    assert result["changedCount"] == 5
    for change in result["changed"]:
        assert change["outcome"] == {"was": "FULL_REFUND", "would": "PARTIAL_REFUND"}
        assert change["suggestedAmount"]["was"] == {"amount": "100.00", "currency": "USD"}
    # The elapsed-time charge: 100 × (1 − age / 365), rounded down to the cent.
    would = {change["requestId"]: Decimal(change["suggestedAmount"]["would"]["amount"]) for change in result["changed"]}
    expected = {
        filed[age]: (Decimal(100) * (1 - Decimal(age) / 365)).quantize(Decimal("0.01"), "ROUND_DOWN")
        for age in (15, 16, 20, 25, 29)
    }
    assert would == expected
    assert result["byOutcome"]["was"]["FULL_REFUND"] == 10
    assert result["byOutcome"]["would"] == {"FULL_REFUND": 5, "PARTIAL_REFUND": 5, "REFUSED": 0, "NEEDS_REVIEW": 0}
    assert result["refunded"]["was"] == [{"amount": "1000.00", "currency": "USD"}]
    assert result["refunded"]["would"] == [{"amount": str(Decimal(500) + sum(expected.values())), "currency": "USD"}]

    # Nothing written but the simulation's record and its audit entry; the requests are as they were.
    added = [item for item in policy_items() if item not in stored_before]
    assert sorted(item["pk"]["S"] for item in added) == ["POLICY#AUDIT", "POLICY#SIMULATION"]
    reread = service.read_refund_request(
        Caller(username="rita", email=None, groups=frozenset({"refund-reviewers"})), filed[20]
    )
    assert reread.assessment.outcome == "FULL_REFUND"


def test_a_simulation_of_a_period_without_requests_changes_nothing(stack: LocalAws) -> None:
    put_draft("2027-01-01.1", draft("2027-01-01.1", claimWindowDays=14))
    result = on_draft("2027-01-01.1", "simulate", {"from": "2026-01-01", "to": "2026-01-31"}).json
    assert (result["requests"], result["changed"], result["refunded"]) == (0, [], {"was": [], "would": []})


@pytest.mark.parametrize(
    ("period", "field"),
    [
        ({"from": "2026-12-10", "to": "2026-12-01"}, "from"),
        ({"from": "2025-01-01", "to": "2026-12-01"}, "to"),
        ({"from": "yesterday", "to": "2026-12-01"}, "from"),
        ({"to": "2026-12-01"}, "from"),
        ({"from": "0001-01-01", "to": "0001-01-31"}, "from"),
        ({"from": 0, "to": "2026-12-01"}, "from"),
        ({"from": "9999-12-01", "to": "9999-12-31"}, "from"),
    ],
)
def test_a_bad_period_is_400_naming_it(stack: LocalAws, period: dict[str, str], field: str) -> None:
    put_draft("d1", draft("d1"))
    answer = on_draft("d1", "simulate", period)
    assert answer.status == 400
    assert field in {error["field"] for error in answer.json["errors"]}


# ---- publication and which version applies ------------------------------------------------------------------


def test_published_for_later_it_applies_to_requests_received_after_that_moment_only(stack: LocalAws) -> None:
    now = datetime.now(UTC)
    effective = now + timedelta(hours=1)
    seed_claim("early", "ord-early", received_at=now, age_days=20, trafficBytes=1_000)
    before = file_claim("early", "ord-early", now)
    assert put_draft("2027-01-01.1", draft("2027-01-01.1", claimWindowDays=14)).status == 200
    published = on_draft("2027-01-01.1", "publish", {"effectiveFrom": effective.isoformat()})
    assert published.status == 200, published.json
    assert published.json["effectiveFrom"] == effective.isoformat(timespec="milliseconds")
    assert published.json["publishedBy"] == "olive"

    just_before = effective - timedelta(seconds=1)
    seed_claim("late-1", "ord-l1", received_at=just_before, age_days=20, trafficBytes=1_000)
    seed_claim("late-2", "ord-l2", received_at=effective, age_days=20, trafficBytes=1_000)
    under_old = file_claim("late-1", "ord-l1", just_before)
    under_new = file_claim("late-2", "ord-l2", effective)
    assert (under_old["assessment"]["policyVersion"], under_old["status"]) == (shipped()["version"], "APPROVED")
    assert (under_new["assessment"]["policyVersion"], under_new["status"]) == ("2027-01-01.1", "PENDING")
    assert under_new["assessment"]["outcome"] == "PARTIAL_REFUND"

    # An old decision keeps its version.
    rita = Caller(username="rita", email=None, groups=frozenset({"refund-reviewers"}))
    assert service.read_refund_request(rita, before["requestId"]).assessment.policy_version == shipped()["version"]

    versions = get("/policy").json
    assert versions["inForce"]["version"] == shipped()["version"]
    assert versions["inForce"]["publishedBy"] == "shipped"
    assert [version["version"] for version in versions["scheduled"]] == ["2027-01-01.1"]
    assert versions["scheduled"][0]["document"]["claimWindowDays"] == 14
    assert versions["drafts"] == []


def test_published_now_it_takes_effect_once_every_function_has_read_it(stack: LocalAws) -> None:
    now = datetime.now(UTC)
    put_draft("2027-01-01.1", draft("2027-01-01.1", claimWindowDays=14))
    published = on_draft("2027-01-01.1", "publish", {"effectiveFrom": now.isoformat()}).json
    effective = datetime.fromisoformat(published["effectiveFrom"])
    assert effective >= now + timedelta(seconds=settings().policy_cache_seconds)
    assert policies.in_force(effective - timedelta(milliseconds=1)).version == shipped()["version"]
    assert policies.in_force(effective).version == "2027-01-01.1"


def test_a_reviewer_reassesses_under_the_version_at_receipt_unless_asking_for_the_current_one(stack: LocalAws) -> None:
    now = datetime.now(UTC)
    seed_claim("pat", "ord-p", received_at=now, age_days=20)  # no traffic on record: a reviewer's
    pending = file_claim("pat", "ord-p", now)
    assert pending["status"] == "PENDING"
    put_draft("2027-01-01.1", draft("2027-01-01.1", claimWindowDays=14))
    effective = datetime.fromisoformat(
        on_draft("2027-01-01.1", "publish", {"effectiveFrom": now.isoformat()}).json["effectiveFrom"]
    )
    rita = Caller(username="rita", email=None, groups=frozenset({"refund-reviewers"}))
    later = effective + timedelta(minutes=1)

    at_receipt = review.evaluate_refund_request(rita, pending["requestId"], AssessCommand(action="assess"), now=later)
    assert at_receipt.assessment.policy_version == shipped()["version"]
    assert (at_receipt.history[-1].event, at_receipt.history[-1].detail) == ("policy at receipt", shipped()["version"])

    current = review.evaluate_refund_request(
        rita, pending["requestId"], AssessCommand(action="assess", policy="current"), now=later
    )
    assert current.assessment.policy_version == "2027-01-01.1"
    assert (current.history[-1].event, current.history[-1].detail) == ("current policy", "2027-01-01.1")


# ---- what is refused, and changes nothing ------------------------------------------------------------------


BROKEN_SETTINGS = [
    ("claimWindowDays", -1),
    ("trafficLimitBytes", 0),
    ("bytesPerGb", "a billion"),
    ("newOrderKinds", "new"),
    ("maxConnections", -5),
    ("violationBlockReasons", None),
    ("excludedPaymentChannels", ["apple_itunes", "crypto"]),
    ("excludedChannelReasons", {"apple_itunes": " "}),
    ("cancelledClaimsCount", "no"),
    ("excessTrafficPricePerGb", {"USD": "-1"}),
    ("chargeElapsedTime", 3),
    ("automaticDecisions", {"fullRefund": True}),
    ("reviewWorkingDays", 0),
    ("reminderWorkingDaysBeforeDeadline", 10),
    ("holidayCategories", ["statutory"]),
    # Categories of other countries' calendars: the holidays package raises for them in Hong Kong's.
    ("holidayCategories", ["public", "bank"]),
    ("holidayCategories", ["government"]),
    ("refundPaths", {"card": "back to the card"}),
    ("filingLimits", {"perOrder": 0, "perCustomer": 5, "perCustomerDays": 30}),
    ("timeZone", "Mars/Olympus"),
    ("policyId", "another-policy"),
    ("version", "not-the-path"),
]


@pytest.mark.parametrize(
    ("setting", "value"), BROKEN_SETTINGS, ids=[f"{setting}={json.dumps(value)}" for setting, value in BROKEN_SETTINGS]
)
def test_a_draft_with_a_broken_setting_is_400_naming_it_and_nothing_is_stored(
    stack: LocalAws, setting: str, value: Any
) -> None:
    answer = put_draft("d1", draft("d1", **{setting: value}))
    assert answer.status == 400, answer.json
    named = {error["field"].split(".")[0] for error in answer.json["errors"]}
    # An exclusion without its reason is named on the reasons, the setting it lacks.
    assert named == {"excludedChannelReasons" if setting == "excludedPaymentChannels" else setting}
    assert policy_items() == []


def test_every_broken_setting_is_named_at_once(stack: LocalAws) -> None:
    answer = put_draft("d1", draft("d1", claimWindowDays=-1, maxConnections="many", colour="red"))
    assert answer.status == 400
    assert {error["field"] for error in answer.json["errors"]} == {"claimWindowDays", "maxConnections", "colour"}


def test_a_published_version_cannot_be_overwritten_or_published_again(stack: LocalAws) -> None:
    now = datetime.now(UTC)
    put_draft("2027-01-01.1", draft("2027-01-01.1", claimWindowDays=14))
    assert on_draft("2027-01-01.1", "publish", {"effectiveFrom": now.isoformat()}).status == 200
    stored = policy_items()
    assert put_draft("2027-01-01.1", draft("2027-01-01.1", claimWindowDays=7)).status == 409
    assert on_draft("2027-01-01.1", "publish", {"effectiveFrom": now.isoformat()}).status == 409
    # The version that shipped is published too.
    assert put_draft(shipped()["version"], shipped()).status == 409
    assert policy_items() == stored


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"effectiveFrom": "2020-01-01T00:00:00Z"}, 400, "effectiveFrom"),
        ({"effectiveFrom": "2030-01-01T00:00:00"}, 400, "effectiveFrom"),
        ({"effectiveFrom": "soon"}, 400, "effectiveFrom"),
        ({}, 400, "effectiveFrom"),
        ({"effectiveFrom": "9999-12-31T23:00:00-05:00"}, 400, "effectiveFrom"),
        ({"effectiveFrom": "2045-01-01T00:00:00Z"}, 400, "effectiveFrom"),
    ],
)
def test_a_publication_for_the_past_or_without_a_zone_is_400(
    stack: LocalAws, body: dict[str, str], status: int, field: str
) -> None:
    put_draft("d1", draft("d1"))
    stored = policy_items()
    answer = on_draft("d1", "publish", body)
    assert answer.status == status
    assert answer.json["errors"][0]["field"] == field
    assert policy_items() == stored


def test_no_draft_of_that_name_is_404(stack: LocalAws) -> None:
    assert on_draft("nothing", "simulate", {"from": "2026-11-01", "to": "2026-11-30"}).status == 404
    assert on_draft("nothing", "publish", {"effectiveFrom": "2030-01-01T00:00:00Z"}).status == 404


@pytest.mark.parametrize("claims", [claims_for("alice"), RITA, SUE], ids=["customer", "reviewer", "supervisor"])
def test_nobody_but_a_policy_owner_may_call_any_policy_route(stack: LocalAws, claims: dict[str, str]) -> None:
    put_draft("d1", draft("d1"))
    stored = policy_items()
    answers = [
        get("/policy", claims),
        get("/policy/audit", claims),
        put_draft("d1", draft("d1", claimWindowDays=1), claims),
        put_draft("d2", draft("d2"), claims),
        on_draft("d1", "simulate", {"from": "2026-11-01", "to": "2026-11-30"}, claims),
        on_draft("d1", "publish", {"effectiveFrom": "2030-01-01T00:00:00Z"}, claims),
    ]
    assert [answer.status for answer in answers] == [403] * 6
    assert policy_items() == stored


def test_reading_the_policy_writes_nothing_and_audits_nothing(stack: LocalAws) -> None:
    """Opening the policy page is no action of its owner's: it shows the shipped version, stored or not."""
    for _ in range(2):
        versions = get("/policy")
        assert versions.status == 200
        assert versions.json["inForce"]["version"] == shipped()["version"]
    assert policy_items() == []
    assert get("/policy/audit").json["items"] == []


def test_every_policy_action_is_in_the_audit_trail_newest_first(stack: LocalAws) -> None:
    put_draft("d1", draft("d1", claimWindowDays=14))
    put_draft("d1", draft("d1", claimWindowDays=21))
    on_draft("d1", "simulate", {"from": "2026-11-01", "to": "2026-11-30"})
    on_draft("d1", "publish", {"effectiveFrom": "2030-01-01T00:00:00Z"})
    trail = get("/policy/audit").json["items"]
    assert [(entry["action"], entry["version"]) for entry in trail] == [
        ("published", "d1"),
        ("simulated", "d1"),
        ("draft saved", "d1"),
        ("draft saved", "d1"),
        ("first version recorded", shipped()["version"]),
    ]
    assert {entry["by"] for entry in trail} == {"olive"}
    assert trail[0]["detail"] == "in force from 2030-01-01T00:00:00+00:00"
    first_page = get("/policy/audit", limit="2").json
    rest = get("/policy/audit", limit="10", nextToken=first_page["nextToken"]).json
    assert first_page["items"] + rest["items"] == trail


def test_a_request_assessed_before_its_earlier_claims_were_kept_is_counted_not_replayed(stack: LocalAws) -> None:
    """Its facts hold no earlierClaims: replaying it as if it had none could show a change that is not one."""
    now = datetime.now(UTC)
    seed_claim("old", "ord-old", received_at=now, age_days=20, trafficBytes=1_000)
    filed = file_claim("old", "ord-old", now)
    table = boto3.client("dynamodb", region_name=REGION)
    table.update_item(
        TableName=settings().requests_table_name,
        Key={"pk": {"S": f"REQUEST#{filed['requestId']}"}, "sk": {"S": "REQUEST"}},
        UpdateExpression="REMOVE facts.earlierClaims",
    )
    put_draft("d1", draft("d1", claimWindowDays=14))
    today = now.astimezone(HONG_KONG).date()
    result = on_draft("d1", "simulate", {"from": str(today - DAY), "to": str(today)}).json
    assert (result["requests"], result["notReplayed"], result["changed"]) == (1, 1, [])
