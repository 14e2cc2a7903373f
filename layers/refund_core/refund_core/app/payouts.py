"""Payouts (PAYOUTS.md): every approval's money driven until it has left, and shown.

An approval writes its payout in the decision's own transaction, with what it owes: the payout's sending
(`payout#send`), an owed effect like the emails, so it is durable, retried with backoff, reconciled, never
lost. The delivery (refund_core.app.outbox) hands it here:
- the card processor: a refund against the order's payment, with the payout's idempotency key; a second
  attempt of one sending first asks the processor whether the first made it (an outcome nobody knows: a
  timeout) before it sends;
- billing: `PayoutRequested` on the bus, answered by billing's `PayoutSent`, `PayoutPaid` and `PayoutFailed`;
- finance (no route, no payment reference): nothing is sent, the finance team pays it by hand.
Every change of state is a conditional write on the payout (the version read) with its history entry, so a
replayed webhook or an answer out of order changes nothing; the processor's news comes by webhook, and
when none has come an hour after sending, by asking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from refund_core.adapters import customer_records, outbound, payouts, stripe_refunds
from refund_core.adapters.payouts import Done
from refund_core.adapters.records import Effect, OwedEffect, RequestRecord
from refund_core.adapters.stripe_refunds import ProcessorRefund, ProcessorRefused
from refund_core.errors import Conflict, InvalidInput, NotFound, RecordEventRefused, ServiceBusy
from refund_core.observability import count, count_by, logger
from refund_core.policy.document import Policy
from refund_core.policy.models import HistoryEntry
from refund_core.policy.money import Money
from refund_core.policy.payouts import (
    Payout,
    PayoutChange,
    PayoutNotAllowed,
    PayoutRoute,
    PayoutState,
    change,
    scheduled,
)
from refund_core.settings import settings

# Who a payout's history entries name: the service's own payout machinery, and the systems that pay.
PAYOUTS_ACTOR = "payouts"
PROCESSOR_ACTOR = "processor"
BILLING_ACTOR = "billing"
PAYOUT_REQUESTED = "PayoutRequested"
# The processor's events that carry news of a refund (data.object is the refund).
REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"})
CHANGE_TRIES = 3


def _now() -> datetime:
    return datetime.now(UTC)


# ---- the payout of an approval ------------------------------------------------------------------------------


def payout_of_approval(request: RequestRecord, amount: Money, policy: Policy, at: datetime) -> Payout:
    """The payout an approval owes: against the payment the facts of its last assessment name."""
    order = request.facts.order if request.facts else None
    return scheduled(
        request_id=request.request_id,
        order_id=request.order_id,
        username=request.username,
        amount=amount,
        payment_channel=request.payment_channel,
        payment_reference=order.payment_reference if order else None,
        policy=policy,
        at=at,
    )


def owed_by(payout: Payout) -> tuple[Effect, ...]:
    """A payout with a route is sent; one with finance from the start waits for them."""
    return (Effect.PAYOUT,) if payout.state is PayoutState.SCHEDULED else ()


def _entry(at: datetime, event: str, by: str, detail: str | None = None) -> HistoryEntry:
    return HistoryEntry(at=at, event=event, by=by, detail=detail)


def emails_of(read: Payout, changed: Payout) -> tuple[Effect, ...]:
    """The customer hears once that the refund was sent, and once that it could not be."""
    if changed.state is PayoutState.SENT and read.sent_at is None:
        return (Effect.PAYOUT_SENT,)
    if changed.state is PayoutState.PAID and read.sent_at is None:
        return (Effect.PAYOUT_SENT,)
    if changed.state is PayoutState.FAILED and read.failed_at is None:
        return (Effect.PAYOUT_FAILED,)
    return ()


def history_of(changed: Payout, by: str, detail: str | None) -> HistoryEntry:
    words = {
        PayoutState.SENT: "refund sent",
        PayoutState.PAID: "refund paid",
        PayoutState.FAILED: "refund failed",
        PayoutState.MANUAL: "refund with finance",
        PayoutState.SCHEDULED: "refund to be sent again",
    }
    return _entry(changed.state_since, words[changed.state], by, detail)


# ---- sending -------------------------------------------------------------------------------------------------


def send(owed: OwedEffect, at: datetime) -> str:
    """One attempt at the payout's sending, its delivery held (`owed`): the refund made (or billing asked), the
    payout's change recorded with the delivery done; what it says of itself. Raises ProcessorUnavailable (or
    an AWS error) when it must be tried again later: the delivery then waits its backoff."""
    payout = payouts.get_payout(owed.request_id)
    if payout is None or payout.state is not PayoutState.SCHEDULED:
        payouts.record_delivery_done(Done(owed, "nothing to send", at))
        return "nothing to send"
    if payout.route is PayoutRoute.BILLING:
        detail = {
            "requestId": payout.request_id,
            "orderId": payout.order_id,
            "username": payout.username,
            "amount": payout.amount.model_dump(mode="json"),
            "channel": payout.payment_channel,
            "paymentReference": payout.payment_reference,
            "sending": payout.sending,
        }
        event_id = outbound.publish_event(PAYOUT_REQUESTED, detail)
        entry = _entry(at, "refund requested from billing", PAYOUTS_ACTOR, event_id)
        payouts.record_delivery_done(Done(owed, event_id, at), entry)
        count(f"{PAYOUT_REQUESTED}Published")
        return "requested from billing"
    reference = payout.payment_reference or current_reference(payout)
    if payout.route is PayoutRoute.FINANCE or not reference:
        return _hand_to_finance(payout, owed, at, "the order has no payment reference to refund against")
    try:
        # A second attempt of the same sending: the first may have made the refund and never said so; and a new
        # sending (a retry) asks whether an earlier one's money went after all.
        asks_first = owed.attempts > 1 or payout.sending > 1
        made = stripe_refunds.find_refund(reference, payout.request_id, payout.sending) if asks_first else None
        refund = made or stripe_refunds.create_refund(
            reference, payout.amount, payout.request_id, payout.sending, payout.idempotency_key
        )
    except ProcessorRefused as refused:
        failed = change(payout, PayoutChange.FAILED, at, reason=str(refused)[:500])
        _record(payout, failed, PROCESSOR_ACTOR, str(refused)[:200], done=Done(owed, "refused", at))
        count("PayoutsFailed")
        return "refused"
    if made:
        count("PayoutsFoundAfterUnknownOutcome")
    return _after_sending(payout.model_copy(update={"payment_reference": reference}), refund, owed, at)


def refund_already_made(payout: Payout, at: datetime) -> ProcessorRefund | None:
    """Before finance takes over a processor's payout still to be sent: the refund the processor took for it (an
    answer lost in a timeout, an earlier sending's), recorded on the payout, if there is one. ServiceBusy when
    the processor cannot say: finance waits rather than pay what may have gone."""
    reference = payout.payment_reference or current_reference(payout)
    if not reference:
        return None
    try:
        made = stripe_refunds.refund_taken(reference, payout.request_id)
    except stripe_refunds.ProcessorUnavailable as unavailable:
        raise ServiceBusy("the card processor cannot say now whether it has taken this refund; try again later") from (
            unavailable
        )
    except ProcessorRefused:  # not a payment the processor refunds: nothing of it can have gone
        return None
    if made is None:
        return None
    count("PayoutsFoundAfterUnknownOutcome")
    _apply_refund(payout.request_id, made, at)
    return made


def current_reference(payout: Payout) -> str | None:
    """Billing may have sent the payment's reference after the claim was assessed: the order as it is now."""
    order = customer_records.order(payout.order_id)
    return order.payment_reference if order and order.username == payout.username else None


def _hand_to_finance(payout: Payout, owed: OwedEffect, at: datetime, why: str) -> str:
    manual = change(payout, PayoutChange.TO_FINANCE, at, note=why)
    _record(payout, manual, PAYOUTS_ACTOR, why, done=Done(owed, "to finance", at))
    count("PayoutsToFinance")
    return "to finance"


def _after_sending(payout: Payout, refund: ProcessorRefund, owed: OwedEffect, at: datetime) -> str:
    if refund.status in stripe_refunds.REFUSED:
        reason = refund.failure_reason or refund.status
        failed = change(payout, PayoutChange.FAILED, at, reference=refund.refund_id, reason=reason)
        _record(payout, failed, PROCESSOR_ACTOR, reason, done=Done(owed, refund.refund_id, at))
        count("PayoutsFailed")
        return "failed at the processor"
    sent = change(payout, PayoutChange.SENT, at, reference=refund.refund_id)
    _record(payout, sent, PROCESSOR_ACTOR, refund.refund_id, done=Done(owed, refund.refund_id, at))
    count("PayoutsSent")
    return "sent"


def _record(read: Payout, changed: Payout | None, by: str, detail: str | None, done: Done | None = None) -> None:
    """A change made on the payout as read; one that lost to another change (a webhook first) is left to it."""
    if changed is None:
        if done:
            payouts.record_delivery_done(done)
        return
    written = payouts.record_change(
        read, changed, [history_of(changed, by, detail)], owed=emails_of(read, changed), done=done
    )
    if not written:
        logger.info("a payout changed meanwhile; its change is left to what came first", request_id=read.request_id)
        count("PayoutChangesLost")
        if done:
            payouts.record_delivery_done(done)
    else:
        count_by("PayoutStates", changed.state)


# ---- news of a payout -------------------------------------------------------------------------------------


def _news(
    request_id: str,
    what: PayoutChange,
    at: datetime,
    by: str,
    *,
    reference: str | None = None,
    reason: str | None = None,
) -> bool:
    """Apply news of a payout (the processor's, billing's, finance's): True when it changed it, False when it
    had already happened (a replay, news out of order). PayoutNotAllowed when it never can; NotFound."""
    for _ in range(CHANGE_TRIES):
        payout = payouts.get_payout(request_id)
        if payout is None:
            raise NotFound(f"refund request {request_id} has no payout")
        changed = change(payout, what, at, reference=reference, reason=reason)
        if changed is None:
            count_by("PayoutNewsAlreadyKnown", what)
            return False
        detail = reason or reference
        if payouts.record_change(payout, changed, [history_of(changed, by, detail)], owed=emails_of(payout, changed)):
            count_by("PayoutStates", changed.state)
            return True
    raise Conflict(f"the payout of {request_id} kept changing; try again", code="try_again")


def _apply_refund(request_id: str, refund: ProcessorRefund, at: datetime) -> bool:
    if refund.status == stripe_refunds.PAID:
        return _news(request_id, PayoutChange.PAID, at, PROCESSOR_ACTOR, reference=refund.refund_id)
    if refund.status in stripe_refunds.REFUSED:
        reason = refund.failure_reason or refund.status
        return _news(request_id, PayoutChange.FAILED, at, PROCESSOR_ACTOR, reason=reason)
    return _news(request_id, PayoutChange.SENT, at, PROCESSOR_ACTOR, reference=refund.refund_id)


def _of_this_sending(payout: Payout, refund: dict[str, object]) -> bool:
    """News of the refund the payout knows, or, before it knows one, of a refund its current sending made: a
    refund of an earlier sending (failed, then sent again) is old news."""
    if payout.reference is not None:
        return payout.reference == refund["id"]
    metadata = refund.get("metadata")
    return isinstance(metadata, dict) and metadata.get("sending") == str(payout.sending)


def apply_processor_webhook(payload: bytes, signature: str | None, now: datetime | None = None) -> str:
    """Stripe's webhook (`POST /webhooks/stripe`): verified, then applied to the payout its refund names. Forged
    or replayed (bad signature, old timestamp) or another account's: InvalidInput (400), nothing changed. An
    event that is not news of one of our refunds is acknowledged and ignored."""
    try:
        event = stripe_refunds.verified_event(payload, signature)
    except stripe_refunds.ProcessorUnavailable as unavailable:  # no signing secret to verify with: Stripe retries
        logger.error("a webhook could not be verified", reason=str(unavailable))
        raise ServiceBusy("the webhook cannot be verified now; send it again later") from unavailable
    except stripe_refunds.WebhookRefused as refused:
        count("WebhookSignatureFailures")
        logger.warning("a webhook was refused", reason=str(refused))
        raise InvalidInput(str(refused), field="Stripe-Signature") from refused
    if event.get("account"):
        count("WebhookSignatureFailures")
        raise InvalidInput("an event of another Stripe account", field="account")
    refund = (event.get("data") or {}).get("object") or {}
    if event.get("type") not in REFUND_EVENTS or refund.get("object") != "refund":
        return "ignored"
    request_id = (refund.get("metadata") or {}).get("requestId")
    payout = payouts.get_payout(str(request_id)) if request_id else None
    if payout is None or payout.route is not PayoutRoute.PROCESSOR or not _of_this_sending(payout, refund):
        count("WebhooksNotOurs")
        return "not ours"
    try:
        changed = _apply_refund(payout.request_id, stripe_refunds.refund_from(refund), now or _now())
    except PayoutNotAllowed:
        count("WebhooksOutOfOrder")
        return "not applicable"
    return "applied" if changed else "already known"


def check_sent_payouts(now: datetime | None = None, most: int = 100) -> int:
    """The processor's payouts sent with no news for a while: asked about (the hourly look). How many changed."""
    at = now or _now()
    before = at - timedelta(seconds=settings().payout_check_after_seconds)
    changed = 0
    for payout in payouts.sent_through(PayoutRoute.PROCESSOR, before, most):
        if not payout.reference:
            continue
        try:
            refund = stripe_refunds.retrieve_refund(payout.reference)
            changed += _apply_refund(payout.request_id, refund, at)
        # One payout that cannot be checked now (the processor, or changes racing it) holds up none of the others.
        except (stripe_refunds.ProcessorUnavailable, ProcessorRefused, PayoutNotAllowed, Conflict, NotFound):
            logger.warning("a payout sent could not be checked", request_id=payout.request_id)
            count("PayoutChecksFailed")
    return changed


def oldest_unpaid_seconds(now: datetime | None = None) -> float:
    """How long the payout waiting longest (owed or sent, not yet paid) has waited: what the alarm watches."""
    at = now or _now()
    oldest = [page.items[0].state_since for state in (PayoutState.SCHEDULED, PayoutState.SENT)
              if (page := payouts.payouts_in(state, None, 1)).items]  # fmt: skip
    return max(((at - since).total_seconds() for since in oldest), default=0.0)


def apply_billing_news(
    what: Literal["sent", "paid", "failed"],
    request_id: str,
    at: datetime,
    reference: str | None,
    reason: str | None,
    *,
    sending: int | None = None,
) -> bool:
    """Billing's `PayoutSent`, `PayoutPaid` or `PayoutFailed` (a records event): RecordEventRefused when there
    is no such payout of billing's, or it can never apply; False when already known (a replay, out of order, or
    the failure of another sending than the payout's)."""
    payout = payouts.get_payout(request_id)
    if payout is None or payout.route is not PayoutRoute.BILLING:
        raise RecordEventRefused(f"requestId: no payout of {request_id} is billing's to pay", field="requestId")
    if what == "failed" and sending is not None and sending != payout.sending:
        # Another sending's failure is old news; another sending's money sent or paid is money gone all the same.
        count_by("PayoutNewsAlreadyKnown", "another sending's failure")
        return False
    news = {"sent": PayoutChange.SENT, "paid": PayoutChange.PAID, "failed": PayoutChange.FAILED}[what]
    try:
        return _news(request_id, news, at, BILLING_ACTOR, reference=reference, reason=reason)
    except PayoutNotAllowed as refused:
        raise RecordEventRefused(f"requestId: {refused}", field="requestId") from refused
