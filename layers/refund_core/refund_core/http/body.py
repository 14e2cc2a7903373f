"""Reading a request's body as every API function does: JSON only, strictly (a size cap, no key twice, no
absurd integer, an object), and the media type compared as RFC 9110 says (case-insensitively)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.middleware_factory import lambda_handler_decorator

from refund_core.errors import BodyTooLarge, InvalidInput, RefundError

# API Gateway passes bodies of up to 10 MB: the handlers refuse more than 32 KiB before parsing anything. The
# largest valid body is about 27 KB: a 2,000-character reason and two 128-character ids, every character
# astral and escaped as a surrogate pair (`\ud83d\ude00`, 12 bytes). The local runner's own cap is 64 KiB.
MAX_BODY_BYTES = 32 * 1024
# Python refuses to read an integer of more than 4,300 digits (a ValueError, not a JSON error).
MAX_INTEGER_DIGITS = 64


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys: the caller meant one of them, and we cannot tell which.
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise InvalidInput(f"{key} appears more than once in the body", field=key, code="duplicate_key")
        seen.add(key)
    return dict(pairs)


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise InvalidInput(
            f"the body holds an integer of more than {MAX_INTEGER_DIGITS} digits",
            field="body",
            code="number_too_long",
            params={"digits": MAX_INTEGER_DIGITS},
        )
    return int(digits)


def read_json_body(text: str) -> dict[str, Any]:
    """The body's JSON object, read strictly: at most MAX_BODY_BYTES, no key twice, no absurd integer.
    Malformed JSON raises json.JSONDecodeError, which Powertools answers as a validation error (400)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise BodyTooLarge(f"the body is {size} bytes; the API takes at most {MAX_BODY_BYTES}", field="body")
    try:
        body = json.loads(text, object_pairs_hook=_unique_keys, parse_int=_integer)
    except RecursionError as error:
        raise InvalidInput(
            "the body nests arrays or objects deeper than the API reads", field="body", code="too_deep"
        ) from error
    # Every body of this API is an object. Powertools would take the first item of an array for the model, so
    # that `[{"action": "approve"}, "anything"]` approved.
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", field="body", code="not_an_object")
    return body


def media_type(headers: Mapping[str, str]) -> str:
    """The Content-Type's media type, lower-cased, without parameters ("" when none is sent)."""
    value = next((value for name, value in headers.items() if name.lower() == "content-type"), "")
    return value.split(";", 1)[0].strip().lower()


def sent_as_json(headers: Mapping[str, str]) -> bool:
    # No Content-Type is taken as JSON, as Powertools does.
    return media_type(headers) in {"", content_types.APPLICATION_JSON}


class NotJson(RefundError):
    """A body sent as something else than application/json (a form, multipart, text...)."""


def json_body_only(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """The middleware of every route that reads a body: Powertools would also read a form or a multipart
    body into the model's fields."""
    if not sent_as_json(app.current_event.headers):
        raise NotJson("send the body as JSON with Content-Type: application/json", field="Content-Type")
    return next_middleware(app)


@lambda_handler_decorator
def media_type_lower_cased(
    handler: Callable[[dict[str, Any], Any], dict[str, Any]], event: dict[str, Any], context: Any
) -> dict[str, Any]:
    """Media types are case-insensitive (RFC 9110); Powertools compares `application/json` case-sensitively,
    so `APPLICATION/JSON` would be refused. The header is lower-cased before the resolver reads it."""
    headers = event.get("headers") or {}
    for name, value in headers.items():
        if name.lower() == "content-type" and isinstance(value, str):
            headers[name] = value.lower()
    for name, values in (event.get("multiValueHeaders") or {}).items():
        if name.lower() == "content-type" and isinstance(values, list):
            event["multiValueHeaders"][name] = [str(item).lower() for item in values]
    return handler(event, context)
