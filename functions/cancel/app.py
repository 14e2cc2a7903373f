"""The customer's own acts on a pending request: POST /refund-requests/{requestId}/cancel withdraws it, and
POST /refund-requests/{requestId}/answer answers the reviewer's question."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.adapters.settings import settings
from refund_core.app.inputs import AnswerQuestion, RequestId
from refund_core.app.resources import RefundRequestResource
from refund_core.app.service import answer_question, cancel_refund_request
from refund_core.http.resolver import current_caller, media_type_lower_cased, new_api, resource, route_responses
from refund_core.observability import observed
from refund_core.snapstart import prepare_snapshot

app = new_api(allowed_origin=settings().web_app_origin)


@app.post(
    "/refund-requests/<requestId>/cancel",
    summary="Cancel your pending refund request",
    responses=route_responses(
        200,
        RefundRequestResource,
        "The request, cancelled (cancelling it again changes nothing)",
        {404: "No such request, or not yours", 409: "The request is already decided"},
    ),
)
def cancel(requestId: RequestId) -> Response[RefundRequestResource]:
    return resource(cancel_refund_request(current_caller(app), requestId))


@app.post(
    "/refund-requests/<requestId>/answer",
    summary="Answer the reviewer's question on your pending refund request",
    responses=route_responses(
        200,
        RefundRequestResource,
        "The request, its question answered (the answer in its history)",
        {404: "No such request, or not yours", 409: "No question is waiting for your answer"},
    ),
)
def answer(requestId: RequestId, body: AnswerQuestion) -> Response[RefundRequestResource]:
    return resource(answer_question(current_caller(app), requestId, body))


@observed(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@media_type_lower_cased
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


prepare_snapshot(app, reads_policy=True)
