"""POST /refund-requests: a customer files a refund request."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.adapters.settings import settings
from refund_core.app.idempotency import register_lambda_context, submit_refund_request_once
from refund_core.app.inputs import SubmitRefundRequest
from refund_core.app.resources import RefundRequestResource
from refund_core.http.resolver import (
    BODY_ERRORS,
    current_caller,
    json_body_only,
    media_type_lower_cased,
    new_api,
    resource,
    route_responses,
)
from refund_core.observability import observed

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


@observed(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@media_type_lower_cased
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    register_lambda_context(context)
    return app.resolve(event, context)
