"""POST /refund-requests: a customer files a refund request; GET /orders/{orderId}/assessment: checks one first."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.app.claims import check_claim
from refund_core.app.idempotency import register_lambda_context, submit_refund_request_once
from refund_core.app.inputs import OrderId, SubmitRefundRequest, SupportTicketId
from refund_core.app.resources import ClaimCheck, RefundRequestResource
from refund_core.http.body import json_body_only, media_type_lower_cased
from refund_core.http.resolver import BODY_ERRORS, current_caller, new_api, only_parameters, resource, route_responses
from refund_core.observability import observed
from refund_core.settings import settings
from refund_core.snapstart import prepare_snapshot

app = new_api(allowed_origin=settings().web_app_origin)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description="Repeat the same key with the same body to get the first answer instead of a second request",
    ),
]


@app.post(
    "/refund-requests",
    summary="File a refund request",
    middlewares=[json_body_only],
    responses=route_responses(
        201,
        RefundRequestResource,
        "The recorded request, assessed, and decided at once when the rules are clear",
        {
            404: "The order is unknown, or not yours",
            409: "You have another open request, this order already has one, or this Idempotency-Key came "
            "with another body",
            429: "More requests than the Refund Policy's filing limits allow: for this order, or by you in the period",
            **BODY_ERRORS,
        },
        headers={"Location": "The path of the new request"},
    ),
)
def submit(
    body: Annotated[SubmitRefundRequest, Body()], idempotency_key: IdempotencyKey = None
) -> Response[RefundRequestResource]:
    request = submit_refund_request_once(current_caller(app), body, idempotency_key)
    return resource(request, 201, {"Location": f"/refund-requests/{request.request_id}"})


@app.get(
    "/orders/<orderId>/assessment",
    summary="Check a claim before sending it: the policy's result on the customer's own facts, nothing recorded",
    responses=route_responses(
        200,
        ClaimCheck,
        "What the policy in force would say of a claim on this order sent now",
        {
            404: "The order is unknown, or not yours",
            409: "You have another open request, or this order already has one",
            429: "More requests than the Refund Policy's filing limits allow: for this order, or by you in the period",
        },
    ),
)
def check(orderId: OrderId, support_ticket_id: SupportTicketId) -> Response[ClaimCheck]:
    only_parameters(app, ("supportTicketId",))
    return resource(check_claim(current_caller(app), orderId, support_ticket_id))


@observed(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@media_type_lower_cased
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    register_lambda_context(context)
    return app.resolve(event, context)


prepare_snapshot(app, reads_policy=True)
