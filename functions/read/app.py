"""GET /refund-requests/{requestId}, GET /refund-requests, GET /queue/counts, GET /orders and GET /personal-data:
the owner or staff read."""

import re
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.app.inputs import IsoDate, RequestId, RequestListing
from refund_core.app.personal_data import personal_data
from refund_core.app.resources import OrderList, PersonalData, QueueCounts, RefundRequestResource, RequestList
from refund_core.app.service import list_orders, list_refund_requests, queue_counts, read_refund_request
from refund_core.http.body import media_type_lower_cased
from refund_core.http.resolver import current_caller, new_api, only_parameters, resource, route_responses
from refund_core.observability import observed
from refund_core.policy.models import RequestStatus
from refund_core.settings import settings
from refund_core.snapstart import prepare_snapshot

app = new_api(allowed_origin=settings().web_app_origin)
PageSize = Annotated[int, Query(ge=1, le=100)]
PageToken = Annotated[str | None, Query(alias="nextToken", max_length=2048)]
ListedBy = ("status", "overdue", "username", "orderId", "receivedFrom", "receivedTo", "heldBy", "limit", "nextToken")


@app.get(
    "/refund-requests/<requestId>",
    summary="Read one refund request",
    responses=route_responses(200, RefundRequestResource, "The request", {404: "No such request, or not yours"}),
)
def read(requestId: RequestId) -> Response[RefundRequestResource]:
    return resource(read_refund_request(current_caller(app), requestId))


@app.get(
    "/refund-requests",
    summary="List refund requests: the staff's queue, filtered, or a customer's own",
    responses=route_responses(
        200, RequestList, "A page of requests, oldest deadline first", {403: "A staff filter, used by a customer"}
    ),
)
def list_requests(
    *,
    status: Annotated[RequestStatus | None, Query(description="PENDING, APPROVED, REFUSED or CANCELLED")] = None,
    overdue: Annotated[Literal["true", "false"] | None, Query(description="staff: only overdue (or not)")] = None,
    username: Annotated[str | None, Query(min_length=1, max_length=128, description="staff: one customer's")] = None,
    order_id: Annotated[str | None, Query(alias="orderId", min_length=1, max_length=128, description="staff")] = None,
    received_from: Annotated[IsoDate | None, Query(alias="receivedFrom", description="staff: a Hong Kong date")] = None,
    received_to: Annotated[IsoDate | None, Query(alias="receivedTo", description="staff: a Hong Kong date")] = None,
    held_by: Annotated[
        str | None, Query(alias="heldBy", min_length=1, max_length=128, description="staff: taken by this reviewer")
    ] = None,
    limit: PageSize = 50,
    next_token: PageToken = None,
) -> Response[RequestList]:
    only_parameters(app, ListedBy)
    listing = RequestListing(
        status=status,
        overdue=None if overdue is None else overdue == "true",
        username=username,
        order_id=order_id,
        received_from=received_from,
        received_to=received_to,
        held_by=held_by,
    )
    page = list_refund_requests(current_caller(app), listing, limit, next_token)
    return resource(RequestList(items=page.items, next_token=page.next_token))


@app.get(
    "/queue/counts",
    summary="The reviewers' queue at a glance: open, overdue, taken by nobody, taken by the caller",
    responses=route_responses(200, QueueCounts, "The counts of the open requests", {403: "Not a reviewer"}),
)
def counts() -> Response[QueueCounts]:
    only_parameters(app, ())
    return resource(queue_counts(current_caller(app)))


@app.get(
    "/orders",
    summary="The caller's own orders, newest first, each with its latest request that was not cancelled",
    responses=route_responses(200, OrderList, "A page of orders", {}),
)
def orders(limit: PageSize = 50, next_token: PageToken = None) -> Response[OrderList]:
    only_parameters(app, ("limit", "nextToken"))
    return resource(list_orders(current_caller(app), limit, next_token))


@app.get(
    "/personal-data",
    summary="Everything kept about a customer, as one JSON file: the caller's own, or (supervisors) a named one's",
    responses=route_responses(
        200,
        PersonalData,
        "Their account record, orders and requests",
        {403: "Another's, asked by a non-supervisor"},
        {"Content-Disposition": 'attachment; filename="personal-data-<username>.json"'},
    ),
)
def download_personal_data(
    username: Annotated[
        str | None, Query(min_length=1, max_length=128, description="supervisors: the customer whose data")
    ] = None,
) -> Response[PersonalData]:
    only_parameters(app, ("username",))
    found = personal_data(current_caller(app), username)
    file_name = "personal-data-" + re.sub(r"[^A-Za-z0-9._-]", "_", found.username) + ".json"
    return resource(found, headers={"Content-Disposition": f'attachment; filename="{file_name}"'})


@observed(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@media_type_lower_cased
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


prepare_snapshot(app, reads_policy=True)
