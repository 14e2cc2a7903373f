"""GET /payouts and POST /payouts/{requestId}: the finance team's view of the payouts (supervisors may read it)
and their actions on one: marked paid by hand, sent again through its route, taken over (PAYOUTS.md)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.app.finance import PayoutCommand, PayoutList, PayoutResource, act_on_payout, list_payouts
from refund_core.app.inputs import RequestId
from refund_core.http.body import json_body_only, media_type_lower_cased
from refund_core.http.resolver import BODY_ERRORS, current_caller, new_api, only_parameters, resource, route_responses
from refund_core.observability import observed
from refund_core.policy.payouts import PayoutState
from refund_core.settings import settings
from refund_core.snapstart import prepare_snapshot

app = new_api(allowed_origin=settings().web_app_origin)
LISTED_BY = ("state", "olderThanDays", "limit", "nextToken")


@app.get(
    "/payouts",
    summary="The payouts in a state, longest there first",
    responses=route_responses(200, PayoutList, "The payouts", {403: "Neither finance nor a supervisor"}),
)
def payouts(
    state: Annotated[PayoutState, Query(description="SCHEDULED, SENT, PAID, FAILED or MANUAL")] = PayoutState.SCHEDULED,
    older_than_days: Annotated[int | None, Query(alias="olderThanDays", ge=0, le=3660)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[str | None, Query(alias="nextToken", max_length=2048)] = None,
) -> Response[PayoutList]:
    only_parameters(app, LISTED_BY)
    caller = current_caller(app)
    return resource(list_payouts(caller, state, older_than_days=older_than_days, limit=limit, next_token=next_token))


@app.post(
    "/payouts/<requestId>",
    summary="Mark a payout paid by hand, send it again through its route, or hand it to finance",
    middlewares=[json_body_only],
    responses=route_responses(
        200,
        PayoutResource,
        "The payout, changed",
        {
            403: "Not the finance team",
            404: "No such request, or it has no payout",
            409: "The payout's state does not take this action (paid already, no route to send it through, billing "
            "or the card processor paying it...), or it is being sent this moment",
            503: "AWS kept throttling the service, or the card processor cannot say now whether it has taken the refund "
            "finance would take over: try again after `Retry-After` seconds",
            **BODY_ERRORS,
        },
    ),
)
def act(requestId: RequestId, body: Annotated[PayoutCommand, Body()]) -> Response[PayoutResource]:
    return resource(act_on_payout(current_caller(app), requestId, body))


@observed(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@media_type_lower_cased
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


prepare_snapshot(app, reads_policy=True)
