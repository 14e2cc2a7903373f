"""The caller, from API Gateway's Cognito authorizer claims and nowhere else."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from refund_core.errors import RefundError

REVIEWERS_GROUP = "refund-reviewers"


class Unauthenticated(RefundError):
    """No claims: API Gateway let through a call without an identity (only possible locally)."""


class Caller(BaseModel):
    model_config = ConfigDict(frozen=True)

    username: str
    email: str | None
    groups: frozenset[str]

    @property
    def is_reviewer(self) -> bool:
        return REVIEWERS_GROUP in self.groups


def parse_groups(value: Any) -> frozenset[str]:
    """REST APIs pass `cognito:groups` as "a,b", HTTP APIs as "[a b]"; a list is taken as it is."""
    if isinstance(value, list):
        return frozenset(str(group) for group in value if group)
    if not isinstance(value, str):
        return frozenset()
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        return frozenset(part for part in text[1:-1].replace(",", " ").split() if part)
    return frozenset(part.strip() for part in text.split(",") if part.strip())


def caller_from_claims(claims: dict[str, Any] | None) -> Caller:
    username = (claims or {}).get("cognito:username") or (claims or {}).get("username")
    if not claims or not isinstance(username, str) or not username:
        raise Unauthenticated("authentication required")
    email = claims.get("email")
    return Caller(
        username=username,
        email=email if isinstance(email, str) else None,
        groups=parse_groups(claims.get("cognito:groups")),
    )
