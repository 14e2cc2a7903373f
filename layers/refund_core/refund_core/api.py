"""What every API function shares: the resolver's set-up, the caller, and the one place where domain
errors become the HTTP statuses of API.md."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from refund_core.errors import Conflict, InvalidInput, NotAReviewer, NotFound, PolicyForbids, RefundError
from refund_core.identity import Caller, Unauthenticated, caller_from_claims
from refund_core.models import RefundRequest
from refund_core.observability import logger

_STATUS_OF: tuple[tuple[type[RefundError], int], ...] = (
    (Unauthenticated, 401),
    (NotAReviewer, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PolicyForbids, 422),
    (InvalidInput, 400),
)
_LOCATIONS = {"body", "query", "path", "header", "cookie"}
_ACTIONS = {"assess", "approve", "refuse"}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def error_response(status: int, message: str, errors: Sequence[dict[str, str]] = ()) -> Response[Any]:
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = list(errors)
    return json_response(body, status)


def _field_of(error: dict[str, Any]) -> str:
    """The caller's name for the field at fault: `orderId`, `amount`, `status` (never `body.approve.x`)."""
    if error.get("type") in {"union_tag_invalid", "union_tag_not_found"}:
        return "action"
    parts = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    if len(parts) > 1 and parts[0] in _ACTIONS:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _validation_message(error: dict[str, Any], field: str) -> str:
    if error.get("type") == "json_invalid":
        return "the body is not valid JSON"
    if error.get("type") == "missing":
        return f"{field} is required"
    message = str(error.get("msg", "is not valid"))
    return message.removeprefix("Value error, ")


def new_api() -> APIGatewayRestResolver:
    """A REST resolver with pydantic validation and the API's error mapping."""
    app = APIGatewayRestResolver(enable_validation=True)

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def invalid_request(error: RequestValidationError) -> Response[Any]:
        # Validation runs before the route: an anonymous call must still be told 401, not what it got wrong.
        try:
            current_caller(app)
        except Unauthenticated as anonymous:
            return error_response(401, anonymous.message)
        details = []
        for raw in error.errors():
            field = _field_of(raw)
            if raw.get("type") == "json_invalid":
                field = "body"
            details.append({"field": field, "message": _validation_message(raw, field)})
        fields = sorted({detail["field"] for detail in details})
        return error_response(400, f"invalid request: {', '.join(fields)}", details)

    @app.exception_handler(RefundError)  # type: ignore[untyped-decorator]
    def refund_error(error: RefundError) -> Response[Any]:
        status = next((code for kind, code in _STATUS_OF if isinstance(error, kind)), 400)
        errors = [{"field": error.field, "message": error.message}] if error.field else []
        return error_response(status, error.message, errors)

    @app.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]
    def unsupported_content_type(error: RequestUnsupportedContentType) -> Response[Any]:
        return error_response(
            415,
            "send the body as JSON with Content-Type: application/json",
            [{"field": "Content-Type", "message": "must be application/json"}],
        )

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def unexpected(error: Exception) -> Response[Any]:
        logger.exception("unexpected error")
        return error_response(500, "internal error; the request was not completed")

    return app


def current_caller(app: APIGatewayRestResolver) -> Caller:
    claims = app.current_event.request_context.authorizer.claims
    return caller_from_claims(claims)


def resource(request: RefundRequest, status_code: int = 200, headers: dict[str, str] | None = None) -> Response[Any]:
    return json_response(request.model_dump(mode="json", by_alias=True), status_code, headers)
