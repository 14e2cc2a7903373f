"""Payouts (PAYOUTS.md) through the handlers on moto, with localstripe, a stateful fake of Stripe's API, as the
card processor (the tests count the refunds it holds): an approval is sent and paid, never twice whatever
times out or comes again, never lost while Stripe is down, moved by Stripe's signed webhooks only, by
billing's answers in any order, and by finance; the finance CSV adds up to the service levels' refunded."""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
import stripe
from api_support import call, deliver_all, owed_items, record_event, seed_order, sent_emails
from botocore.exceptions import ClientError

from refund_core.adapters import owed_effects, requests_table, stripe_refunds
from refund_core.adapters import payouts as payouts_table
from refund_core.adapters.records import Effect
from refund_core.app import claims, outbox, payouts, review, service
from refund_core.app.inputs import ApproveCommand, SubmitRefundRequest
from refund_core.http.identity import caller_from_claims
from refund_core.settings import settings
from refund_local.environment import REGION
from refund_local.events import api_event, claims_for
from refund_local.processor import API_KEY, SIGNING_SECRET, make_payment, running_processor, use_processor
from refund_local.stack import LocalAws

RITA = claims_for("rita", reviewer=True)
SUE = claims_for("sue", supervisor=True)
FIN = claims_for("fin", finance=True)
# make test repeats the timeout story this many times; make verify, 200 (PAYOUTS.md "Never twice").
REPETITIONS = int(os.environ.get("PAYOUT_REPETITIONS", "20"))


@pytest.fixture(scope="session")
def localstripe() -> Iterator[str]:
    with running_processor() as base:
        yield base


@pytest.fixture
def processor(stack: LocalAws, localstripe: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The service pointed at localstripe, as refund-local serve points it."""
    for name, value in use_processor(boto3.client("secretsmanager", region_name=REGION), localstripe).items():
        monkeypatch.setenv(name, value)
    settings.cache_clear()
    return localstripe


def stripe_client(base: str) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": base}, max_network_retries=0)


def refunds_at_processor(base: str, payment: str) -> list[dict[str, Any]]:
    listed = stripe_client(base).v1.refunds.list(params={"payment_intent": payment, "limit": 100})
    return [refund.to_dict() for refund in listed.data]


def approved_card_claim(base: str, username: str, *, amount: str = "100.00", approve: str = "88.15") -> tuple[str, str]:
    """A card order paid at localstripe, a claim on it 40 days on (a partial refund, pending), approved by a
    reviewer: the request's id and the payment's."""
    payment = make_payment(base, int(Decimal(amount) * 100), "USD")
    seed_order(f"ord-{username}", username, amount=amount, payment_reference=payment)
    filed = claims.submit_refund_request(
        caller_from_claims(claims_for(username)),
        SubmitRefundRequest(order_id=f"ord-{username}", reason="It drops.", support_ticket_id=f"T-ord-{username}"),
    )
    review.evaluate_refund_request(
        caller_from_claims(RITA), filed.request_id, ApproveCommand(action="approve", amount=approve)
    )
    return filed.request_id, payment


def payout_of(request_id: str) -> dict[str, Any]:
    payout = payouts_table.get_payout(request_id)
    assert payout is not None
    return payout.model_dump(mode="json", by_alias=True)


def history_events(request_id: str) -> list[str]:
    request = service.repository.get_request(request_id)
    assert request is not None
    return [entry.event for entry in request.history]


def later(hours: float) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


# ---- sent, then paid --------------------------------------------------------------------------------------


def test_an_approval_is_refunded_once_at_the_processor_then_paid_and_the_customer_told(processor: str) -> None:
    request_id, payment = approved_card_claim(processor, "amy")
    assert payout_of(request_id)["state"] == "SCHEDULED"
    deliver_all()
    (refund,) = refunds_at_processor(processor, payment)
    assert (refund["amount"], refund["currency"], refund["metadata"]["requestId"]) == (8815, "usd", request_id)
    sent = payout_of(request_id)
    assert (sent["state"], sent["reference"]) == ("SENT", refund["id"])
    # No webhook came (localstripe sends none for refunds): an hour on, the processor is asked.
    outbox.reconcile(now=later(1.5))
    paid = payout_of(request_id)
    assert paid["state"] == "PAID" and paid["paidAt"]
    assert history_events(request_id)[-2:] == ["refund sent", "refund paid"]
    deliver_all()
    deliver_what_waited()  # the refund's email waited for the decision's: the customer hears in that order
    subjects = sorted(email.subject for email in sent_emails() if email.to == ("amy@example.com",))
    assert "Your refund for order ord-amy has been sent" in subjects
    (email,) = [email for email in sent_emails() if "has been sent" in email.subject]
    assert refund["id"] in email.text and "US$88.15" in email.text


def test_the_customer_sees_where_the_money_is_without_the_processors_details(processor: str) -> None:
    request_id, _ = approved_card_claim(processor, "bea")
    deliver_all()
    path = f"/refund-requests/{request_id}"

    def read(claims: dict[str, str]) -> dict[str, Any]:
        event = api_event("GET", "/refund-requests/{requestId}", path, path_parameters={"requestId": request_id},
                          claims=claims)  # fmt: skip
        shown: dict[str, Any] = call(event).json["payout"]
        return shown

    payout = read(claims_for("bea"))
    assert payout["state"] == "SENT" and payout["reference"].startswith("re_")
    assert not {"route", "paymentReference", "sending"} & set(payout)
    staff = read(RITA)
    assert staff["route"] == "processor" and staff["paymentReference"].startswith("pi_")


# ---- never twice -----------------------------------------------------------------------------------------


def a_timeout_after_the_processor_took_it(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The first POST /v1/refunds of each payout reaches localstripe, which makes the refund, and its answer is
    lost: the SDK reports a timeout. Counts the refunds asked for."""
    original = stripe.RequestsClient.request
    asked: Counter[str] = Counter()

    def request(self: Any, method: str, url: str, headers: Any, post_data: Any = None) -> Any:
        answer = original(self, method, url, headers, post_data)
        if method == "post" and url.endswith("/v1/refunds"):
            key = dict(headers or {}).get("Idempotency-Key", "")
            asked[key] += 1
            if asked[key] == 1:
                raise stripe.APIConnectionError("Request timed out after it was sent")
        return answer

    monkeypatch.setattr(stripe.RequestsClient, "request", request)
    return asked


def test_the_hourly_look_at_sent_payouts_goes_on_past_one_that_keeps_changing(
    processor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No webhook came for two payouts sent; the first keeps losing its write to other changes: the second is
    still asked about and paid, and the reconciler's run ends."""
    (first, _), (second, _) = (approved_card_claim(processor, name) for name in ("kit", "kay"))
    deliver_all()
    record_change = payouts_table.record_change

    def losing_for_the_first(read: Any, *args: Any, **kwargs: Any) -> bool:
        return False if read.request_id == first else record_change(read, *args, **kwargs)

    monkeypatch.setattr(payouts_table, "record_change", losing_for_the_first)
    outbox.reconcile(now=later(2))
    assert (payout_of(first)["state"], payout_of(second)["state"]) == ("SENT", "PAID")


def test_the_hourly_look_asks_about_the_processors_payouts_however_many_of_billings_wait_before_them(
    processor: str,
) -> None:
    """Billing's payouts wait days in SENT for billing's news; they take no place among those the processor is
    asked about."""
    at = datetime.now(UTC).isoformat()
    for name in ("pam", "pat", "pip"):
        request_id = approved_paypal_claim(name)
        deliver_all()
        assert record_event("PayoutSent", {"requestId": request_id, "reference": f"PP-{name}", "sentAt": at})
    card, _ = approved_card_claim(processor, "cid")
    deliver_all()
    assert payout_of(card)["state"] == "SENT"
    assert payouts.check_sent_payouts(now=later(2), most=1) == 1
    assert payout_of(card)["state"] == "PAID"


def test_a_refund_whose_answer_timed_out_is_found_not_sent_again(
    processor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PAYOUTS.md "Never twice", REPETITIONS times: the refund's answer lost, the delivery tried again (its
    backoff run out), the queue's message delivered twice more, the processor's webhook replayed: one refund
    at localstripe, the payout sent once and paid once."""
    asked = a_timeout_after_the_processor_took_it(monkeypatch)
    for number in range(REPETITIONS):
        request_id, payment = approved_card_claim(processor, f"tim{number}")
        # The first try: the refund made, its answer lost; the payout waits its backoff.
        assert outbox.deliver(request_id, Effect.PAYOUT).outcome == "failed"
        assert payout_of(request_id)["state"] == "SCHEDULED"
        for _ in range(3):  # its retry once the backoff ran out, then the same message delivered twice more
            outbox.deliver(request_id, Effect.PAYOUT, now=later(1))
        (refund,) = refunds_at_processor(processor, payment)
        for _ in range(2):  # Stripe's webhook, then the same one again
            answer = webhook(refund_event(refund | {"status": "succeeded"}))
            assert answer.status == 200, answer.json
        payout = payout_of(request_id)
        assert (payout["state"], payout["reference"], payout["sending"]) == ("PAID", refund["id"], 1)
        events = history_events(request_id)
        assert events.count("refund sent") == 1 and events.count("refund paid") == 1
        assert owed_items(request_id)[str(Effect.PAYOUT)]["state"] == "DONE"
    assert set(asked.values()) == {1}, "after the timeout, nothing was sent again: the processor was asked"


def test_stripe_down_for_thirty_hours_then_every_payout_sent_once(
    processor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The clock injected: every 10 minutes of 30 hours the reconciler runs and the deliveries are tried, the
    processor unreachable; then it answers: each payout sent once, none lost."""
    claims = [approved_card_claim(processor, name) for name in ("dan", "dee", "dot")]
    original = stripe.RequestsClient.request

    def unreachable(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise stripe.APIConnectionError("Connection refused")

    sqs = boto3.client("sqs", region_name=REGION)

    def deliveries_at(moment: datetime) -> None:
        while messages := sqs.receive_message(QueueUrl=settings().delivery_queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                body = json.loads(message["Body"])
                outbox.deliver(body["requestId"], Effect(body["effect"]), now=moment)
                sqs.delete_message(QueueUrl=settings().delivery_queue_url, ReceiptHandle=message["ReceiptHandle"])

    from api_support import notifier_records, table_stream_records  # noqa: PLC0415

    from refund_local.handlers import invoke  # noqa: PLC0415

    invoke("functions/notifier/", {"Records": notifier_records(table_stream_records())})
    monkeypatch.setattr(stripe.RequestsClient, "request", unreachable)
    moment = datetime.now(UTC)
    while moment < datetime.now(UTC) + timedelta(hours=30):
        outbox.reconcile(now=moment)
        deliveries_at(moment)
        moment += timedelta(minutes=10)
    assert {payout_of(request_id)["state"] for request_id, _ in claims} == {"SCHEDULED"}
    monkeypatch.setattr(stripe.RequestsClient, "request", original)
    for _ in range(7):  # back: within the hour each one goes
        outbox.reconcile(now=moment)
        deliveries_at(moment)
        moment += timedelta(minutes=10)
    for request_id, payment in claims:
        assert payout_of(request_id)["state"] in {"SENT", "PAID"}  # PAID once an hour passed with no news
        assert len(refunds_at_processor(processor, payment)) == 1


# ---- the processor's webhooks --------------------------------------------------------------------------------


def refund_event(refund: dict[str, Any], kind: str = "refund.updated", **extra: Any) -> dict[str, Any]:
    return {"id": f"evt_{uuid.uuid4().hex[:14]}", "object": "event", "type": kind, "created": int(time.time()),
            "livemode": False, "data": {"object": refund}, **extra}  # fmt: skip


def signed(payload: bytes, at: int | None = None, secret: str = SIGNING_SECRET) -> str:
    """Stripe's signature scheme (t=..., v1=HMAC-SHA256 of "t.payload" with the endpoint's signing secret)."""
    moment = at or int(time.time())
    mac = hmac.new(secret.encode(), f"{moment}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={moment},v1={mac}"


def webhook(event: dict[str, Any], signature: str | None = None) -> Any:
    payload = json.dumps(event).encode()
    headers = {"Stripe-Signature": signature if signature is not None else signed(payload)}
    return call(api_event("POST", "/webhooks/stripe", "/webhooks/stripe", body=payload.decode(), headers=headers))


@pytest.mark.parametrize(
    "forgery",
    ["a wrong secret", "no signature", "an old timestamp", "another account's event", "a payload changed"],
)
def test_a_forged_webhook_is_400_and_changes_nothing(processor: str, forgery: str) -> None:
    request_id, payment = approved_card_claim(processor, "fay")
    deliver_all()
    (refund,) = refunds_at_processor(processor, payment)
    event = refund_event(refund | {"status": "succeeded"})
    payload = json.dumps(event).encode()
    signature = {
        "a wrong secret": signed(payload, secret="whsec_someone_else"),
        "no signature": "",
        "an old timestamp": signed(payload, at=int(time.time()) - 600),
        "another account's event": None,
        "a payload changed": signed(payload.replace(b"succeeded", b"pending")),
    }[forgery]
    if forgery == "another account's event":
        event |= {"account": "acct_someone_else"}
    before = payout_of(request_id)
    answer = webhook(event, signature)
    assert answer.status == 400, answer.json
    assert payout_of(request_id) == before


def the_processor_says_it_failed(monkeypatch: pytest.MonkeyPatch, refund_id: str) -> None:
    """localstripe's refunds all succeed: the refund `refund_id` as Stripe shows one that failed later, in every
    answer that holds it."""
    original = stripe.RequestsClient.request

    def failed(refund: dict[str, Any]) -> dict[str, Any]:
        if refund.get("id") != refund_id:
            return refund
        return refund | {"status": "failed", "failure_reason": "expired_or_canceled_card"}

    def request(self: Any, method: str, url: str, headers: Any, post_data: Any = None) -> Any:
        content, status, answer_headers = original(self, method, url, headers, post_data)
        if method == "get" and "/v1/refunds" in url:
            body = json.loads(content)
            body = body | {"data": [failed(item) for item in body["data"]]} if "data" in body else failed(body)
            content = json.dumps(body)
        return content, status, answer_headers

    monkeypatch.setattr(stripe.RequestsClient, "request", request)


def act_on_payout(request_id: str, body: dict[str, Any], claims: dict[str, str] = FIN) -> Any:
    """`POST /payouts/{requestId}`, by finance unless `claims` say who else."""
    path = f"/payouts/{request_id}"
    return call(api_event("POST", "/payouts/{requestId}", path, path_parameters={"requestId": request_id},
                          body=body, claims=claims))  # fmt: skip


def test_a_webhook_says_a_refund_failed_and_finance_sends_it_again(
    processor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id, payment = approved_card_claim(processor, "gus")
    deliver_all()
    (refund,) = refunds_at_processor(processor, payment)
    the_processor_says_it_failed(monkeypatch, refund["id"])
    failed = refund | {"status": "failed", "failure_reason": "expired_or_canceled_card"}
    assert webhook(refund_event(failed, "refund.failed")).json == {"received": True, "outcome": "applied"}
    payout = payout_of(request_id)
    assert (payout["state"], payout["failureReason"]) == ("FAILED", "expired_or_canceled_card")
    deliver_all()
    deliver_what_waited()
    (told,) = [email for email in sent_emails() if "could not send" in email.subject]
    assert "the card you paid with has expired or been cancelled" in told.text
    retried = act_on_payout(request_id, {"action": "retry"})
    assert retried.status == 200, retried.json
    assert (retried.json["state"], retried.json["sending"]) == ("SCHEDULED", 2)
    deliver_queued_and_owed()
    assert len(refunds_at_processor(processor, payment)) == 2  # the second sending, with its own key
    assert payout_of(request_id)["state"] == "SENT"
    assert "fin" in {entry.by for entry in service.repository.get_request(request_id).history}  # type: ignore[union-attr]


def test_news_of_the_failed_sending_after_finance_sent_it_again_is_old_news(
    processor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stripe tells of one failure in several events, and sends them again: those that come after finance's retry
    are about the first sending's refund, not the second's."""
    request_id, payment = approved_card_claim(processor, "vic")
    deliver_all()
    (refund,) = refunds_at_processor(processor, payment)
    the_processor_says_it_failed(monkeypatch, refund["id"])
    failed = refund | {"status": "failed", "failure_reason": "expired_or_canceled_card"}
    assert webhook(refund_event(failed, "refund.failed")).json["outcome"] == "applied"
    assert act_on_payout(request_id, {"action": "retry"}).status == 200
    for kind in ("charge.refund.updated", "refund.updated", "refund.failed"):
        assert webhook(refund_event(failed, kind)).json["outcome"] == "not ours"
    assert payout_of(request_id)["state"] == "SCHEDULED"
    deliver_queued_and_owed()
    second = next(item for item in refunds_at_processor(processor, payment) if item["id"] != refund["id"])
    payout = payout_of(request_id)
    assert (payout["state"], payout["reference"], payout["sending"]) == ("SENT", second["id"], 2)


def test_finance_taking_over_a_card_payout_whose_answer_was_lost_finds_the_refund_and_pays_nothing(
    processor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refund made and its answer lost in a timeout: finance, about to pay it by hand, is told the processor
    has it, and the payout shows it."""
    a_timeout_after_the_processor_took_it(monkeypatch)
    request_id, payment = approved_card_claim(processor, "uma")
    assert outbox.deliver(request_id, Effect.PAYOUT).outcome == "failed"
    refused = act_on_payout(request_id, {"action": "toFinance", "note": "Stripe timed out"})
    assert (refused.status, refused.json["code"]) == (409, "sent_meanwhile"), refused.json
    (refund,) = refunds_at_processor(processor, payment)
    payout = payout_of(request_id)
    # localstripe's refunds succeed at once: the refund found is paid.
    assert (payout["state"], payout["reference"], payout["route"]) == ("PAID", refund["id"], "processor")
    outbox.deliver(request_id, Effect.PAYOUT, now=later(1))  # its next attempt: paid already, nothing to send
    assert len(refunds_at_processor(processor, payment)) == 1


def test_a_refund_made_while_finance_took_the_payout_over_is_found_when_it_is_sent_again(
    processor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refund made and its answer lost, and the processor's list not yet showing it when finance asked (the
    same moment): finance then sends the payout again through the processor, and the new sending finds the first
    one's refund and pays nothing more."""
    a_timeout_after_the_processor_took_it(monkeypatch)
    request_id, payment = approved_card_claim(processor, "una")
    assert outbox.deliver(request_id, Effect.PAYOUT).outcome == "failed"
    monkeypatch.setattr(stripe_refunds, "refund_taken", lambda reference, request: None)  # not listed yet
    assert act_on_payout(request_id, {"action": "toFinance", "note": "Stripe timed out"}).status == 200
    outbox.deliver(request_id, Effect.PAYOUT, now=later(1))  # its next attempt: with finance now, nothing to send
    retried = act_on_payout(request_id, {"action": "retry"})
    assert retried.status == 200, retried.json
    deliver_queued_and_owed()
    (refund,) = refunds_at_processor(processor, payment)
    payout = payout_of(request_id)
    assert (payout["state"], payout["reference"], payout["sending"]) == ("SENT", refund["id"], 2)


def test_finance_cannot_take_over_a_card_payout_while_its_refund_is_being_made(processor: str) -> None:
    """The outbox holds the payout's sending (its call to Stripe under way): a takeover then would not see the
    refund about to be made, so it waits until that delivery is over."""
    request_id, payment = approved_card_claim(processor, "uwe")
    taken = owed_effects.take_effect(request_id, Effect.PAYOUT, datetime.now(UTC), 60)
    assert taken is not None
    busy = act_on_payout(request_id, {"action": "toFinance", "note": "Stripe is slow"})
    assert (busy.status, busy.json["code"]) == (409, "try_again"), busy.json
    assert payout_of(request_id)["state"] == "SCHEDULED"
    deliver_what_waited()  # its lease over, the reconciler owes the sending again: refunded
    (refund,) = refunds_at_processor(processor, payment)
    assert payout_of(request_id)["reference"] == refund["id"]


def test_a_card_payout_whose_last_delivery_died_holding_it_can_be_taken_over(processor: str) -> None:
    request_id, payment = approved_card_claim(processor, "uta")
    assert owed_effects.take_effect(request_id, Effect.PAYOUT, datetime.now(UTC) - timedelta(minutes=5), 60)
    taken = act_on_payout(request_id, {"action": "toFinance", "note": "The card is closed"})
    assert (taken.status, taken.json["state"]) == (200, "MANUAL"), taken.json
    assert refunds_at_processor(processor, payment) == []


def test_a_card_payout_not_yet_sent_is_finances_once_the_processor_says_it_has_no_refund_of_it(
    processor: str,
) -> None:
    request_id, payment = approved_card_claim(processor, "uli")
    paid = {"action": "markPaid", "reference": "HSBC-TT-7", "paidOn": hong_kong_today()}
    refused = act_on_payout(request_id, paid)
    assert (refused.status, refused.json["code"]) == (409, "with_processor"), refused.json
    taken = act_on_payout(request_id, {"action": "toFinance", "note": "The customer's card is closed"})
    assert (taken.status, taken.json["state"], taken.json["route"]) == (200, "MANUAL", "finance"), taken.json
    deliver_all()
    assert refunds_at_processor(processor, payment) == []
    assert act_on_payout(request_id, paid).json["state"] == "PAID"
    assert [event for event in history_events(request_id) if event.startswith("refund ")] == [
        "refund with finance", "refund paid"
    ]  # fmt: skip


def test_finance_cannot_take_over_a_card_payout_while_the_processor_cannot_say_whether_it_has_it(
    processor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id, _ = approved_card_claim(processor, "ule")
    original = stripe.RequestsClient.request

    def down(self: Any, method: str, url: str, headers: Any, post_data: Any = None) -> Any:
        if "/v1/refunds" in url:
            raise stripe.APIConnectionError("Could not connect")
        return original(self, method, url, headers, post_data)

    monkeypatch.setattr(stripe.RequestsClient, "request", down)
    busy = act_on_payout(request_id, {"action": "toFinance", "note": "Stripe is down"})
    assert (busy.status, busy.json["code"]) == (503, "busy"), busy.json
    assert payout_of(request_id)["state"] == "SCHEDULED"
    assert "refund with finance" not in history_events(request_id)


@pytest.mark.parametrize("secret", [None, "apiKey=sk_test_1"], ids=["gone", "not JSON"])
def test_finance_cannot_take_over_a_card_payout_while_the_processors_secret_cannot_be_read(
    processor: str, monkeypatch: pytest.MonkeyPatch, secret: str | None
) -> None:
    request_id, _ = approved_card_claim(processor, "ush")
    name = f"refunds/stripe-{uuid.uuid4().hex}"
    if secret is not None:
        boto3.client("secretsmanager", region_name=REGION).create_secret(Name=name, SecretString=secret)
    monkeypatch.setenv("STRIPE_SECRET_NAME", name)
    settings.cache_clear()
    stripe_refunds.reset()
    busy = act_on_payout(request_id, {"action": "toFinance", "note": "Stripe is down"})
    assert (busy.status, busy.json["code"]) == (503, "busy"), busy.json
    assert outbox.deliver(request_id, Effect.PAYOUT).outcome == "failed"  # tried again later, nothing lost
    assert payout_of(request_id)["state"] == "SCHEDULED"


def test_a_payout_with_finance_from_the_start_is_sent_through_its_route_once_billing_names_the_payment(
    processor: str,
) -> None:
    seed_order("ord-ira", "ira")  # billing has not sent the payment's reference yet
    filed = claims.submit_refund_request(
        caller_from_claims(claims_for("ira")),
        SubmitRefundRequest(order_id="ord-ira", reason="It drops.", support_ticket_id="T-ord-ira"),
    )
    review.evaluate_refund_request(caller_from_claims(RITA), filed.request_id, ApproveCommand(action="approve"))
    assert payout_of(filed.request_id)["state"] == "MANUAL"
    payment = make_payment(processor, 10000, "USD")
    seed_order("ord-ira", "ira", payment_reference=payment)  # billing's correction
    retried = act_on_payout(filed.request_id, {"action": "retry"})
    assert retried.status == 200, retried.json
    deliver_queued_and_owed()
    (refund,) = refunds_at_processor(processor, payment)
    payout = payout_of(filed.request_id)
    assert (payout["state"], payout["reference"]) == ("SENT", refund["id"])


def deliver_what_waited() -> None:
    """What the queue delays (a payout's email after its decision's), as the reconciler finds it owed later."""
    from api_support import deliver_queued  # noqa: PLC0415

    outbox.reconcile(now=later(1))
    deliver_queued()


def deliver_queued_and_owed() -> None:
    from api_support import deliver_queued  # noqa: PLC0415

    deliver_queued()


# ---- billing ----------------------------------------------------------------------------------------------


def approved_paypal_claim(username: str) -> str:
    seed_order(f"ord-{username}", username, channel="paypal", payment_reference=f"CAPTURE-{username}")
    filed = claims.submit_refund_request(
        caller_from_claims(claims_for(username)),
        SubmitRefundRequest(order_id=f"ord-{username}", reason="It drops.", support_ticket_id=f"T-ord-{username}"),
    )
    review.evaluate_refund_request(
        caller_from_claims(RITA), filed.request_id, ApproveCommand(action="approve", amount="10.00")
    )
    return filed.request_id


def test_billing_is_asked_and_its_answers_out_of_order_end_paid(stack: LocalAws) -> None:
    request_id = approved_paypal_claim("pam")
    deliver_all()
    assert "refund requested from billing" in history_events(request_id)
    at = datetime.now(UTC).isoformat()
    assert record_event("PayoutPaid", {"requestId": request_id, "paidAt": at, "reference": "PP-9"})
    assert not record_event("PayoutSent", {"requestId": request_id, "reference": "PP-9", "sentAt": at})
    payout = payout_of(request_id)
    assert (payout["state"], payout["reference"]) == ("PAID", "PP-9")
    assert history_events(request_id).count("refund paid") == 1


def test_a_failure_billing_tells_again_after_finance_sent_the_payout_again_is_old_news(stack: LocalAws) -> None:
    """Billing echoes `PayoutRequested`'s sending: its failure of the first, replayed after finance's retry, changes
    nothing of the second."""
    request_id = approved_paypal_claim("pat")
    deliver_all()
    at = datetime.now(UTC).isoformat()
    failed = {"requestId": request_id, "reason": "The account is closed.", "failedAt": at, "sending": 1}
    assert record_event("PayoutFailed", failed)
    assert act_on_payout(request_id, {"action": "retry"}).status == 200
    assert not record_event("PayoutFailed", failed)
    assert payout_of(request_id)["state"] == "SCHEDULED"
    deliver_queued_and_owed()  # billing asked again
    assert record_event("PayoutSent", {"requestId": request_id, "reference": "PP-2", "sentAt": at, "sending": 2})
    payout = payout_of(request_id)
    assert (payout["state"], payout["reference"], payout["sending"]) == ("SENT", "PP-2", 2)


def test_billing_paying_the_sending_it_failed_after_finance_sent_it_again_is_paid_not_old_news(
    stack: LocalAws,
) -> None:
    """Billing failed the first sending, finance sent the payout again (sending 2), and billing then paid the
    first after all: that money has gone, and the payout says so."""
    request_id = approved_paypal_claim("pru")
    deliver_all()
    at = datetime.now(UTC).isoformat()
    assert record_event("PayoutFailed", {"requestId": request_id, "reason": "Held.", "failedAt": at, "sending": 1})
    assert act_on_payout(request_id, {"action": "retry"}).status == 200
    assert record_event("PayoutPaid", {"requestId": request_id, "paidAt": at, "reference": "PP-1", "sending": 1})
    payout = payout_of(request_id)
    assert (payout["state"], payout["reference"]) == ("PAID", "PP-1")


def test_a_payout_billing_was_asked_to_pay_stays_billings_until_billing_answers(stack: LocalAws) -> None:
    """Finance cannot take over, or pay by hand, what billing may be paying: billing's failure hands it over."""
    request_id = approved_paypal_claim("pia")
    deliver_all()
    paid = {"action": "markPaid", "reference": "HSBC-TT-8", "paidOn": hong_kong_today()}
    for body in ({"action": "toFinance", "note": "Billing is slow"}, paid):
        refused = act_on_payout(request_id, body)
        assert (refused.status, refused.json["code"]) == (409, "with_billing"), refused.json
    assert (payout_of(request_id)["state"], history_events(request_id)[-1]) == (
        "SCHEDULED", "refund requested from billing"
    )  # fmt: skip
    at = datetime.now(UTC).isoformat()
    assert record_event("PayoutFailed", {"requestId": request_id, "reason": "Closed.", "failedAt": at, "sending": 1})
    assert act_on_payout(request_id, {"action": "toFinance", "note": "The PayPal account is closed"}).status == 200
    assert act_on_payout(request_id, paid).json["state"] == "PAID"


def test_billing_news_of_a_payout_that_is_not_billings_is_refused(processor: str) -> None:
    from refund_core.errors import RecordEventRefused  # noqa: PLC0415

    request_id, _ = approved_card_claim(processor, "hal")
    with pytest.raises(RecordEventRefused):
        record_event("PayoutPaid", {"requestId": request_id, "paidAt": datetime.now(UTC).isoformat()})


def hong_kong_today() -> str:
    return datetime.now(ZoneInfo("Asia/Hong_Kong")).date().isoformat()


# ---- finance --------------------------------------------------------------------------------------------


def test_a_payout_without_a_payment_reference_is_finances_to_mark_paid(stack: LocalAws) -> None:
    seed_order("ord-ida", "ida")  # billing never sent the payment's reference
    filed = claims.submit_refund_request(
        caller_from_claims(claims_for("ida")),
        SubmitRefundRequest(order_id="ord-ida", reason="It drops.", support_ticket_id="T-ord-ida"),
    )
    review.evaluate_refund_request(caller_from_claims(RITA), filed.request_id, ApproveCommand(action="approve"))
    listed = call(api_event("GET", "/payouts", "/payouts", query={"state": ["MANUAL"]}, claims=FIN)).json["items"]
    assert [item["requestId"] for item in listed] == [filed.request_id]
    body = {"action": "markPaid", "reference": "HSBC-TT-1", "paidOn": hong_kong_today()}
    marked = act_on_payout(filed.request_id, body)
    assert marked.status == 200, marked.json
    assert (marked.json["state"], marked.json["reference"]) == ("PAID", "HSBC-TT-1")
    again = act_on_payout(filed.request_id, body)
    assert again.status == 409
    assert call(api_event("GET", "/payouts", "/payouts", claims=claims_for("ida"))).status == 403


def test_the_payouts_csv_adds_up_to_the_service_levels_refunded(stack: LocalAws) -> None:
    for name, amount in (("kim", "100.00"), ("lee", "59.99")):
        seed_order(f"ord-{name}", name, days_ago=5, amount=amount)  # clear full refunds: approved at once
    seed_order("ord-mo", "mo", days_ago=5, amount="500", currency="HKD")
    for name in ("kim", "lee", "mo"):
        claims.submit_refund_request(
            caller_from_claims(claims_for(name)),
            SubmitRefundRequest(order_id=f"ord-{name}", reason="It drops.", support_ticket_id=f"T-ord-{name}"),
        )
    approved_paypal_claim("ned")
    deliver_all()  # the service levels are counted on the stream
    # Today as the reports count days, in Hong Kong: from 16:00 UTC on, a day ahead of UTC's date.
    today = hong_kong_today()
    period = {"from": [today], "to": [today]}
    sla = call(api_event("GET", "/reports/sla", "/reports/sla", query=period, claims=SUE)).json
    exported = call(api_event("GET", "/reports/payouts.csv", "/reports/payouts.csv", query=period, claims=FIN))
    assert exported.status == 200
    rows = list(csv.DictReader(io.StringIO(exported.raw["body"])))
    totals: Counter[str] = Counter()
    for row in rows:
        totals[row["currency"]] += Decimal(row["approvedAmount"])  # type: ignore[assignment]
    assert {item["currency"]: Decimal(item["amount"]) for item in sla["refunded"]} == dict(totals)
    assert {row["state"] for row in rows} == {"MANUAL", "SCHEDULED"}
    assert all(row["receivedAt"].endswith("+08:00") and "." not in row["decidedAt"] for row in rows)  # HK, seconds


def test_nobody_but_finance_acts_on_a_payout(stack: LocalAws) -> None:
    request_id = approved_paypal_claim("ola")
    for who in (RITA, SUE, claims_for("ola")):
        assert act_on_payout(request_id, {"action": "toFinance", "note": "by hand"}, claims=who).status == 403
    assert payout_of(request_id)["state"] == "SCHEDULED"


def test_a_payout_is_written_once_per_request(stack: LocalAws) -> None:
    """The decision's transaction puts it on a condition: a second put for the same request fails whole."""
    request_id = approved_paypal_claim("pat")
    payout = payouts_table.get_payout(request_id)
    assert payout is not None
    with pytest.raises(ClientError):
        requests_table.transact([payouts_table.payout_put(payout)])
