"""POST /refund-requests/{requestId}/cancel: the customer withdraws a pending request."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.api import current_caller, new_api, resource, route_responses
from refund_core.models import RefundRequest
from refund_core.observability import logger, metrics, traced
from refund_core.service import cancel_refund_request

app = new_api()


@app.post(
    "/refund-requests/<requestId>/cancel",
    summary="Cancel your pending refund request",
    responses=route_responses(
        200,
        RefundRequest,
        "The request, cancelled (cancelling it again changes nothing)",
        {404: "No such request, or not yours", 409: "The request is already decided"},
    ),
)
def cancel(
    requestId: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")],
) -> Response[RefundRequest]:
    return resource(cancel_refund_request(current_caller(app), requestId))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
