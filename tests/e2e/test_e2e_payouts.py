"""Payouts over HTTP against `refund-local serve` (PAYOUTS.md "Locally"): the runner starts localstripe as the
card processor and gives the seed's card orders payments there; an approval turns into SENT (the refund's
reference shown) and then PAID, and the customer gets the refund's email in their language."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from e2e_support import Server, customer, invocations, order, running_server, ticket

from refund_local.events import claims_for
from refund_local.tokens import make_token

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-payouts")]

SEED: dict[str, Any] = {
    "customers": [customer("pia"), customer("wing", language="zh-HK", name="陳詠")],
    "orders": [
        order("PIA-40", "pia", days_ago=40, amount="99.00"),
        order("WING-40", "wing", days_ago=40, amount="99.00"),
    ],
    "tickets": [ticket("T-pia", "pia"), ticket("T-wing", "wing")],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # The reconciler every 2 s: it asks localstripe about payouts sent 5 s ago without news (an hour, deployed).
    with running_server(tmp_path_factory.mktemp("payouts"), SEED, "--schedules-every-seconds", "2") as running:
        yield running


def until(found: Callable[[], Any], timeout: float = 30) -> Any:
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if value := found():
            return value
        time.sleep(0.2)
    return found()


@pytest.mark.parametrize(
    ("username", "order_id", "ticket_id", "sent_subject", "words"),
    [
        ("pia", "PIA-40", "T-pia", "Your refund for order PIA-40 has been sent", "US$88.15"),
        ("wing", "WING-40", "T-wing", "您就訂單 WING-40 的退款已發出", "US$88.15"),
    ],
)
def test_an_approval_is_sent_then_paid_and_the_customer_told_in_their_language(
    server: Server, username: str, order_id: str, ticket_id: str, sent_subject: str, words: str
) -> None:
    filed = server.submit(username, order_id, ticket_id)
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["requestId"]
    approved = server.evaluate(request_id, {"action": "approve", "amount": "88.15"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["payout"]["state"] == "SCHEDULED"

    def payout(state: str) -> dict[str, Any] | None:
        shown: dict[str, Any] = server.read(request_id, user=username).json()["payout"]
        return shown if shown["state"] == state else None

    sent = until(lambda: payout("SENT") or payout("PAID"))
    assert sent and sent["reference"].startswith("re_"), sent
    paid = until(lambda: payout("PAID"))
    assert paid and paid["paidAt"] and paid["reference"] == sent["reference"]
    (email,) = server.wait_for_emails(lambda message: message["subject"] == sent_subject, timeout=40)
    assert sent["reference"] in email["text"] and words in email["text"]
    decision_at = next(index for index, message in enumerate(server.outbox()) if request_id in message["text"]
                       and "88.15" in message["text"] and message["subject"] != sent_subject)  # fmt: skip
    assert decision_at < server.outbox().index(email), "the decision's email first, then the refund's"


def test_finance_lists_the_payouts_and_a_forged_webhook_is_refused(server: Server) -> None:
    finance = {"Authorization": "Bearer " + make_token(claims_for("fin", finance=True))}
    listed = server.session.get(server.base + "/payouts?state=PAID", headers=finance, timeout=30)
    assert listed.status_code == 200
    # The webhook is registered for the refunds' events only, as deployed: localstripe's events about the seed's
    # payments (and the payouts' charges) never reached the service.
    assert [call for call in invocations(server.log_path.read_text()) if call.function == "WebhooksFunction"] == []
    forged = server.session.post(
        server.base + "/webhooks/stripe",
        data=b'{"type": "refund.updated", "data": {"object": {"object": "refund"}}}',
        headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"},
        timeout=30,
    )
    assert forged.status_code == 400 and forged.json()["errors"][0]["field"] == "Stripe-Signature"
