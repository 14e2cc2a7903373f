"""What every API function shares: the resolver's set-up, the caller, the one place where domain errors
become the HTTP statuses of API.md, and what the routes declare of those answers in the OpenAPI document."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader
from aws_lambda_powertools.event_handler.types import EventHandlerInstance
from pydantic import BaseModel, ConfigDict, Field

from refund_core.errors import (
    BodyTooLarge,
    Conflict,
    InvalidInput,
    NotAReviewer,
    NotFound,
    PolicyForbids,
    RefundError,
)
from refund_core.identity import Caller, Unauthenticated, caller_from_claims
from refund_core.models import RefundRequest
from refund_core.observability import logger

# API Gateway passes bodies of up to 10 MB: the handlers refuse more than 32 KiB before parsing anything. The
# largest valid body is about 27 KB: a 2,000-character reason and two 128-character ids, every character
# astral and escaped as a surrogate pair (`\ud83d\ude00`, 12 bytes). The local runner's own cap is 64 KiB.
MAX_BODY_BYTES = 32 * 1024
# Every body of this API is one flat object; deeper nesting only costs parsing (and, past Python's recursion
# limit, would crash the parser).
MAX_JSON_DEPTH = 32
# Python refuses to read an integer of more than 4,300 digits (a ValueError, not a JSON error).
MAX_INTEGER_DIGITS = 64
BEARER_SCHEME = "cognitoBearer"

_STATUS_OF: tuple[tuple[type[RefundError], int], ...] = (
    (Unauthenticated, 401),
    (NotAReviewer, 403),
    (NotFound, 404),
    (Conflict, 409),
    (BodyTooLarge, 413),
    (PolicyForbids, 422),
    (InvalidInput, 400),
)
_LOCATIONS = {"body", "query", "path", "header", "cookie"}
_ACTIONS = {"assess", "approve", "refuse"}
# What nesting depends on: quotes, brackets and braces, and escape pairs (`\"` does not end a string).
_JSON_STRUCTURE = re.compile(r'\\.|["\[\]{}]', re.DOTALL)


class FieldError(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str
    message: str


class ErrorResponse(BaseModel):
    """Every error the API answers: `errors` names the fields at fault, when fields are."""

    model_config = ConfigDict(extra="forbid")

    message: str
    errors: list[FieldError] = Field(default_factory=list)


# The answers every route may give, whatever it does (API Gateway's authorizer answers 401 before the handler
# in AWS; the handler answers it too, for a call that reaches it without claims).
COMMON_ERRORS = {
    400: "A field or parameter is malformed, missing, of the wrong type or out of range: `errors` names each",
    401: "No identity: the call carried no readable bearer token",
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
) -> dict[int, OpenAPIResponse]:
    """A route's answers for the OpenAPI document: its success with `model` and each of its `errors`
    (status → when) with the ErrorResponse body, `headers` (name → description) being required on success."""
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
    for code, when in sorted({**COMMON_ERRORS, **errors}.items()):
        documented[code] = {"description": when, "content": {content_types.APPLICATION_JSON: {"model": ErrorResponse}}}
    return documented


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


def _nesting(text: str) -> int:
    """How deep the JSON text nests arrays and objects (brackets inside strings do not count). One pass: a
    pattern for whole strings would backtrack quadratically over a body of escaped quotes."""
    depth = deepest = 0
    in_string = False
    for match in _JSON_STRUCTURE.finditer(text):
        mark = match.group()
        if mark == '"':
            in_string = not in_string
        elif in_string or mark[0] == "\\":
            continue
        elif mark in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys: the caller meant one of them, and we cannot tell which.
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise InvalidInput(f"{key} appears more than once in the body", field=key)
        seen.add(key)
    return dict(pairs)


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise InvalidInput(f"the body holds an integer of more than {MAX_INTEGER_DIGITS} digits", field="body")
    return int(digits)


def read_json_body(text: str) -> dict[str, Any]:
    """The body's JSON object, read strictly: no key twice, no absurd nesting or integer. Malformed JSON raises
    json.JSONDecodeError, which Powertools answers as a validation error (400)."""
    if _nesting(text) > MAX_JSON_DEPTH:
        raise InvalidInput(f"the body nests arrays or objects deeper than {MAX_JSON_DEPTH} levels", field="body")
    body = json.loads(text, object_pairs_hook=_unique_keys, parse_int=_integer)
    # Every body of this API is an object. Powertools would take the first item of an array for the model, so
    # that `[{"action": "approve"}, "anything"]` approved.
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    return body


class _RawRequestChecks(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, which runs first on every route, preceded by what must be checked before
    anything is parsed: the size of the body and that it is JSON at all (Powertools would read a form, and
    fails with a ValueError on a multipart type without a boundary)."""

    def handler(self, app: EventHandlerInstance, next_middleware: NextMiddleware) -> Response[Any]:
        if app.context["_route"].dependant.body_params:
            size = len((app.current_event.body or "").encode("utf-8", "surrogatepass"))
            if size > MAX_BODY_BYTES:
                raise BodyTooLarge(f"the body is {size} bytes; the API takes at most {MAX_BODY_BYTES}", field="body")
            content_type = (app.current_event.headers.get("content-type") or "").strip()
            if content_type and not content_type.startswith(content_types.APPLICATION_JSON):
                raise RequestUnsupportedContentType(f"unsupported content type {content_type}", errors=[])
        response: Response[Any] = super().handler(app, next_middleware)
        return response


class _Resolver(APIGatewayRestResolver):
    def __init__(self) -> None:
        super().__init__(enable_validation=True, json_body_deserializer=read_json_body)
        # Powertools keeps here the validation middleware it runs first on every route.
        self._request_validation_middleware = _RawRequestChecks()  # type: ignore[no-untyped-call]  # Powertools' is untyped

    @staticmethod
    def _compile_regex(rule: str, base_regex: str = "^{}/*$") -> re.Pattern[str]:
        """A path parameter is any one path segment. Powertools' own pattern takes URI characters only, so that
        a request id with `"` or `¢` in it (API Gateway decodes the path) matched no route; with this, the
        parameter's validation names it (400)."""
        return re.compile(base_regex.format(re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", rule)))


def describe_security(app: APIGatewayRestResolver) -> None:
    """Adds the bearer scheme to the app's OpenAPI document. Called where the document is made, not in
    Lambda: Powertools' OpenAPI models cost about 200 ms of a cold start that no invocation needs."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer  # noqa: PLC0415

    app.configure_openapi(
        security_schemes={
            BEARER_SCHEME: HTTPBearer(
                bearerFormat="JWT",
                description="A Cognito ID token; locally, any token from `refund-local token USER [--reviewer]`.",
            )
        },
        security=[{BEARER_SCHEME: []}],
    )


def new_api() -> APIGatewayRestResolver:
    """A REST resolver with pydantic validation and the API's error mapping."""
    app = _Resolver()

    def anonymous() -> Response[Any] | None:
        """401 for a call without identity: whatever else is wrong with it, that is all it is told."""
        try:
            current_caller(app)
        except Unauthenticated as error:
            return error_response(401, error.message)
        return None

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def invalid_request(error: RequestValidationError) -> Response[Any]:
        raw_errors = error.errors()
        # Powertools reports a handler's answer that breaks its own model this way too: our fault, not the caller's.
        if any(tuple(raw.get("loc", ()))[:1] == ("response",) for raw in raw_errors):
            logger.error("a response broke its declared model", errors=[raw.get("type") for raw in raw_errors])
            return error_response(500, "internal error; the request was not completed")
        if (unauthenticated := anonymous()) is not None:
            return unauthenticated
        details = []
        for raw in raw_errors:
            field = "body" if raw.get("type") == "json_invalid" else _field_of(raw)
            details.append({"field": field, "message": _validation_message(raw, field)})
        fields = sorted({detail["field"] for detail in details})
        return error_response(400, f"invalid request: {', '.join(fields)}", details)

    @app.exception_handler(RefundError)  # type: ignore[untyped-decorator]
    def refund_error(error: RefundError) -> Response[Any]:
        if (unauthenticated := anonymous()) is not None:
            return unauthenticated
        status = next((code for kind, code in _STATUS_OF if isinstance(error, kind)), 400)
        errors = [{"field": error.field, "message": error.message}] if error.field else []
        return error_response(status, error.message, errors)

    @app.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]
    def unsupported_content_type(error: RequestUnsupportedContentType) -> Response[Any]:
        if (unauthenticated := anonymous()) is not None:
            return unauthenticated
        return error_response(
            415,
            "send the body as JSON with Content-Type: application/json",
            [{"field": "Content-Type", "message": "must be application/json"}],
        )

    @app.not_found
    def no_route(error: NotFoundError) -> Response[Any]:
        # Without this, the catch-all below would answer 500: a decoded `/` in a request id, say, makes a path
        # of no route.
        if (unauthenticated := anonymous()) is not None:
            return unauthenticated
        return error_response(404, f"nothing found at {app.current_event.path}")

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def unexpected(error: Exception) -> Response[Any]:
        logger.exception("unexpected error", exc_info=error)
        return error_response(500, "internal error; the request was not completed")

    return app


def current_caller(app: APIGatewayRestResolver) -> Caller:
    claims = app.current_event.request_context.authorizer.claims
    return caller_from_claims(claims)


def resource(request: RefundRequest, status_code: int = 200, headers: dict[str, str] | None = None) -> Response[Any]:
    return json_response(request.model_dump(mode="json", by_alias=True), status_code, headers)
