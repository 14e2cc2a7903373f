"""The card processor, Stripe, through its official SDK (PAYOUTS.md "Who pays it"): refunds made against the
order's payment (`pi_...` or `ch_...`) with an idempotency key per sending, looked up by the payout's
request before any second sending, read by id when no news came; and its webhooks verified with the
endpoint's signing secret (its timestamp within the replay window). The API key and the signing secret are
one secret in Secrets Manager, read once per container. Locally the SDK talks to localstripe.

The SDK (with `requests`) is imported at the first call to Stripe, about 37 ms of CPU: the functions that only
schedule a payout (submit, evaluate) and those that never pay (read, cancel, reports, policy) never load it; the
webhooks function loads it at its first signed webhook, the outbox and the reconciler at their first payout."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities import parameters

from refund_core.policy.money import Money, minor_units
from refund_core.settings import settings

if TYPE_CHECKING:
    import stripe
    from stripe.params import RefundCreateParams, RefundListParams

# Stripe's signatures older than this are refused: a captured webhook cannot be replayed later.
REPLAY_WINDOW_SECONDS = 300
# The refund's states in which the money has left (or will, with nothing more asked of us), and those in which
# it never will.
ACCEPTED = frozenset({"pending", "requires_action", "succeeded"})
PAID = "succeeded"
REFUSED = frozenset({"failed", "canceled"})


class ProcessorUnavailable(RuntimeError):
    """No answer (a timeout, a connection that failed, Stripe's 5xx or rate limit): whether the refund was made is
    unknown. The payout waits and asks before sending again."""


class ProcessorRefused(RuntimeError):
    """Stripe refused the refund (the payment was refunded already, disputed, is not a refundable payment...)."""


class WebhookRefused(ValueError):
    """A webhook that is not Stripe's, or not now: bad or missing signature, an old timestamp, not JSON."""


@dataclass(frozen=True)
class ProcessorRefund:
    refund_id: str
    status: str
    request_id: str | None
    sending: str | None
    failure_reason: str | None
    amount: Money


@cache
def _credentials() -> dict[str, str]:
    name = settings().stripe_secret_name
    if not name:
        raise ProcessorUnavailable("no Stripe secret is configured (STRIPE_SECRET_NAME)")
    try:
        secret = parameters.get_secret(name, transform="json")
    # Not readable now (denied, throttled, gone) or not JSON: nothing was sent.
    except (parameters.GetParameterError, parameters.TransformParameterError) as error:
        raise ProcessorUnavailable(f"the secret {name} cannot be read: {error}") from error
    if not isinstance(secret, dict) or not secret.get("apiKey") or not secret.get("webhookSigningSecret"):
        raise ProcessorUnavailable(f"the secret {name} holds no apiKey and webhookSigningSecret")
    return {key: str(value) for key, value in secret.items()}


@cache
def _client() -> stripe.StripeClient:
    import stripe  # noqa: PLC0415 - deliberately lazy (the module's docstring)

    base = settings().stripe_api_base
    return stripe.StripeClient(
        _credentials()["apiKey"],
        base_addresses={"api": base} if base else None,
        # The payout's own retries (backoff, the reconciler) decide when to try again, never the SDK's.
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=settings().stripe_timeout_seconds),
    )


def reset() -> None:
    """Forget the credentials and the client (tests and the local runner start a fresh emulated AWS)."""
    _credentials.cache_clear()
    _client.cache_clear()


def _minor(amount: Money) -> int:
    return int(amount.amount.scaleb(minor_units(amount.currency)))


def refund_from(refund: dict[str, Any]) -> ProcessorRefund:
    """A refund as the SDK or a webhook gives it."""
    metadata = refund.get("metadata") or {}
    currency = str(refund["currency"]).upper()
    return ProcessorRefund(
        refund_id=str(refund["id"]),
        status=str(refund.get("status")),
        request_id=metadata.get("requestId"),
        sending=metadata.get("sending"),
        failure_reason=refund.get("failure_reason"),
        amount=Money(amount=Decimal(int(refund["amount"])).scaleb(-minor_units(currency)), currency=currency),
    )


def _check_reference(reference: str) -> None:
    if not reference.startswith(("pi_", "ch_")):
        raise ProcessorRefused(f"{reference} is not a card payment Stripe refunds (pi_... or ch_...)")


def _calling(call: Any) -> Any:
    import stripe  # noqa: PLC0415 - deliberately lazy (the module's docstring)

    try:
        return call()
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError, stripe.AuthenticationError,
            stripe.PermissionError, stripe.IdempotencyError) as error:  # fmt: skip
        raise ProcessorUnavailable(f"{type(error).__name__}: {error.user_message or error}") from error
    except (stripe.InvalidRequestError, stripe.CardError) as error:
        raise ProcessorRefused(str(error.user_message or error)) from error


def create_refund(payment_reference: str, amount: Money, request_id: str, sending: int, key: str) -> ProcessorRefund:
    """A refund of `amount` against the payment, once per idempotency key `key`."""
    _check_reference(payment_reference)
    params: RefundCreateParams = {
        "amount": _minor(amount),
        "metadata": {"requestId": request_id, "sending": str(sending)},
    }
    if payment_reference.startswith("pi_"):
        params["payment_intent"] = payment_reference
    else:
        params["charge"] = payment_reference
    refund = _calling(lambda: _client().v1.refunds.create(params=params, options={"idempotency_key": key}))
    return refund_from(refund.to_dict())


def _refunds_of(payment_reference: str, request_id: str) -> list[ProcessorRefund]:
    """The refunds of the payment that the payout of `request_id` made, newest first."""
    _check_reference(payment_reference)
    params: RefundListParams = {"limit": 100}
    if payment_reference.startswith("pi_"):
        params["payment_intent"] = payment_reference
    else:
        params["charge"] = payment_reference
    listed = _calling(lambda: _client().v1.refunds.list(params=params))
    return [
        refund for refund in (refund_from(item.to_dict()) for item in listed.data) if refund.request_id == request_id
    ]


def find_refund(payment_reference: str, request_id: str, sending: int) -> ProcessorRefund | None:
    """The refund this sending of the payout already made, if it did (asked after an outcome nobody knows); else
    a refund of an earlier sending that the processor took and has not refused: that money has gone, and a new
    sending must not pay it twice (an answer lost, then the payout handed to finance and sent again)."""
    made = _refunds_of(payment_reference, request_id)
    this_sending = next((refund for refund in made if refund.sending == str(sending)), None)
    return this_sending or _accepted(made)


def _accepted(made: list[ProcessorRefund]) -> ProcessorRefund | None:
    return next((refund for refund in made if refund.status in ACCEPTED), None)


def refund_taken(payment_reference: str, request_id: str) -> ProcessorRefund | None:
    """A refund of any sending of the payout that the processor took and has not refused: money gone, or going."""
    return _accepted(_refunds_of(payment_reference, request_id))


def retrieve_refund(refund_id: str) -> ProcessorRefund:
    return refund_from(_calling(lambda: _client().v1.refunds.retrieve(refund_id)).to_dict())


def verified_event(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The webhook's event, once its signature proves it Stripe's and recent; WebhookRefused otherwise."""
    if not signature:
        raise WebhookRefused("no Stripe-Signature header")
    secret = _credentials()["webhookSigningSecret"]
    import stripe  # noqa: PLC0415 - deliberately lazy (the module's docstring)

    try:
        event = stripe.Webhook.construct_event(payload, signature, secret, tolerance=REPLAY_WINDOW_SECONDS)
    except stripe.SignatureVerificationError as error:
        raise WebhookRefused(f"the signature does not verify: {error.user_message or error}") from error
    except ValueError as error:
        raise WebhookRefused("the body is not a JSON event") from error
    found: dict[str, Any] = event.to_dict()
    return found
