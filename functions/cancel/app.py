"""What people add to a request besides its review: the customer withdraws it
(POST /refund-requests/{requestId}/cancel) or answers the reviewer's question (.../answer); the customer or a
reviewer attaches a file (.../evidence, then .../evidence/{evidenceId}/check) and downloads one
(GET .../evidence/{evidenceId})."""

from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from refund_core.app import evidence
from refund_core.app.inputs import AnswerQuestion, AttachEvidence, EvidenceId, RequestId
from refund_core.app.resources import DownloadLink, EvidenceUpload, RefundRequestResource
from refund_core.app.service import answer_question, cancel_refund_request
from refund_core.http.body import media_type_lower_cased
from refund_core.http.resolver import current_caller, new_api, resource, route_responses
from refund_core.observability import observed
from refund_core.policy.models import Evidence
from refund_core.settings import settings
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


@app.post(
    "/refund-requests/<requestId>/evidence",
    summary="Attach a file to a pending refund request: where to upload it",
    responses=route_responses(
        201,
        EvidenceUpload,
        "A form POST to `url` with `fields`, the file last; then POST .../evidence/{evidenceId}/check",
        {404: "No such request, or not yours", 409: "The request is decided, or holds 5 files already"},
    ),
)
def attach(requestId: RequestId, body: AttachEvidence) -> Response[EvidenceUpload]:
    return resource(evidence.attach(current_caller(app), requestId, body), 201)


@app.post(
    "/refund-requests/<requestId>/evidence/<evidenceId>/check",
    summary="Check an uploaded file: kept when its bytes are of its type, else deleted",
    responses=route_responses(
        200,
        Evidence,
        "The file, accepted",
        {
            404: "No such request or file, or not yours",
            409: "Nothing was uploaded yet",
            422: "Not of its type, or too large: deleted",
        },
    ),
)
def check(requestId: RequestId, evidenceId: EvidenceId) -> Response[Evidence]:
    return resource(evidence.check(current_caller(app), requestId, evidenceId))


@app.get(
    "/refund-requests/<requestId>/evidence/<evidenceId>",
    summary="A link to download a file attached to a request, valid for a minute",
    responses=route_responses(200, DownloadLink, "The link", {404: "No such request or file, or not yours"}),
)
def download(requestId: RequestId, evidenceId: EvidenceId) -> Response[DownloadLink]:
    return resource(evidence.download(current_caller(app), requestId, evidenceId))


@observed(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@media_type_lower_cased
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


prepare_snapshot(app, reads_policy=True)
