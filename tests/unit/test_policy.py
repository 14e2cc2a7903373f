"""The policy document: every (setting) of POLICY-RULES.md changes the result with no code change, every
assessment records the document's version, and an invalid document is rejected on load."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from refund_core.policy.document import Policy, parse_policy, shipped_policy
from refund_core.policy.models import AccountBlock, EarlierClaim, Outcome, RequestStatus, RuleId
from refund_core.policy.money import Money

HK = ZoneInfo("Asia/Hong_Kong")
GB = 1_000_000_000


def shipped() -> dict[str, Any]:
    text = resources.files("refund_core.policy").joinpath("policy_documents/refund-policy.json").read_text("utf-8")
    return json.loads(text)


def modified(**changes: Any) -> Policy:
    return parse_policy(json.dumps(shipped() | changes))


def test_the_shipped_document_holds_the_published_policy(policy):
    assert policy.time_zone == "Asia/Hong_Kong"
    assert policy.claim_window_days == 30
    assert policy.traffic_limit_bytes == 10 * GB
    assert policy.bytes_per_gb == GB
    assert policy.new_order_kinds == {"new"}
    assert policy.max_connections == 100
    assert policy.excluded_payment_channels == {"apple_itunes"}
    assert policy.cancelled_claims_count is False
    assert policy.charge_elapsed_time is True
    assert policy.review_working_days == 10
    assert policy.reminder_working_days_before_deadline == 2
    assert set(policy.holiday_categories) == {"public", "optional"}
    assert policy.version


def test_shipped_policy_is_loaded_once():
    assert shipped_policy() is shipped_policy()


def test_parse_policy_accepts_bytes():
    assert parse_policy(json.dumps(shipped()).encode()) == shipped_policy()


def test_claim_window_is_a_setting(claim):
    """Day 20: a full refund under 30 days, the partial path under 14, with no code change."""
    facts = claim.facts(ordered_at=datetime(2026, 11, 2, 10, tzinfo=HK), received_at=datetime(2026, 11, 22, tzinfo=HK))
    assert claim.assess(facts).outcome is Outcome.FULL_REFUND
    fortnight = modified(claimWindowDays=14, version="2027-01-01.1")
    assessment = claim.assess(facts, policy=fortnight)
    assert assessment.outcome is Outcome.PARTIAL_REFUND
    assert [rule.id for rule in assessment.failed()] == [RuleId.WITHIN_30_DAYS]
    assert "within 14 days" in assessment.failed()[0].reason
    assert assessment.policy_version == "2027-01-01.1"
    # The elapsed-time charge follows the window: 100 − 100 × 20 / 365 = 94.52.
    assert assessment.suggested_amount == Money.of("94.52", "USD")


def test_model_copy_changes_the_result_too(claim):
    facts = claim.facts(ordered_at=datetime(2026, 11, 2, 10, tzinfo=HK), received_at=datetime(2026, 11, 22, tzinfo=HK))
    policy = shipped_policy().model_copy(update={"claim_window_days": 14})
    assert claim.assess(facts, policy=policy).outcome is Outcome.PARTIAL_REFUND


SETTING_CASES = [
    pytest.param({"maxConnections": 50}, {"connections": 60}, RuleId.CONNECTIONS_WITHIN_LIMIT, id="max-connections"),
    pytest.param({"trafficLimitBytes": 5 * GB}, {"traffic": 6 * GB}, RuleId.TRAFFIC_UNDER_LIMIT, id="traffic-limit"),
    pytest.param({"newOrderKinds": ["new", "renewal"]}, {"kind": "renewal"}, RuleId.NEW_ORDER, id="new-order-kinds"),
    pytest.param(
        {
            "excludedPaymentChannels": ["apple_itunes", "crypto"],
            "excludedChannelReasons": shipped()["excludedChannelReasons"] | {"crypto": "Crypto is not refunded."},
        },
        {"channel": "crypto"},
        RuleId.NOT_APP_STORE,
        id="channels",
    ),
    pytest.param(
        {"violationBlockReasons": ["terms_violation", "abuse"]},
        {"blocks": (AccountBlock(reason="abuse", starts_at=datetime(2026, 11, 10, tzinfo=HK)),)},
        RuleId.NOT_BLOCKED,
        id="block-reasons",
    ),
    pytest.param(
        {"cancelledClaimsCount": True},
        {
            "earlier_claims": (
                EarlierClaim(
                    request_id="R-0",
                    order_id="O-0",
                    status=RequestStatus.CANCELLED,
                    received_at=datetime(2026, 3, 1, tzinfo=HK),
                ),
            )
        },
        RuleId.NO_EARLIER_CLAIM,
        id="cancelled-claims-count",
    ),
]


@pytest.mark.parametrize(("setting", "changes", "rule_id"), SETTING_CASES)
def test_each_setting_changes_a_rule_result(claim, setting, changes, rule_id):
    facts = claim.facts(**changes)
    before = {rule.id: rule.result for rule in claim.assess(facts).rules}
    after = {rule.id: rule.result for rule in claim.assess(facts, policy=modified(**setting)).rules}
    assert {before[rule_id], after[rule_id]} == {"pass", "fail"}
    assert {k: v for k, v in before.items() if k is not rule_id} == {k: v for k, v in after.items() if k is not rule_id}


def test_excess_traffic_price_is_a_setting(claim):
    facts = claim.facts(traffic=12 * GB)
    assert claim.assess(facts).suggested_amount == Money.of("98.00", "USD")
    dearer = modified(excessTrafficPricePerGb={"USD": "2.50"})
    assert claim.assess(facts, policy=dearer).suggested_amount == Money.of("95.00", "USD")


def test_bytes_per_gb_is_a_setting(claim):
    binary = modified(bytesPerGb=2**30, trafficLimitBytes=10 * 2**30)
    facts = claim.facts(traffic=10 * GB + 1)
    assert claim.assess(facts).outcome is Outcome.PARTIAL_REFUND
    assert claim.assess(facts, policy=binary).outcome is Outcome.FULL_REFUND


def test_the_assessment_records_the_policy_version(claim, policy):
    assert claim.assess().policy_version == policy.version == shipped()["version"]
    assert claim.assess(policy=modified(version="v-test-42")).policy_version == "v-test-42"


def test_refund_paths(policy):
    assert "card" in policy.refund_path("card")
    assert policy.refund_path(None) == policy.refund_paths["default"]
    assert policy.refund_path("bank_transfer") == policy.refund_paths["default"]


def test_excess_traffic_price(policy):
    assert policy.excess_traffic_price("HKD") == Money.of("8.00", "HKD")
    assert policy.excess_traffic_price("JPY") is None


def setting_errors(document: dict[str, Any]) -> list[tuple[str, str]]:
    """What a draft's 400 names (PUT /policy/drafts/{version}): each invalid setting, by its name."""
    try:
        Policy.model_validate(document)
    except ValidationError as error:
        return [(".".join(str(part) for part in problem["loc"]), problem["msg"]) for problem in error.errors()]
    return []


def without(field: str) -> dict[str, Any]:
    document = shipped()
    del document[field]
    return document


# Each document breaks one setting; a draft's 400 names it (PUT /policy/drafts/{version}).
INVALID_DOCUMENTS = [
    pytest.param(without("claimWindowDays"), "claimWindowDays", id="missing-claim-window"),
    pytest.param(without("version"), "version", id="missing-version"),
    pytest.param(without("excessTrafficPricePerGb"), "excessTrafficPricePerGb", id="missing-prices"),
    pytest.param(without("refundPaths"), "refundPaths", id="missing-refund-paths"),
    pytest.param(
        shipped() | {"excessTrafficPricePerGb": {"USD": "-1.00"}}, "excessTrafficPricePerGb", id="negative-price"
    ),
    pytest.param(
        shipped() | {"excessTrafficPricePerGb": {"USD": "NaN"}}, "excessTrafficPricePerGb.USD", id="nan-price"
    ),
    pytest.param(
        shipped() | {"excessTrafficPricePerGb": {"usd": "1.00"}}, "excessTrafficPricePerGb", id="bad-currency-code"
    ),
    pytest.param(
        shipped() | {"reminderWorkingDaysBeforeDeadline": 10},
        "reminderWorkingDaysBeforeDeadline",
        id="reminder-at-receipt",
    ),
    pytest.param(
        shipped() | {"reminderWorkingDaysBeforeDeadline": 11},
        "reminderWorkingDaysBeforeDeadline",
        id="reminder-before-receipt",
    ),
    pytest.param(
        shipped() | {"reminderWorkingDaysBeforeDeadline": -1},
        "reminderWorkingDaysBeforeDeadline",
        id="reminder-after-deadline",
    ),
    pytest.param(shipped() | {"reviewWorkingDays": 0}, "reviewWorkingDays", id="no-review-days"),
    pytest.param(shipped() | {"claimWindowDays": -1}, "claimWindowDays", id="negative-window"),
    pytest.param(shipped() | {"trafficLimitBytes": 0}, "trafficLimitBytes", id="zero-traffic-limit"),
    pytest.param(shipped() | {"bytesPerGb": 0}, "bytesPerGb", id="zero-bytes-per-gb"),
    pytest.param(shipped() | {"maxConnections": -1}, "maxConnections", id="negative-connections"),
    pytest.param(shipped() | {"holidayCategories": []}, "holidayCategories", id="no-holiday-categories"),
    pytest.param(
        shipped() | {"holidayCategories": ["statutory"]}, "holidayCategories.0", id="unknown-holiday-category"
    ),
    pytest.param(shipped() | {"refundPaths": {"card": "back to the card"}}, "refundPaths", id="no-default-refund-path"),
    pytest.param(shipped() | {"claimWindowDays": "thirty"}, "claimWindowDays", id="wrong-type"),
    pytest.param(shipped() | {"version": ""}, "version", id="empty-version"),
    pytest.param(shipped() | {"claimWindowDayz": 30}, "claimWindowDayz", id="misspelt-extra-field"),
    pytest.param(
        shipped() | {"automaticDecisions": {"fullRefund": True}},
        "automaticDecisions.refused",
        id="incomplete-automatic-decisions",
    ),
    pytest.param(shipped() | {"timeZone": "Asia/Kowloon"}, "timeZone", id="unknown-time-zone"),
    pytest.param(shipped() | {"newOrderKinds": "new"}, "newOrderKinds", id="kinds-not-a-list"),
    pytest.param(shipped() | {"violationBlockReasons": [1]}, "violationBlockReasons.0", id="block-reason-not-text"),
    pytest.param(
        shipped() | {"excludedPaymentChannels": ["apple_itunes", "crypto"]},
        "excludedChannelReasons",
        id="exclusion-without-reason",
    ),
    pytest.param(
        shipped() | {"excludedChannelReasons": {"apple_itunes": " "}},
        "excludedChannelReasons",
        id="empty-exclusion-reason",
    ),
    pytest.param(
        shipped() | {"cancelledClaimsCount": "sometimes"}, "cancelledClaimsCount", id="claims-count-not-boolean"
    ),
    pytest.param(shipped() | {"chargeElapsedTime": None}, "chargeElapsedTime", id="elapsed-time-null"),
    pytest.param(
        shipped() | {"filingLimits": {"perOrder": 0, "perCustomer": 5, "perCustomerDays": 30}},
        "filingLimits.perOrder",
        id="no-filings",
    ),
    pytest.param(shipped() | {"policyId": ""}, "policyId", id="empty-policy-id"),
    pytest.param(shipped() | {"version": "../x"}, "version", id="version-not-a-name"),
    pytest.param(shipped() | {"timeZone": "America"}, "timeZone", id="time-zone-a-folder"),
    pytest.param(shipped() | {"timeZone": "Asia/" + "x" * 300}, "timeZone", id="time-zone-too-long"),
    pytest.param(shipped() | {"reviewWorkingDays": 10_000}, "reviewWorkingDays", id="review-beyond-a-year"),
    pytest.param(shipped() | {"claimWindowDays": 10**9}, "claimWindowDays", id="window-beyond-dates"),
    pytest.param(
        shipped() | {"filingLimits": {"perOrder": 3, "perCustomer": 5, "perCustomerDays": 10**6}},
        "filingLimits.perCustomerDays",
        id="filing-period-beyond-dates",
    ),
    pytest.param(
        shipped() | {"excessTrafficPricePerGb": {"USD": "1e12"}}, "excessTrafficPricePerGb", id="price-absurd"
    ),
]


@pytest.mark.parametrize(("document", "setting"), INVALID_DOCUMENTS)
def test_an_invalid_document_is_rejected_on_load_naming_the_setting(document, setting):
    with pytest.raises(ValidationError):
        parse_policy(json.dumps(document))
    named = [name for name, _ in setting_errors(document)]
    assert setting in named
    assert {name.split(".")[0] for name in named} == {setting.split(".")[0]}


def test_every_invalid_setting_of_a_draft_is_named_at_once():
    document = shipped() | {"claimWindowDays": -1, "maxConnections": "many", "refundPaths": {}, "colour": "red"}
    named = {name for name, _ in setting_errors(document)}
    assert named == {"claimWindowDays", "maxConnections", "refundPaths", "colour"}


def test_the_shipped_document_has_no_invalid_setting():
    assert setting_errors(shipped()) == []


def test_a_document_that_is_not_json_is_rejected():
    with pytest.raises(ValueError, match="Expecting"):
        parse_policy("{not json")


def test_a_price_of_zero_is_allowed():
    assert modified(excessTrafficPricePerGb={"USD": "0"}).excess_traffic_price("USD") == Money.of(Decimal(0), "USD")


def test_the_same_document_is_the_same_json_whatever_order_its_sets_hold() -> None:
    """A set's order differs between processes (hash seeds): a stored draft is compared as JSON when published."""
    one = modified(newOrderKinds=["renewal", "new", "upgrade"], excludedPaymentChannels=["apple_itunes"])
    other = modified(newOrderKinds=["upgrade", "new", "renewal"], excludedPaymentChannels=["apple_itunes"])
    assert one.model_dump_json() == other.model_dump_json()
    assert json.loads(one.model_dump_json(by_alias=True))["newOrderKinds"] == ["new", "renewal", "upgrade"]
