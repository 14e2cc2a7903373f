"""Unsigned bearer tokens: what `refund-local token` prints and how the server reads them as claims."""

import base64
import json

import pytest

from refund_local.cli import main
from refund_local.events import claims_for
from refund_local.tokens import UnreadableToken, claims_from_authorization, make_token


def encoded(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()


def test_a_token_carries_its_claims_as_a_rest_api_authorizer_hands_them_over() -> None:
    claims = claims_for("rita", reviewer=True, email="rita@corp.example")
    assert claims_from_authorization(f"Bearer {make_token(claims)}") == claims
    header = json.loads(base64.urlsafe_b64decode(make_token(claims).split(".")[0] + "=="))
    assert header == {"alg": "none", "typ": "JWT"}


def test_every_claim_value_becomes_a_string() -> None:
    payload = {"cognito:username": "a", "cognito:groups": ["refund-reviewers", "b"], "exp": 17, "email_verified": True}
    claims = claims_from_authorization(f"bearer {encoded({'alg': 'none'})}.{encoded(payload)}.sig")
    assert claims == {
        "cognito:username": "a",
        "cognito:groups": "refund-reviewers,b",
        "exp": "17",
        "email_verified": "true",
    }


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer   ",
        "Basic dTpw",
        "Bearer abc",
        "Bearer a.!!!.c",
        f"Bearer a.{encoded([1])}.c",
        f"Bearer a.{encoded({})}.",
    ],
)
def test_no_or_unreadable_token_is_refused(header: str | None) -> None:
    with pytest.raises(UnreadableToken):
        claims_from_authorization(header)


def test_the_token_command_prints_a_reviewer_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "rita", "--reviewer", "--email", "r@example.com"]) == 0
    claims = claims_from_authorization("Bearer " + capsys.readouterr().out.strip())
    assert claims["cognito:username"] == "rita"
    assert claims["email"] == "r@example.com"
    assert claims["cognito:groups"] == "refund-reviewers"
    assert claims["sub"]
