"""What every API function shares: the resolver's set-up, the caller, the one place where errors become the
HTTP statuses of API.md, and what the routes declare of those answers in the OpenAPI document.

Only Powertools' public extension points: the JSON body deserializer (size cap, strict JSON), a route
middleware for routes that read a body (JSON only), one exception handler for everything, and a Lambda
handler decorator that normalises the media type before Powertools compares it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader
from pydantic import BaseModel, ConfigDict, Field

from refund_core.errors import (
    BodyTooLarge,
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidSettings,
    LimitReached,
    NotEvidence,
    NotFound,
    PolicyForbids,
    RefundError,
    ServiceBusy,
)
from refund_core.http.body import MAX_BODY_BYTES, NotJson, media_type, read_json_body, sent_as_json
from refund_core.http.identity import Caller, Unauthenticated, caller_from_claims
from refund_core.observability import logger

BEARER_SCHEME = "cognitoBearer"
# An id in a path (a request id, a policy version): printable ASCII, one segment.
PATH_ID_PATTERN = r"^[\x21-\x7e]+$"
PATH_ID_MAX_LENGTH = 128

_STATUS_OF: tuple[tuple[type[RefundError], int], ...] = (
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (BodyTooLarge, 413),
    (PolicyForbids, 422),
    (NotEvidence, 422),
    (LimitReached, 429),
    (ServiceBusy, 503),
    (InvalidInput, 400),
)
_LOCATIONS = {"body", "query", "path", "header", "cookie"}
# The evaluate body's actions (app/inputs.py EvaluateCommand): a field is named without its action's tag.
_ACTIONS = {"assess", "approve", "refuse", "take", "release", "confirmApproval", "askCustomer"}
_PATH_ID = re.compile(PATH_ID_PATTERN)


type ErrorParams = dict[str, str | int]


class FieldError(BaseModel):
    """What is wrong with one field: in English (`message`), and as a stable `code` with its `params` (pydantic's
    error types for a malformed value, the service's own for the rest) for a page that says it in its language."""

    model_config = ConfigDict(extra="forbid")

    field: str
    message: str
    code: str = "invalid"
    params: ErrorParams = Field(default_factory=dict)


class ErrorResponse(BaseModel):
    """Every error the API answers: `errors` names the fields at fault, when fields are; `code` and `params`
    say what `message` says, for a program or a translation."""

    model_config = ConfigDict(extra="forbid")

    message: str
    code: str = "invalid"
    params: ErrorParams = Field(default_factory=dict)
    errors: list[FieldError] = Field(default_factory=list)


# The answers every route may give, whatever it does (API Gateway's authorizer answers 401 before the handler
# in AWS; the handler answers it too, for a call that reaches it without claims).
COMMON_ERRORS = {
    400: "A field or parameter is malformed, missing, of the wrong type or out of range: `errors` names each",
    401: "No identity: the call carried no readable bearer token",
    503: "AWS kept throttling the service through its retries: try again after `Retry-After` seconds",
}
# ... and those of a route that reads a JSON body.
BODY_ERRORS = {
    413: f"The body is over {MAX_BODY_BYTES} bytes",
    415: "The body is not sent as `Content-Type: application/json`",
}


def route_responses(
    status: int,
    model: type[BaseModel],
    description: str,
    errors: Mapping[int, str],
    headers: Mapping[str, str] | None = None,
    *,
    signed_in: bool = True,
) -> dict[int, OpenAPIResponse]:
    """A route's answers for the OpenAPI document: its success with `model` and each of its `errors`
    (status → when) with the ErrorResponse body, `headers` (name → description) being required on success; a
    route that takes callers without a token (`signed_in` False) never answers 401."""
    success: OpenAPIResponse = {
        "description": description,
        "content": {content_types.APPLICATION_JSON: {"model": model}},
    }
    if headers:
        declared: dict[str, OpenAPIResponseHeader] = {}
        for name, text in headers.items():
            # OpenAPI's Header Object has `required`; Powertools' TypedDict leaves it out.
            declared[name] = {"description": text, "schema": {"type": "string"}, "required": True}  # type: ignore[typeddict-unknown-key]
        success["headers"] = declared
    documented = {status: success}
    common = COMMON_ERRORS if signed_in else {code: when for code, when in COMMON_ERRORS.items() if code != 401}
    for code, when in sorted({**common, **errors}.items()):
        documented[code] = {"description": when, "content": {content_types.APPLICATION_JSON: {"model": ErrorResponse}}}
    return documented


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)


def error_response(
    status: int,
    message: str,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
    *,
    code: str,
    params: ErrorParams | None = None,
) -> Response[Any]:
    body: dict[str, Any] = {"message": message, "code": code}
    if params:
        body["params"] = params
    if errors:
        body["errors"] = [error.model_dump() for error in errors]
    return json_response(body, status, headers)


def csv_responses(description: str, errors: Mapping[int, str]) -> dict[int, OpenAPIResponse]:
    """A route that answers a CSV file: its success as text/csv, its errors as route_responses says."""
    documented = route_responses(200, ErrorResponse, description, errors)
    documented[200] = {"description": description, "content": {"text/csv": {"schema": {"type": "string"}}}}
    return documented


def csv_file(text: str, file_name: str) -> Response[str]:
    """The success of a csv_responses route: the CSV text, as a download named `file_name`."""
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        body=text,
        headers={"Content-Disposition": f'attachment; filename="{file_name}"'},
    )


def resource(model: BaseModel, status_code: int = 200, headers: dict[str, str] | None = None) -> Response[Any]:
    return json_response(model.model_dump(mode="json", by_alias=True), status_code, headers)


# ---- errors ----------------------------------------------------------------------------------------------


def _field_of(error: dict[str, Any]) -> str:
    """The caller's name for the field at fault: `orderId`, `amount`, `status` (never `body.approve.x`)."""
    if error.get("type") in {"union_tag_invalid", "union_tag_not_found"}:
        return "action"
    parts = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
    if len(parts) == 2 and parts[0] == "header":
        # Powertools reports headers lower-cased: name it as API.md and the other errors do (Idempotency-Key).
        return "-".join(word.capitalize() for word in parts[1].split("-"))
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


def _validation_params(error: dict[str, Any]) -> ErrorParams:
    """pydantic's context of the error (min_length, le, pattern...): the plain values a sentence can name."""
    context = error.get("ctx") or {}
    return {
        name: value if isinstance(value, int) and not isinstance(value, bool) else str(value)
        for name, value in context.items()
        if isinstance(value, str | int | float | Decimal) and not isinstance(value, bool)
    }


def _invalid_request(error: RequestValidationError) -> Response[Any]:
    raw_errors = error.errors()
    # Powertools reports a handler's answer that breaks its own model this way too: our fault, not the caller's.
    if any(tuple(raw.get("loc", ()))[:1] == ("response",) for raw in raw_errors):
        logger.error("a response broke its declared model", errors=[raw.get("type") for raw in raw_errors])
        return _internal_error()
    details = []
    for raw in raw_errors:
        field = "body" if raw.get("type") == "json_invalid" else _field_of(raw)
        code = str(raw.get("type") or "invalid")
        message = _validation_message(raw, field)
        details.append(FieldError(field=field, message=message, code=code, params=_validation_params(raw)))
    fields = sorted({detail.field for detail in details})
    return error_response(400, f"invalid request: {', '.join(fields)}", details, code="invalid_request")


def _internal_error() -> Response[Any]:
    return error_response(500, "internal error; the request was not completed", code="internal")


def _no_route(app: APIGatewayRestResolver) -> Response[Any]:
    """No route matched. Powertools matches path parameters against URI characters only, so the decoded path
    of a request id holding `¢` or a control character matches none: that id is named (400); any other path
    is not found (404), as is a decoded `/` in an id (one segment too many)."""
    event = app.current_event
    for name, value in (event.path_parameters or {}).items():
        if not _PATH_ID.fullmatch(value) or len(value) > PATH_ID_MAX_LENGTH:
            message = f"{name} is 1 to {PATH_ID_MAX_LENGTH} printable ASCII characters"
            invalid = FieldError(field=name, message=message, code="path_id", params={"max_length": PATH_ID_MAX_LENGTH})
            return error_response(400, f"invalid request: {name}", [invalid], code="invalid_request")
    return error_response(404, f"nothing found at {event.path}", code="not_found")


def _answer(app: APIGatewayRestResolver, error: Exception, *, signed_in: bool = True) -> Response[Any]:
    """Every error of every route, in one place. No identity is all a call without one is told (on a route that
    takes callers without a token, a webhook's, the error itself is)."""
    try:
        if signed_in:
            current_caller(app)
    except Unauthenticated as unauthenticated:
        return error_response(401, unauthenticated.message, code="unauthenticated")
    headers = app.current_event.headers
    body_unreadable = (
        isinstance(error, RequestUnsupportedContentType | NotJson)
        # A form or multipart body that Powertools read into the model's fields, which failed...
        or (
            isinstance(error, RequestValidationError)
            and not sent_as_json(headers)
            and any(tuple(raw.get("loc", ()))[:1] == ("body",) for raw in error.errors())
        )
        # ... or a multipart body without a boundary, which Powertools cannot read at all.
        or (isinstance(error, ValueError) and media_type(headers) == "multipart/form-data")
    )
    if body_unreadable:
        return error_response(
            415,
            "send the body as JSON with Content-Type: application/json",
            [FieldError(field="Content-Type", message="must be application/json", code="not_json")],
            code="not_json",
        )
    if isinstance(error, RequestValidationError):
        return _invalid_request(error)
    if isinstance(error, NotFoundError):
        return _no_route(app)
    if isinstance(error, RefundError):
        status = next((code for kind, code in _STATUS_OF if isinstance(error, kind)), 400)
        errors = (
            [FieldError(field=error.field, message=error.message, code=error.code, params=error.params)]
            if error.field
            else []
        )
        if isinstance(error, InvalidSettings):
            errors = [
                FieldError(field=name, message=message, code="invalid_setting") for name, message in error.problems
            ]
        retry = {"Retry-After": str(error.retry_after_seconds)} if error.retry_after_seconds else None
        return error_response(status, error.message, errors, retry, code=error.code, params=error.params)
    logger.exception("unexpected error", exc_info=error)
    return _internal_error()


def bearer_scheme() -> Any:
    """The bearer scheme of the OpenAPI document. Made where the document is made, not in Lambda: Powertools'
    OpenAPI models cost about 200 ms of a cold start that no invocation needs."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer  # noqa: PLC0415

    return HTTPBearer(
        bearerFormat="JWT",
        description="A Cognito ID token; locally, any token from `refund-local token USER [--reviewer]`.",
    )


def _cors(allowed_origin: str | None) -> CORSConfig | None:
    if allowed_origin is None:
        return None
    return CORSConfig(
        allow_origin=allowed_origin,
        allow_headers=["Idempotency-Key"],
        expose_headers=["Location", "Retry-After"],
        max_age=600,
    )


def new_api(allowed_origin: str | None = None, *, signed_in: bool = True) -> APIGatewayRestResolver:
    """A REST resolver with pydantic validation, the strict JSON body reader, the API's error mapping and CORS
    for `allowed_origin` alone (the web app's; none where it is the API's own origin, as locally). `signed_in`
    False: its routes take callers without a token (the processor's webhooks), and say what went wrong."""
    app = APIGatewayRestResolver(
        enable_validation=True, json_body_deserializer=read_json_body, cors=_cors(allowed_origin)
    )

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def answer(error: Exception) -> Response[Any]:
        return _answer(app, error, signed_in=signed_in)

    return app


def only_parameters(app: APIGatewayRestResolver, known: tuple[str, ...]) -> None:
    """A query parameter the route does not take is a 400 naming it (a misspelt filter would be ignored)."""
    given = app.current_event.multi_value_query_string_parameters or {}
    for name in given:
        if name not in known:
            raise InvalidInput(
                f"{name} is not a parameter of this route (it takes {', '.join(known)})",
                field=name,
                code="unknown_parameter",
            )


def current_caller(app: APIGatewayRestResolver) -> Caller:
    claims = app.current_event.request_context.authorizer.claims
    return caller_from_claims(claims)
