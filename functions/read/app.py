"""GET /refund-requests/{requestId} and GET /refund-requests: the owner or a reviewer reads."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from refund_core.api import current_caller, json_response, new_api, resource, route_responses
from refund_core.models import RefundRequest, RequestStatus
from refund_core.observability import logger, metrics, traced
from refund_core.service import list_refund_requests, read_refund_request

app = new_api()

RequestId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]


class RequestList(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    items: list[RefundRequest]
    next_token: str | None


@app.get(
    "/refund-requests/<requestId>",
    summary="Read one refund request",
    responses=route_responses(200, RefundRequest, "The request", {404: "No such request, or not yours"}),
)
def read(requestId: RequestId) -> Response[RefundRequest]:
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
    body = RequestList(items=list(page.items), next_token=page.next_token)
    return json_response(body.model_dump(mode="json", by_alias=True))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
