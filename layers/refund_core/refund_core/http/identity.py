"""The caller, from API Gateway's Cognito authorizer claims and nowhere else."""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Any

from pydantic import BaseModel, ConfigDict

from refund_core.errors import RefundError

REVIEWERS_GROUP = "refund-reviewers"
SUPERVISORS_GROUP = "refund-supervisors"
POLICY_OWNERS_GROUP = "refund-policy-owners"
FINANCE_GROUP = "refund-finance"
# Printable, one line, and text DynamoDB and email headers can carry (no lone surrogate).
_PLAIN = re.compile(r"^[^\x00-\x1f\x7f-\x9f\ud800-\udfff]+$")
_MAX_USERNAME = 128
_MAX_ADDRESS = 254


class Unauthenticated(RefundError):
    """No usable identity: API Gateway let through a call without claims, or with a username no account has
    (only possible locally)."""


class Caller(BaseModel):
    model_config = ConfigDict(frozen=True)

    username: str
    # The token's address, only when the token says it is verified (API.md "The customer's email address").
    email: str | None
    groups: frozenset[str]

    @property
    def is_reviewer(self) -> bool:
        """A reviewer, or a supervisor (who may do all that a reviewer may)."""
        return REVIEWERS_GROUP in self.groups or self.is_supervisor

    @property
    def is_supervisor(self) -> bool:
        return SUPERVISORS_GROUP in self.groups

    @property
    def is_policy_owner(self) -> bool:
        return POLICY_OWNERS_GROUP in self.groups

    @property
    def reads_every_request(self) -> bool:
        """Staff who see any customer's request whole: reviewers and supervisors, and finance (whose payouts
        the requests are)."""
        return self.is_reviewer or self.is_finance

    @property
    def is_finance(self) -> bool:
        """The finance team: pays by hand what no integration pays, and sees every payout (PAYOUTS.md)."""
        return FINANCE_GROUP in self.groups


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


def _claimed_true(value: Any) -> bool:
    """A REST API's authorizer hands booleans over as strings."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def mail_address(value: Any) -> str | None:
    """`value` as an address mail can be sent to (`name@domain.tld`, one line, no surrogate), else None."""
    if not isinstance(value, str) or len(value) > _MAX_ADDRESS or not _PLAIN.fullmatch(value):
        return None
    try:
        address = Address(addr_spec=value)
    except (HeaderParseError, ValueError, IndexError):
        return None
    domain = address.domain
    if not address.username or "." not in domain or domain.startswith(".") or domain.endswith("."):
        return None
    return address.addr_spec


def caller_from_claims(claims: dict[str, Any] | None) -> Caller:
    username = (claims or {}).get("cognito:username") or (claims or {}).get("username")
    if not claims or not isinstance(username, str) or not username:
        raise Unauthenticated("authentication required")
    if len(username) > _MAX_USERNAME or not _PLAIN.fullmatch(username):
        raise Unauthenticated("the token's username is not one an account can have")
    verified = _claimed_true(claims.get("email_verified"))
    return Caller(
        username=username,
        email=mail_address(claims.get("email")) if verified else None,
        groups=parse_groups(claims.get("cognito:groups")),
    )
