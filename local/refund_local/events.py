"""API Gateway REST proxy events, shaped as `sam local start-api` and API Gateway build them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from refund_core.http.identity import FINANCE_GROUP, POLICY_OWNERS_GROUP, REVIEWERS_GROUP, SUPERVISORS_GROUP


def claims_for(
    username: str,
    *,
    reviewer: bool = False,
    supervisor: bool = False,
    policy_owner: bool = False,
    finance: bool = False,
    email: str | None = None,
) -> dict[str, str]:
    """Cognito claims as a REST API's authorizer passes them: every value a string, lists joined by commas."""
    claims = {"sub": str(uuid.uuid5(uuid.NAMESPACE_URL, username)), "cognito:username": username}
    claims["email"] = email or f"{username}@example.com"
    # Cognito says whether the address is verified; the pool verifies every address (template.yaml).
    claims["email_verified"] = "true"
    groups = [
        group
        for group, member in (
            (REVIEWERS_GROUP, reviewer),
            (SUPERVISORS_GROUP, supervisor),
            (POLICY_OWNERS_GROUP, policy_owner),
            (FINANCE_GROUP, finance),
        )
        if member
    ]
    if groups:
        claims["cognito:groups"] = ",".join(groups)
    return claims


def _multi(values: Mapping[str, str | list[str]]) -> dict[str, list[str]]:
    return {name: [value] if isinstance(value, str) else list(value) for name, value in values.items()}


def api_event(
    method: str,
    resource: str,
    path: str,
    *,
    path_parameters: dict[str, str] | None = None,
    query: Mapping[str, str | list[str]] | None = None,
    headers: Mapping[str, str | list[str]] | None = None,
    body: str | dict[str, Any] | None = None,
    claims: dict[str, str] | None = None,
) -> dict[str, Any]:
    """`query` and `headers` values may be lists (a repeated name): the single-value maps then hold the last
    value, as API Gateway REST does."""
    now = datetime.now(UTC)
    text = json.dumps(body) if isinstance(body, dict) else body
    multi_headers = _multi(headers or {})
    if not any(name.lower() == "content-type" for name in multi_headers):
        multi_headers = {"Content-Type": ["application/json"], **multi_headers}
    all_headers = {name: values[-1] for name, values in multi_headers.items()}
    multi_query = _multi(query or {})
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/v1{path}",
            "stage": "v1",
            "requestId": str(uuid.uuid4()),
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "identity": {"sourceIp": "127.0.0.1", "userAgent": all_headers.get("User-Agent", "")},
            "authorizer": {"claims": claims} if claims is not None else None,
            "accountId": "123456789012",
            "apiId": "local",
            "protocol": "HTTP/1.1",
        },
        "body": text,
        "isBase64Encoded": False,
    }


def request_event(
    method: str,
    request_id: str,
    suffix: str = "",
    *,
    body: str | dict[str, Any] | None = None,
    claims: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The event of a route on one request: `/refund-requests/{requestId}` and what follows it (`suffix`:
    `/evaluate`, `/cancel`...)."""
    return api_event(
        method,
        "/refund-requests/{requestId}" + suffix,
        f"/refund-requests/{request_id}{suffix}",
        path_parameters={"requestId": request_id},
        body=body,
        claims=claims,
    )
