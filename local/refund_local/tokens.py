"""Bearer tokens for the local runner: unsigned JWTs (`alg: none`) whose payload becomes the authorizer
claims. Nothing is verified, neither signature nor expiry: local only, like other offline emulators."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any


class UnreadableToken(ValueError):
    """No bearer token, or one whose payload is not a JSON object: API Gateway's authorizer answers 401."""


def _encode(part: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part, separators=(",", ":")).encode()).rstrip(b"=").decode()


def make_token(claims: Mapping[str, str]) -> str:
    """`header.payload.` with an empty signature, as RFC 7519 writes an unsecured JWT."""
    return f"{_encode({'alg': 'none', 'typ': 'JWT'})}.{_encode(claims)}."


def _claim_text(value: Any) -> str:
    """A claim as a REST API's Cognito authorizer hands it over: always a string, lists joined by commas."""
    if isinstance(value, list):
        return ",".join(_claim_text(item) for item in value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        return value
    return json.dumps(value)


def claims_from_authorization(header: str | None) -> dict[str, str]:
    """The claims of an `Authorization: Bearer <JWT>` header value."""
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UnreadableToken("send Authorization: Bearer <token> (make one with: refund-local token USER)")
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise UnreadableToken("the bearer token is not a JWT (header.payload.signature)")
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error) as error:
        raise UnreadableToken("the bearer token's payload is not base64url-encoded JSON") from error
    if not isinstance(payload, dict) or not payload:
        raise UnreadableToken("the bearer token's payload is not a JSON object of claims")
    return {str(name): _claim_text(value) for name, value in payload.items()}
