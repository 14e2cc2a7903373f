"""POST /refund-requests/{requestId}/evaluate: a reviewer re-assesses, approves or refuses."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.api import BODY_ERRORS, current_caller, new_api, resource, route_responses
from refund_core.commands import EvaluateCommand
from refund_core.models import RefundRequest
from refund_core.observability import logger, metrics, traced
from refund_core.service import evaluate_refund_request

app = new_api()


@app.post(
    "/refund-requests/<requestId>/evaluate",
    summary="Re-assess, approve or refuse a pending request",
    responses=route_responses(
        200,
        RefundRequest,
        "The request, re-assessed or decided",
        {
            403: "Not a refund reviewer",
            404: "No such request",
            409: "The request is already decided or cancelled, or its order left the billing records",
            422: "An approval the Refund Policy forbids: more than was paid, an excluded payment channel, or a "
            "claim the rules refuse",
            **BODY_ERRORS,
        },
    ),
)
def evaluate(
    requestId: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")],
    body: Annotated[EvaluateCommand, Body()],
) -> Response[RefundRequest]:
    return resource(evaluate_refund_request(current_caller(app), requestId, body))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
