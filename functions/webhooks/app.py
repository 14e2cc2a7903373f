"""POST /webhooks/stripe: the card processor's news of the refunds it made (PAYOUTS.md). No Cognito: the
signature, made with the endpoint's signing secret, is what says it is Stripe's; a bad or missing one, an old
timestamp or another account's event is a 400 and changes nothing."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from refund_core.app.payouts import apply_processor_webhook
from refund_core.http.body import media_type_lower_cased
from refund_core.http.resolver import json_response, new_api, route_responses
from refund_core.observability import observed
from refund_core.snapstart import prepare_snapshot

app = new_api(signed_in=False)


class WebhookReceived(BaseModel):
    received: bool
    outcome: str


@app.post(
    "/webhooks/stripe",
    summary="Stripe's webhook: a refund's news (created, updated, failed), verified by its signature",
    responses=route_responses(
        200,
        WebhookReceived,
        "Taken: applied to its payout, already known, or not news of a refund of ours",
        {
            400: "Not Stripe's, or not now: a bad or missing Stripe-Signature, an old timestamp, another account's "
            "event, or a body that is not a JSON event"
        },
        signed_in=False,
    ),
)
def stripe_webhook() -> Response[WebhookReceived]:
    event = app.current_event
    payload = (event.decoded_body or "").encode("utf-8")
    outcome = apply_processor_webhook(payload, event.headers.get("stripe-signature"))
    return json_response({"received": True, "outcome": outcome})


@observed(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@media_type_lower_cased
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


prepare_snapshot(app)
