"""What requests owe, delivered (docs/design.md "What requests owe"): each email of a kind, and the
`RefundDecided` event, done once.

Every change that owes an effect writes it, in the change's own transaction, as an owed item of the request.
The notifier puts each new one on the delivery queue; `deliver` takes it with a lease (a conditional write,
so two deliveries of one message cannot both act), does it, and records it done; the reconciler
(`reconcile`) puts on the queue again whatever is still owed a while after it was owed (the queue's
retries outlived, a message lost, an address of record that arrived since) and marks uncertain what a
delivery began and never recorded. Nothing owed is lost while DynamoDB keeps the item (for good), whatever
SES does and for how long; nothing is done twice but in the window this module cannot close: SES accepted
a message and the record of it could not be written (then the effect is marked uncertain, counted and
alarmed, and never repeated without a person)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from refund_core.adapters import customer_records, outbound, owed_effects, repository
from refund_core.adapters.records import Effect, EffectState, OwedEffect, RequestRecord
from refund_core.adapters.stripe_refunds import ProcessorUnavailable
from refund_core.app import payouts, policies, service_levels
from refund_core.observability import count, count_by, logger, metrics
from refund_core.policy.emails import EmailKind, NoRecipient, Recipients, render
from refund_core.policy.models import CamelModel, HistoryEntry, RequestStatus, UtcDatetime
from refund_core.settings import settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

OUTBOX = "outbox"
REFUND_DECIDED = "RefundDecided"
EMAIL_SENT = "email sent"
NOT_NEEDED = "email not needed"
# A failed delivery is shown again after 1, 2, 4... minutes, at most an hour apart.
_FIRST_RETRY_SECONDS = 60
_LONGEST_RETRY_SECONDS = 3600
# An address of record may arrive any time: an email waiting for one is tried again every hour.
_NO_ADDRESS_RETRY_SECONDS = 3600
_RECORD_TRIES = 4
RECONCILE_PAGE = 100
RECONCILE_MOST = 1000
# The payout's emails say what became of the payout: they read it with the request, and go after the decision's.
_PAYOUT_EMAILS = frozenset({Effect.PAYOUT_SENT, Effect.PAYOUT_FAILED})
_AFTER_THE_DECISION_SECONDS = 10


def _now() -> datetime:
    return datetime.now(UTC)


class Delivery(CamelModel):
    """The queue's message for an owed effect: what finds it again (the owed item and its request keep
    everything the effect is made from)."""

    request_id: str
    effect: Effect
    owed_at: UtcDatetime


def delivery(owed: OwedEffect) -> dict[str, Any]:
    return Delivery(request_id=owed.request_id, effect=owed.effect, owed_at=owed.owed_at).model_dump(
        mode="json", by_alias=True
    )


class DeliveryFailed(RuntimeError):
    """Raised for the batch processor: the message comes back after its backoff."""


def retry_after_seconds(attempts: int) -> int:
    return int(min(_FIRST_RETRY_SECONDS * 2 ** max(0, attempts - 1), _LONGEST_RETRY_SECONDS))


@dataclass(frozen=True)
class Delivered:
    """What became of one delivery: `done`, `not owed` (done already, or held by another), `waits` (no
    address of record yet) or `failed` (to try again in `retry_in` seconds)."""

    outcome: str
    retry_in: int = 0


def decided_event_detail(request: RequestRecord) -> dict[str, Any]:
    decision = request.decision
    return {
        "requestId": request.request_id,
        "orderId": request.order_id,
        "username": request.username,
        "status": str(request.status),
        "refundType": str(decision.refund_type) if decision and decision.refund_type else None,
        "amount": decision.amount.model_dump(mode="json") if decision and decision.amount else None,
    }


def _recipients(request: RequestRecord) -> Recipients:
    """The customer's email of record; only where the records hold none, the verified address of the token
    that filed the request (API.md "The customer's email address")."""
    profile = customer_records.customer_profile(request.username)
    return Recipients(
        customer=(profile.email if profile and profile.email else None) or request.customer_email,
        reviewers=settings().reviewers_email,
        supervisors=settings().supervisors_email,
        customer_name=profile.name if profile else None,
        customer_language=profile.language if profile else "en",
        support=settings().support_email,
        control_panel=settings().control_panel_url,
    )


# Emails about a request still waiting for its decision.
_ONLY_WHILE_PENDING = frozenset({EmailKind.REMINDER, EmailKind.ESCALATION, EmailKind.DELAY})


def _prepare(effect: Effect, request: RequestRecord) -> Callable[[], tuple[str, HistoryEntry]]:
    """What doing the effect takes, all of it read and rendered before the delivery takes its lease, so that
    the lease spans the call to SES (or EventBridge) alone. Raises NoRecipient."""
    if effect is Effect.REFUND_DECIDED:
        detail = decided_event_detail(request)

        def publish() -> tuple[str, HistoryEntry]:
            event_id = outbound.publish_event(REFUND_DECIDED, detail)
            count(f"{REFUND_DECIDED}Published")
            return event_id, HistoryEntry(at=_now(), event=f"{REFUND_DECIDED} published", by=OUTBOX)

        return publish
    kind = EmailKind(effect.email_kind)
    # A question answered, asked anew or closed before its email went: nothing to ask any more. A reminder, an
    # escalation or the customer's apology for the delay of a request decided or cancelled before it went: the
    # request is no longer waiting, and the decision's own email says what became of it.
    if (kind is EmailKind.QUESTION and not request.waits_for_the_customer) or (
        kind in _ONLY_WHILE_PENDING and request.status is not RequestStatus.PENDING
    ):

        def not_needed() -> tuple[str, HistoryEntry]:
            count_by("EmailsNotNeeded", kind)
            return NOT_NEEDED, HistoryEntry(at=_now(), event=NOT_NEEDED, by=OUTBOX, detail=str(kind))

        return not_needed
    policy = policies.assessed_under(request.assessment.policy_version, request.received_at)
    email = render(kind, request, policy, _recipients(request), request.payout)

    def send() -> tuple[str, HistoryEntry]:
        message_id = outbound.send_email(email, {"request-id": request.request_id, "email-kind": str(kind)})
        count_by("EmailsSent", kind)
        return message_id, HistoryEntry(at=_now(), event=EMAIL_SENT, by=OUTBOX, detail=str(kind))

    return send


def _record_done(owed: OwedEffect, outcome: str, entry: HistoryEntry) -> bool:
    """The effect is done: recorded at once, tried again within this delivery while DynamoDB fails, because a
    done effect with no record of it would be uncertain."""
    for attempt in range(_RECORD_TRIES):
        try:
            # An email sent: its SES message id is what a customer's reply names.
            owed_effects.effect_done(owed, outcome, entry.at, entry, sent_email=entry.event == EMAIL_SENT)
            return True
        except (ClientError, BotoCoreError):
            logger.exception("an effect done could not be recorded", request_id=owed.request_id, effect=owed.effect)
            time.sleep(0.2 * 2**attempt)
    count("EffectsDoneNotRecorded")
    return False


def _deliver_payout(request_id: str, at: datetime) -> Delivered:
    """The payout's sending (refund_core.app.payouts): a processor or billing that cannot be reached, or does
    not say what it did, leaves it owed, tried again with backoff (asking first what the last try did)."""
    owed = owed_effects.take_effect(request_id, Effect.PAYOUT, at, settings().outbox_lease_seconds)
    if owed is None:
        return Delivered("not owed")
    try:
        outcome = payouts.send(owed, at)
    except (ProcessorUnavailable, ClientError, BotoCoreError, outbound.EventNotPublished) as error:
        retry_in = retry_after_seconds(owed.attempts)
        logger.warning("a payout could not be sent; it will be tried again", request_id=request_id, error=str(error))
        count_by("DeliveriesFailed", "payout")
        owed_effects.effect_waits(owed, at + timedelta(seconds=retry_in), type(error).__name__)
        return Delivered("failed", retry_in)
    logger.info("payout sending done", request_id=request_id, outcome=outcome)
    return Delivered("done")


def deliver(request_id: str, effect: Effect, now: datetime | None = None) -> Delivered:
    """One delivery of an owed effect, at most one at a time (the lease), recorded once done."""
    at = now or _now()
    if effect is Effect.PAYOUT:
        return _deliver_payout(request_id, at)
    request = (
        repository.get_request(request_id) if effect in _PAYOUT_EMAILS else repository.get_request_item(request_id)
    )
    try:
        perform = _prepare(effect, request) if request is not None else None
    except NoRecipient:
        # Not a failure to retry soon: the email goes once an address of record arrives (the reconciler).
        owed = owed_effects.take_effect(request_id, effect, at, settings().outbox_lease_seconds)
        if owed is None:
            return Delivered("not owed")
        logger.warning("no address for a customer email", request_id=request_id, effect=effect)
        count("EmailsWithoutAddress")
        owed_effects.effect_waits(owed, at + timedelta(seconds=_NO_ADDRESS_RETRY_SECONDS), "no address of record")
        return Delivered("waits")
    owed = owed_effects.take_effect(request_id, effect, at, settings().outbox_lease_seconds)
    if owed is None:
        return Delivered("not owed")
    if effect in _PAYOUT_EMAILS and owed_effects.effect_state(request_id, Effect.DECISION) is not EffectState.DONE:
        # The customer hears of the decision before they hear that its refund was sent (both owed at once).
        owed_effects.effect_waits(owed, at + timedelta(seconds=_AFTER_THE_DECISION_SECONDS), "waits for the decision")
        return Delivered("failed", _AFTER_THE_DECISION_SECONDS)
    if perform is None:
        logger.error("an owed effect of a request that is gone", request_id=request_id, effect=effect)
        owed_effects.effect_waits(owed, at + timedelta(seconds=_LONGEST_RETRY_SECONDS), "the request is gone")
        return Delivered("waits")
    try:
        outcome, entry = perform()
    except (ClientError, BotoCoreError, outbound.EventNotPublished) as error:
        retry_in = retry_after_seconds(owed.attempts)
        logger.warning("delivery failed; it will be tried again", request_id=request_id, effect=effect)
        count_by("DeliveriesFailed", effect.email_kind if effect.is_email else REFUND_DECIDED)
        owed_effects.effect_waits(owed, at + timedelta(seconds=retry_in), type(error).__name__)
        return Delivered("failed", retry_in)
    _record_done(owed, outcome, entry)
    logger.info("effect done", request_id=request_id, effect=effect)
    return Delivered("done")


def handle_delivery_record(record: SQSRecord) -> None:
    """The delivery function's record handler: a failed delivery is shown again after its backoff."""
    message = Delivery.model_validate_json(record.body)
    delivered = deliver(message.request_id, message.effect)
    if delivered.outcome == "failed":
        outbound.delay_delivery(record.receipt_handle, delivered.retry_in)
        raise DeliveryFailed(f"{message.effect} of {message.request_id}: again in {delivered.retry_in} s")


def _lease_ran_out(owed: OwedEffect, before: datetime) -> bool:
    return owed.state is EffectState.SENDING and owed.lease_until is not None and owed.lease_until < before


def _owed_again(owed: OwedEffect, at: datetime) -> bool:
    """A payout's sending whose delivery never said what it did: owed again, for its next attempt asks the
    processor what the last one did before it sends (an email's is uncertain: SES cannot be asked)."""
    owed_effects.effect_waits(owed, at, "the delivery's lease ran out; the processor is asked before a second sending")
    return True


@dataclass(frozen=True)
class Reconciled:
    queued: int
    uncertain: int
    oldest_owed_seconds: float
    service_levels_recounted: int


def reconcile(now: datetime | None = None) -> Reconciled:
    """What is still owed past the grace period: owed again (its retry due) → back on the queue; held by a
    delivery whose lease ran out with nothing recorded → uncertain. Bounded per run (the next run goes on);
    reports the age of the oldest owed effect, which the alarm watches."""
    at = now or _now()
    grace = timedelta(seconds=settings().outbox_grace_seconds)
    queued: list[dict[str, Any]] = []
    uncertain = 0
    seen = 0
    token: str | None = None
    while seen < RECONCILE_MOST:
        page = owed_effects.owed_effects(before=at - grace, limit=RECONCILE_PAGE, next_token=token)
        for owed in page.items:
            seen += 1
            if (owed.state is EffectState.OWED and (owed.next_attempt_at is None or owed.next_attempt_at <= at)) or (
                _lease_ran_out(owed, at - grace) and owed.effect is Effect.PAYOUT and _owed_again(owed, at)
            ):
                queued.append(delivery(owed))
            elif _lease_ran_out(owed, at - grace) and owed_effects.effect_uncertain(
                owed, "the delivery's lease ran out and nothing recorded it"
            ):
                uncertain += 1
                logger.error("an effect is uncertain", request_id=owed.request_id, effect=owed.effect)
        token = page.next_token
        if token is None:
            break
    if queued:
        outbound.enqueue_deliveries(queued)
    oldest = owed_effects.oldest_owed()
    age = (at - oldest.owed_at).total_seconds() if oldest else 0.0
    metrics.add_metric(name="OldestOwedEffectAgeSeconds", unit=MetricUnit.Seconds, value=age)
    # The payouts sent with no news for an hour: the processor is asked (its webhooks may have been lost).
    checked = payouts.check_sent_payouts(at)
    metrics.add_metric(name="PayoutsCheckedAndChanged", unit=MetricUnit.Count, value=checked)
    metrics.add_metric(
        name="OldestUnpaidPayoutAgeSeconds", unit=MetricUnit.Seconds, value=payouts.oldest_unpaid_seconds(at)
    )
    metrics.add_metric(name="EffectsQueuedAgain", unit=MetricUnit.Count, value=len(queued))
    metrics.add_metric(name="EffectsUncertain", unit=MetricUnit.Count, value=uncertain)
    # Once a day, the ended requests the notifier did not count in the service levels.
    recounted = service_levels.recount(at)
    metrics.add_metric(name="ServiceLevelsRecounted", unit=MetricUnit.Count, value=recounted)
    return Reconciled(
        queued=len(queued), uncertain=uncertain, oldest_owed_seconds=age, service_levels_recounted=recounted
    )
