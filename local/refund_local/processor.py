"""The card processor on this machine: localstripe (PyPI), a stateful fake of Stripe's API, run on a loopback
port for `refund-local serve` and the tests. The service's Stripe SDK calls it (STRIPE_API_BASE) with the key
and signing secret this module writes into the emulated Secrets Manager; the demo's card orders get payments
made there, whose ids become the orders' payment references. Nothing here imitates Stripe: localstripe does.

localstripe answers a refund `succeeded` at once and sends no webhook for refunds: the payout's news comes from
the service asking it, after PAYOUT_CHECK_AFTER_SECONDS (a few seconds locally, an hour deployed). The webhook
registered here takes the refunds' events only, as the endpoint deployed does (README, "Refunds to cards"):
localstripe's events about the payments made for the seed never reach the service.

    python -m refund_local.processor PORT    # localstripe on 127.0.0.1:PORT, its state in memory only
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from refund_local.processes import free_port, stop

# localstripe takes any test key; these exist only on this machine.
API_KEY = "sk_test_refund_local"
SIGNING_SECRET = "whsec_refund_local"  # noqa: S105 - the local fake's, nowhere else
SECRET_NAME = "StripeSecret"  # noqa: S105 - the secret's name (the template's logical id), not a secret
STARTUP_SECONDS = 30.0
# Locally a payout sent is asked about after this many seconds (deployed: an hour), so that SENT turns PAID
# while one watches.
LOCAL_CHECK_AFTER_SECONDS = 5


def _answers(base: str) -> bool:
    request = urllib.request.Request(base + "/v1/balance", headers={"Authorization": f"Bearer {API_KEY}"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=2) as answer:  # noqa: S310 - loopback only
            return bool(answer.status == 200)
    except (OSError, urllib.error.HTTPError):
        return False


@contextlib.contextmanager
def running_processor(log_path: Path | None = None) -> Iterator[str]:
    """localstripe on a free loopback port until the block ends; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = log_path.open("ab") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(  # noqa: S603 - our own module, with this interpreter
        [sys.executable, "-m", "refund_local.processor", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        give_up = time.monotonic() + STARTUP_SECONDS
        while not _answers(base):
            if process.poll() is not None or time.monotonic() > give_up:
                raise RuntimeError(f"localstripe did not start on {base} (exit code {process.poll()})")
            time.sleep(0.1)
        yield base
    finally:
        stop(process, timeout_seconds=5)
        if log_path:
            log.close()  # type: ignore[union-attr]


def use_processor(secrets: Any, base: str, webhook_url: str | None = None) -> dict[str, str]:
    """The service pointed at localstripe: the key and signing secret written into the emulated Secrets Manager
    (the template's StripeSecret), localstripe told where to send the refunds' webhooks, signed with that secret.
    Returns the environment the functions need besides the template's."""
    secrets.put_secret_value(
        SecretId=SECRET_NAME, SecretString=json.dumps({"apiKey": API_KEY, "webhookSigningSecret": SIGNING_SECRET})
    )
    if webhook_url:
        from refund_core.app.payouts import REFUND_EVENTS  # noqa: PLC0415 - the environment is set by now

        body = json.dumps({"url": webhook_url, "secret": SIGNING_SECRET, "events": sorted(REFUND_EVENTS)}).encode()
        config = urllib.request.Request(  # noqa: S310 - loopback only
            base + "/_config/webhooks/refund-local", data=body, method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(config, timeout=10):  # noqa: S310 - loopback only
            pass
    return {"STRIPE_API_BASE": base, "PAYOUT_CHECK_AFTER_SECONDS": str(LOCAL_CHECK_AFTER_SECONDS)}


def _client(base: str) -> Any:
    import stripe  # noqa: PLC0415 - the SDK the service uses, only where a payment is made

    return stripe.StripeClient(API_KEY, base_addresses={"api": base}, max_network_retries=0)


def make_payment(base: str, amount_minor: int, currency: str) -> str:
    """A card payment at localstripe, as the customer's order made it: its PaymentIntent's id."""
    params = {"amount": amount_minor, "currency": currency.lower(), "payment_method": "pm_card_visa", "confirm": True}
    intent = _client(base).v1.payment_intents.create(params=params)
    return str(intent.id)


def _known(base: str, reference: str) -> bool:
    import stripe  # noqa: PLC0415

    try:
        _client(base).v1.payment_intents.retrieve(reference)
    except stripe.InvalidRequestError:
        return False
    return True


def give_card_orders_payments(base: str) -> int:
    """Every card order of the customer records without a payment at localstripe (the demo's, a seed's, or
    one of a kept state, whose localstripe is gone) gets one, and its reference, as billing would send it.
    How many."""
    from refund_core.adapters import customer_records  # noqa: PLC0415 - the environment is set by now
    from refund_core.policy.money import minor_units  # noqa: PLC0415

    made = 0
    for order in customer_records.all_orders():
        if order.payment_channel != "card" or (order.payment_reference and _known(base, order.payment_reference)):
            continue
        paid = order.amount_paid
        minor = int(paid.amount.scaleb(minor_units(paid.currency)))
        if minor <= 0:
            continue
        reference = make_payment(base, minor, paid.currency)
        customer_records.correct_order(order.model_copy(update={"payment_reference": reference}), datetime.now(UTC))
        made += 1
    return made


def main() -> int:
    """localstripe's own server, bound to 127.0.0.1 (its command binds every interface) and kept in memory (it
    would write its whole state to a file shared by every instance, /tmp/localstripe.pickle, at each change)."""
    from aiohttp import web  # noqa: PLC0415
    from localstripe import resources  # noqa: PLC0415
    from localstripe.server import app  # noqa: PLC0415

    resources.Store.dump_to_disk = lambda self: None
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
