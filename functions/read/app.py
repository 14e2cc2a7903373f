"""GET /refund-requests/{requestId} and GET /refund-requests: the owner or a reviewer reads."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.app.inputs import RequestId
from refund_core.app.resources import RefundRequestResource, RequestList
from refund_core.app.service import list_refund_requests, read_refund_request
from refund_core.http.resolver import current_caller, media_type_lower_cased, new_api, resource, route_responses
from refund_core.observability import observed
from refund_core.policy.models import RequestStatus

app = new_api()


@app.get(
    "/refund-requests/<requestId>",
    summary="Read one refund request",
    responses=route_responses(200, RefundRequestResource, "The request", {404: "No such request, or not yours"}),
)
def read(requestId: RequestId) -> Response[RefundRequestResource]:
    return resource(read_refund_request(current_caller(app), requestId))


@app.get(
    "/refund-requests",
    summary="List refund requests: a reviewer's queue or a customer's own",
    responses=route_responses(200, RequestList, "A page of requests, oldest deadline first", {}),
)
def list_requests(
    status: Annotated[RequestStatus | None, Query(description="PENDING, APPROVED, REFUSED or CANCELLED")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(alias="nextToken", max_length=2048)] = None,
) -> Response[RequestList]:
    page = list_refund_requests(current_caller(app), status, limit, next_token)
    return resource(RequestList(items=page.items, next_token=page.next_token))


@observed(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@media_type_lower_cased
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
