"""POST /refund-requests/{requestId}/evaluate: a reviewer takes or releases, re-assesses, approves or refuses, or
confirms another's approval; the canned replies reviewers start their notes from (GET /canned-replies), which
supervisors keep (PUT /canned-replies/{replyId}, POST /canned-replies/{replyId}/retire)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.app.canned_replies import list_canned_replies, retire_canned_reply, save_canned_reply
from refund_core.app.inputs import EvaluateCommand, ReplyId, RequestId, RetireCannedReply, SaveCannedReply
from refund_core.app.resources import CannedReplyList, RefundRequestResource
from refund_core.app.review import evaluate_refund_request
from refund_core.http.body import json_body_only, media_type_lower_cased
from refund_core.http.resolver import BODY_ERRORS, current_caller, new_api, only_parameters, resource, route_responses
from refund_core.observability import observed
from refund_core.policy.models import CannedReply
from refund_core.settings import settings
from refund_core.snapstart import prepare_snapshot

app = new_api(allowed_origin=settings().web_app_origin)


@app.post(
    "/refund-requests/<requestId>/evaluate",
    summary="Take or release, re-assess, approve or refuse a pending request, or confirm another's approval",
    middlewares=[json_body_only],
    responses=route_responses(
        200,
        RefundRequestResource,
        "The request, taken, released, re-assessed or decided",
        {
            403: "Not a refund reviewer, a reviewer acting on a request they filed themselves, or confirming their "
            "own approval",
            404: "No such request",
            409: "The request is already decided or cancelled, its order left the billing records, another "
            "reviewer holds it (take it over explicitly) or took or released it meanwhile, or there is no approval "
            "to confirm",
            422: "An approval the Refund Policy forbids: more than was paid, an excluded payment channel, or a "
            "claim the rules refuse",
            **BODY_ERRORS,
        },
    ),
)
def evaluate(requestId: RequestId, body: Annotated[EvaluateCommand, Body()]) -> Response[RefundRequestResource]:
    return resource(evaluate_refund_request(current_caller(app), requestId, body))


@app.get(
    "/canned-replies",
    summary="The canned replies: those in use (reviewers), retired ones too (supervisors)",
    responses=route_responses(200, CannedReplyList, "The library", {403: "Not a reviewer"}),
)
def canned_replies() -> Response[CannedReplyList]:
    only_parameters(app, ())
    return resource(list_canned_replies(current_caller(app)))


@app.put(
    "/canned-replies/<replyId>",
    summary="Create a canned reply, or edit one (with the version read)",
    middlewares=[json_body_only],
    responses=route_responses(
        200, CannedReply, "The reply as saved", {403: "Not a supervisor", 409: "Changed meanwhile", **BODY_ERRORS}
    ),
)
def save_reply(replyId: ReplyId, body: Annotated[SaveCannedReply, Body()]) -> Response[CannedReply]:
    return resource(save_canned_reply(current_caller(app), replyId, body))


@app.post(
    "/canned-replies/<replyId>/retire",
    summary="Retire a canned reply: kept, and offered no more",
    middlewares=[json_body_only],
    responses=route_responses(
        200,
        CannedReply,
        "The reply, retired",
        {403: "Not a supervisor", 404: "No such reply", 409: "Changed meanwhile", **BODY_ERRORS},
    ),
)
def retire_reply(replyId: ReplyId, body: Annotated[RetireCannedReply, Body()]) -> Response[CannedReply]:
    return resource(retire_canned_reply(current_caller(app), replyId, body))


@observed(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@media_type_lower_cased
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


prepare_snapshot(app, reads_policy=True)
