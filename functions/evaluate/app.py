"""POST /refund-requests/{requestId}/evaluate: a reviewer takes or releases, re-assesses, approves or refuses."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.adapters.settings import settings
from refund_core.app.inputs import EvaluateCommand, RequestId
from refund_core.app.resources import RefundRequestResource
from refund_core.app.service import evaluate_refund_request
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
from refund_core.snapstart import prepare_snapshot

app = new_api(allowed_origin=settings().web_app_origin)


@app.post(
    "/refund-requests/<requestId>/evaluate",
    summary="Take or release, re-assess, approve or refuse a pending request",
    middlewares=[json_body_only],
    responses=route_responses(
        200,
        RefundRequestResource,
        "The request, taken, released, re-assessed or decided",
        {
            403: "Not a refund reviewer, or a reviewer acting on a request they filed themselves",
            404: "No such request",
            409: "The request is already decided or cancelled, its order left the billing records, or another "
            "reviewer holds it (take it over explicitly) or took or released it meanwhile",
            422: "An approval the Refund Policy forbids: more than was paid, an excluded payment channel, or a "
            "claim the rules refuse",
            **BODY_ERRORS,
        },
    ),
)
def evaluate(requestId: RequestId, body: Annotated[EvaluateCommand, Body()]) -> Response[RefundRequestResource]:
    return resource(evaluate_refund_request(current_caller(app), requestId, body))


@observed(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@media_type_lower_cased
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


prepare_snapshot(app, reads_policy=True)
